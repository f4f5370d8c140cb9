/** IPv4 address and subnet arithmetic for network validation. Pure. */

/** The address as an unsigned 32-bit number, or undefined when it is not dotted-quad IPv4. */
export function ipv4ToNumber(address: string): number | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export type Ipv4Subnet = {
  /** Network address as a number (host bits cleared). */
  readonly network: number;
  readonly prefixLength: number;
};

/** Parses "10.0.0.0/24"; reason (non-empty) when invalid, e.g. host bits set. */
export function parseCidr(cidr: string): { readonly subnet?: Ipv4Subnet; readonly reason: string } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  const base = m ? ipv4ToNumber(m[1]) : undefined;
  const prefixLength = m ? Number(m[2]) : NaN;
  if (!m || base === undefined || prefixLength > 32) {
    return { reason: `'${cidr}' is not an IPv4 subnet: write <address>/<prefix length>, e.g. 10.0.0.0/24` };
  }
  const network = base - (base % 2 ** (32 - prefixLength));
  if (network !== base) {
    return { reason: `'${cidr}' has host bits set: the subnet is ${numberToIpv4(network)}/${prefixLength}` };
  }
  return { subnet: { network, prefixLength }, reason: "" };
}

export function inSubnet(address: number, subnet: Ipv4Subnet): boolean {
  const size = 2 ** (32 - subnet.prefixLength);
  return address >= subnet.network && address < subnet.network + size;
}

/** True for the subnet's network and broadcast addresses (unusable by a host below /31). */
export function isSubnetEdge(address: number, subnet: Ipv4Subnet): boolean {
  if (subnet.prefixLength >= 31) return false;
  return address === subnet.network || address === subnet.network + 2 ** (32 - subnet.prefixLength) - 1;
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}
