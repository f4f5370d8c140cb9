/**
 * Sizes and durations as the stack config writes them ("256M", "2s"), converted to the numbers a
 * JWT carries. Sizes follow nats-server's config parser, so "1G" means the same in an account
 * JWT as in `jetstream.max_file`: K/M/G/T are powers of 1000, KB/KiB/MB/... powers of 1024.
 */

const SIZE = /^(\d+)\s*(k|kb|ki|kib|m|mb|mi|mib|g|gb|gi|gib|t|tb|ti|tib)?$/i;
const SIZE_FACTOR: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3, kb: 1024, ki: 1024, kib: 1024,
  m: 1e6, mb: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2,
  g: 1e9, gb: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3,
  t: 1e12, tb: 1024 ** 4, ti: 1024 ** 4, tib: 1024 ** 4,
};

/**
 * Bytes of a size ("256M", "2GB", 1048576, -1 for unlimited), or a reason it is not one.
 */
export function parseByteSize(value: unknown): number | string {
  if (value === -1 || value === "-1") return -1;
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : `${value} is not a whole number of bytes (or -1 for unlimited)`;
  }
  if (typeof value !== "string") return `${JSON.stringify(value)} is not a size: write e.g. 256M, 2G, 1GB, or -1 for unlimited`;
  const m = SIZE.exec(value.trim());
  if (!m) return `'${value}' is not a size: write a whole number with K, M, G or T (powers of 1000) or KB, MB, GB, TB (powers of 1024), e.g. 2G, or -1 for unlimited`;
  return Number(m[1]) * SIZE_FACTOR[(m[2] ?? "").toLowerCase()];
}

const DURATION = /^(\d+)(ms|s|m|h)$/;
const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration ("500ms", "2s", "5m", "1h"), or a reason it is not one. */
export function parseDurationMs(value: unknown): number | string {
  if (typeof value !== "string") return `${JSON.stringify(value)} is not a duration: write e.g. 500ms, 2s, 5m or 1h`;
  const m = DURATION.exec(value.trim());
  if (!m) return `'${value}' is not a duration: write a whole number with ms, s, m or h, e.g. 2s`;
  return Number(m[1]) * DURATION_MS[m[2]];
}
