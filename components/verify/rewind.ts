/**
 * Sequence rewind, found (docs/durability.md): an aggregate's source remembers the last leaf
 * sequence it stored (`sources[].seq` of STREAM.INFO) and asks the leaf only for later ones. A
 * leaf stream that comes back shorter — a lost tail, a restored backup — hands those numbers out
 * again, and the hub silently skips the new events behind them. Found by comparing the source's
 * last sequence with the leaf's last one, and the event the hub stored for it with the event the
 * leaf holds there now (message id, else subject and bytes). The repair starts a fresh source at
 * the first leaf sequence whose event the aggregate does not hold: that is found here too.
 *
 * No I/O of its own: it reads messages through the readers it is handed (probe.ts passes real ones).
 */

/** A stored message as compared here. */
export type StoredEvent = {
  /** Sequence in the stream it was read from. */
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  /** `Nats-Msg-Id`, when the publisher set one. */
  readonly msgId?: string;
  /** An aggregate's copy: which source it came from and the leaf sequence (`Nats-Stream-Source`). */
  readonly source?: { readonly indexName: string; readonly seq: number };
};

/** Reads the first message at or after `seq` (undefined past the end). */
export type Reader = (seq: number) => Promise<StoredEvent | undefined>;

/** A source as the aggregate's config holds it. */
export type SourceConfig = {
  readonly name: string;
  readonly external?: { readonly api?: string };
  readonly filter_subject?: string;
  readonly subject_transforms?: readonly { readonly src?: string; readonly dest?: string }[];
  readonly opt_start_seq?: number;
};

const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** nats-server's getHash: the first 8 bytes of SHA-256, each as a base-62 digit. `sha256` is injected (no node:crypto import here). */
export function serverHash(value: string, sha256: (s: string) => Uint8Array): string {
  return Array.from(sha256(value).slice(0, 8), (b) => DIGITS[b % 62]).join("");
}

/** The source's index name as nats-server composes it (StreamSource.composeIName): what `Nats-Stream-Source` starts with. */
export function sourceIndexName(s: SourceConfig, sha256: (s: string) => Uint8Array): string {
  const name = s.external?.api ? `${s.name}:${serverHash(s.external.api, sha256)}` : s.name;
  if (!s.subject_transforms?.length) return `${name} ${s.filter_subject || ">"} >`;
  const src = s.subject_transforms.map((t) => t.src || ">").join("\f");
  const dest = s.subject_transforms.map((t) => t.dest || ">").join("\f");
  return `${name} ${src} ${dest}`;
}

/** `Nats-Stream-Source: <name:hash> <seq> <filter> <dest> <subject> [<ident>]` → index name and leaf sequence. */
export function parseStreamSource(header: string | undefined): { indexName: string; seq: number } | undefined {
  if (!header) return undefined;
  const f = header.split(" ");
  if (f.length < 4) return undefined;
  const seq = Number(f[1]);
  return Number.isSafeInteger(seq) ? { indexName: `${f[0]} ${f[2]} ${f[3]}`, seq } : undefined;
}

/** The same event: same message id when either has one, else same subject and bytes. */
export function sameEvent(a: StoredEvent, b: StoredEvent): boolean {
  if (a.msgId || b.msgId) return a.msgId === b.msgId;
  return a.subject === b.subject && a.data.length === b.data.length && a.data.every((x, i) => x === b.data[i]);
}

/** Messages a reader may skip over to find one source's copies before giving up. */
export const SCAN_LIMIT = 20_000;

/** The first aggregate message at or after `from` (and not past `to`) that came from `indexName`. */
async function firstCopyFrom(readAgg: Reader, indexName: string, from: number, to: number): Promise<StoredEvent | undefined> {
  let seq = from;
  for (let scanned = 0; seq <= to; scanned++) {
    if (scanned > SCAN_LIMIT) throw new Error(`more than ${SCAN_LIMIT} messages of other sources between aggregate seq ${from} and ${seq}`);
    const m = await readAgg(seq);
    if (!m || m.seq > to) return undefined;
    if (m.source?.indexName === indexName) return m;
    seq = m.seq + 1;
  }
  return undefined;
}

/**
 * The aggregate's copy of leaf sequence `leafSeq` from source `indexName`, by binary search over
 * the aggregate's sequences `[first, last]`: one source's copies are stored in leaf order.
 */
