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
  /** An aggregate's copy: which source it came from, the leaf sequence, and the leaf stream's identity then (`Nats-Stream-Source`). */
  readonly source?: { readonly indexName: string; readonly seq: number; readonly ident?: string };
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

/** `Nats-Stream-Source: <name:hash> <seq> <filter> <dest> <subject> [<ident>]` → index name, leaf sequence, stream identity. */
export function parseStreamSource(header: string | undefined): { indexName: string; seq: number; ident?: string } | undefined {
  if (!header) return undefined;
  const f = header.split(" ");
  if (f.length < 4) return undefined;
  const seq = Number(f[1]);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { indexName: `${f[0]} ${f[2]} ${f[3]}`, seq, ...(f[5] ? { ident: f[5] } : {}) };
}

/** A stream's identity as nats-server derives it (stream.identity): the hash of its creation time as STREAM.INFO spells it. */
export function streamIdentity(created: string, sha256: (s: string) => Uint8Array): string {
  return serverHash(created, sha256);
}

/** The same event: same message id when either has one, else same subject and bytes. */
export function sameEvent(a: StoredEvent, b: StoredEvent): boolean {
  if (a.msgId || b.msgId) return a.msgId === b.msgId;
  return a.subject === b.subject && a.data.length === b.data.length && a.data.every((x, i) => x === b.data[i]);
}

/** Messages a reader may skip over to find one source's copies before giving up. */
export const SCAN_LIMIT = 20_000;

/** Which copies count: from this source identity, and (when known) from this incarnation of the leaf's stream. */
export type CopyOf = { readonly indexName: string; readonly ident?: string };
const isCopy = (m: StoredEvent, c: CopyOf) => m.source?.indexName === c.indexName && (!c.ident || !m.source.ident || m.source.ident === c.ident);

/** The first aggregate message at or after `from` (and not past `to`) that came from source `c`. */
async function firstCopyFrom(readAgg: Reader, c: CopyOf, from: number, to: number): Promise<StoredEvent | undefined> {
  let seq = from;
  for (let scanned = 0; seq <= to; scanned++) {
    if (scanned > SCAN_LIMIT) throw new Error(`more than ${SCAN_LIMIT} messages of other sources between aggregate seq ${from} and ${seq}`);
    const m = await readAgg(seq);
    if (!m || m.seq > to) return undefined;
    if (isCopy(m, c)) return m;
    seq = m.seq + 1;
  }
  return undefined;
}

/**
 * The aggregate's copy of leaf sequence `leafSeq` from source `indexName`, by binary search over
 * the aggregate's sequences `[first, last]`: one source's copies of one incarnation of the leaf's
 * stream are stored in leaf order (a stream created anew starts again at 1: its identity differs).
 */
export async function aggregateCopy(readAgg: Reader, c: CopyOf, first: number, last: number, leafSeq: number): Promise<StoredEvent | undefined> {
  let lo = first;
  let hi = last;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await firstCopyFrom(readAgg, c, mid, hi);
    if (!m || m.source!.seq >= leafSeq) hi = mid;
    else lo = m.seq + 1;
  }
  const m = await firstCopyFrom(readAgg, c, lo, last);
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
  /** What repairs it: another `rewinds` entry at resumeAt, or dropping the leaf's entries (its stream was created anew). */
  readonly fix?: "add-rewind" | "drop-rewinds";
  /** What the hub holds, what the leaf holds, what is or will be skipped. */
  readonly detail: string;
};

export type SourceState = {
  readonly indexName: string;
  /** The leaf stream's identity now (streamIdentity of its `created`): copies of an earlier incarnation do not count. */
  readonly ident?: string;
  /** `sources[].seq` of the aggregate's STREAM.INFO (0: nothing sourced yet). */
  readonly hubSeq: number;
  /** The source's `opt_start_seq` (a repaired rewind: its copies start there). */
  readonly startSeq?: number;
  /** Index names of the source's earlier epochs (what sourced the leaf's events before startSeq). */
  readonly priorIndexNames?: readonly string[];
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
  const copyOf = (seq: number, indexName = s.indexName) => aggregateCopy(s.aggregate.read, { indexName, ident: s.ident }, s.aggregate.first, s.aggregate.last, seq);
  const leafAt = async (seq: number) => {
    const m = await s.leaf.read(seq);
    return m && m.seq === seq ? m : undefined;
  };
  // A repaired source starts at startSeq: the leaf's event just before must be in the aggregate
  // from an earlier epoch. If it is not, the leaf's stream was created anew (a new disk) and the
  // source skips its events below startSeq.
  if (s.startSeq && s.startSeq > s.leaf.first) {
    // The leaf only grows after a repair, so its event at startSeq - 1 (or its last, if a later
    // rewind took it below) was sourced by an earlier epoch.
    const probe = Math.min(s.startSeq - 1, leafLast);
    const before = probe >= s.leaf.first ? await leafAt(probe) : undefined;
    let held = false;
    for (const name of before ? (s.priorIndexNames ?? []) : []) {
      const copy = await copyOf(probe, name);
      if (copy && sameEvent(before!, copy)) held = true;
    }
    if (!held) {
      return {
        status: "rewound",
        hubSeq,
        leafLast,
        fix: "drop-rewinds",
        detail: `the source starts at leaf seq ${s.startSeq} (a rewinds entry), but the leaf's ${before ? `event at ${probe} is not the one the aggregate holds` : "stream is empty"} (its stream was created anew, e.g. on a new disk): its events below ${s.startSeq} are not sourced`,
      };
    }
  }
  if (hubSeq === 0) return { status: "consistent", hubSeq, leafLast, detail: "nothing sourced yet" };
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
    return { status: "rewound", hubSeq, leafLast, resumeAt, fix: "add-rewind", detail: rewoundText(hubSeq, leafLast, resumeAt) };
  }
  hi += 1; // the answer lies in [lo, hi]: hi means "every leaf event up to min(leafLast, hubSeq) is the hub's"
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await matches(mid)) === true) lo = mid + 1;
    else hi = mid;
  }
  return { status: "rewound", hubSeq, leafLast, resumeAt: lo, fix: "add-rewind", detail: rewoundText(hubSeq, leafLast, lo) };
}

function rewoundText(hubSeq: number, leafLast: number, resumeAt: number): string {
  const missed = Math.max(0, Math.min(leafLast, hubSeq) - resumeAt + 1);
  const ahead = hubSeq > leafLast ? `; the next ${hubSeq - leafLast} events the leaf acks will be skipped too` : "";
  return (
    `the hub sourced up to leaf seq ${hubSeq}, but the leaf's stream ${hubSeq > leafLast ? `ends at ${leafLast}` : `holds another event there`} (it lost its tail or was restored): ` +
    `${missed} leaf event${missed === 1 ? "" : "s"} from seq ${resumeAt} on ${missed === 1 ? "is" : "are"} not in the aggregate${ahead}`
  );
}