export async function aggregateCopy(readAgg: Reader, indexName: string, first: number, last: number, leafSeq: number): Promise<StoredEvent | undefined> {
  let lo = first;
  let hi = last;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await firstCopyFrom(readAgg, indexName, mid, hi);
    if (!m || m.source!.seq >= leafSeq) hi = mid;
    else lo = m.seq + 1;
  }
  const m = await firstCopyFrom(readAgg, indexName, lo, last);
  return m?.source?.seq === leafSeq ? m : undefined;
}

/** What verify says about one source. */
export type RewindFinding = {
  /** `consistent`: the hub's last copy is the leaf's event; `rewound`: it is not (or the leaf ends before it); `unchecked`: could not tell. */
  readonly status: "consistent" | "rewound" | "unchecked";
  /** Last leaf sequence the hub stored from this source. */
  readonly hubSeq: number;
  /** The leaf stream's last sequence now. */
  readonly leafLast: number;
  /** Rewound: the first leaf sequence whose event the aggregate does not hold (re-source from here). */
  readonly resumeAt?: number;
  /** Rewound: leaf events the source will never deliver (resumeAt..min(hubSeq, leafLast)) plus those it will skip until the leaf passes hubSeq. */
  readonly detail: string;
};

export type SourceState = {
  readonly indexName: string;
  /** `sources[].seq` of the aggregate's STREAM.INFO (0: nothing sourced yet). */
  readonly hubSeq: number;
  /** The source's `opt_start_seq` (its copies start there). */
  readonly startSeq?: number;
  readonly leaf: { readonly first: number; readonly last: number; readonly read: Reader };
  readonly aggregate: { readonly first: number; readonly last: number; readonly read: Reader };
};

/**
 * Whether the leaf's stream still holds, at the hub's last sourced sequence, the event the hub
 * stored for it; if not, where the leaf's events the aggregate lacks begin.
 */
export async function findRewind(s: SourceState): Promise<RewindFinding> {
  const { hubSeq } = s;
  const leafLast = s.leaf.last;
  if (hubSeq === 0) return { status: "consistent", hubSeq, leafLast, detail: "nothing sourced yet" };
  const copyOf = (seq: number) => aggregateCopy(s.aggregate.read, s.indexName, s.aggregate.first, s.aggregate.last, seq);
  const leafAt = async (seq: number) => {
    const m = await s.leaf.read(seq);
    return m && m.seq === seq ? m : undefined;
  };
  /** The leaf event at `seq` is the one the hub stored (undefined: cannot tell, e.g. aged out on either side). */
  const matches = async (seq: number): Promise<boolean | undefined> => {
    const [leaf, copy] = await Promise.all([leafAt(seq), copyOf(seq)]);
    if (!copy) return undefined;
    return leaf ? sameEvent(leaf, copy) : false;
  };
  if (hubSeq <= leafLast) {
    const at = await matches(hubSeq);
    if (at === undefined) return { status: "unchecked", hubSeq, leafLast, detail: `no copy of leaf seq ${hubSeq} in the aggregate to compare (aged out?)` };
    if (at) return { status: "consistent", hubSeq, leafLast, detail: `leaf seq ${hubSeq} is the event the hub stored` };
  }
  // Rewound: the events up to some K are the hub's, later ones are not. Binary search for K + 1.
  let lo = Math.max(s.leaf.first, s.startSeq ?? 1);
  let hi = Math.min(leafLast, hubSeq);
  if (lo > hi) {
    const resumeAt = Math.max(lo, leafLast + 1);
    return { status: "rewound", hubSeq, leafLast, resumeAt, detail: rewoundText(hubSeq, leafLast, resumeAt) };
  }
  hi += 1; // the answer lies in [lo, hi]: hi means "every leaf event up to min(leafLast, hubSeq) is the hub's"
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await matches(mid)) === true) lo = mid + 1;
    else hi = mid;
  }
  return { status: "rewound", hubSeq, leafLast, resumeAt: lo, detail: rewoundText(hubSeq, leafLast, lo) };
}

function rewoundText(hubSeq: number, leafLast: number, resumeAt: number): string {
  const missed = Math.max(0, Math.min(leafLast, hubSeq) - resumeAt + 1);
  const ahead = hubSeq > leafLast ? `; the next ${hubSeq - leafLast} events the leaf acks will be skipped too` : "";
  return (
    `the hub sourced up to leaf seq ${hubSeq}, but the leaf's stream ${hubSeq > leafLast ? `ends at ${leafLast}` : `holds another event there`} (it lost its tail or was restored): ` +
    `${missed} leaf event${missed === 1 ? "" : "s"} from seq ${resumeAt} on ${missed === 1 ? "is" : "are"} not in the aggregate${ahead}`
  );
}
