/**
 * The one size grammar and the one duration grammar of the stack config, for every section
 * (topology limits, account limits, response TTLs, stream and consumer durations). Both are what
 * the pinned nats-server reads (test/config/units.test.ts runs `nats-server -t` on every example),
 * so a value copied between a server config and the stack config means the same. Pure.
 */

/**
 * Sizes: a whole number of bytes, or a whole number with K, M, G or T. nats-server takes exactly
 * this form both bare and quoted (the renderer quotes); it refuses fractions ("1.5G"), and quoted
 * it refuses "1GB", "1Gi" and lower case, so those are refused here with the form to write.
 */
export const SIZE_PATTERN = "^[0-9]+[KMGT]?$";
const SIZE = new RegExp(SIZE_PATTERN);
/**
 * Bytes per suffix as the account JWT limits count them (powers of 1000, nats-server's reading of
 * a bare `1G`). nats-server reads the rendered, quoted `max_file: "1G"` in powers of 1024, so a
 * server's own limit is never below an account limit written with the same number.
 */
const SIZE_FACTOR: Readonly<Record<string, number>> = { "": 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

export type SizeOptions = {
  /** Whether -1 (no limit) is a value. Default false. */
  readonly unlimited?: boolean;
};

/** How to write a size, for messages and docs. */
export function sizeHint(options: SizeOptions = {}): string {
  return `write a whole number of bytes or one with K, M, G or T, e.g. 256M or 2G${options.unlimited ? ", or -1 for unlimited" : ""}`;
}

/** The nearest size nats-server takes, for a value that is almost one ("1.5G", "2GB", "1g"). */
function nearSize(s: string): string {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt])(?:ib|i|b)?$/i.exec(s);
  if (!m) return "";
  const unit = m[2].toUpperCase();
  const n = Number(m[1]);
  if (Number.isInteger(n)) return ` (did you mean '${n}${unit}'? nats-server takes only K, M, G, T in capitals)`;
  const lower = "KMGT"[("KMGT".indexOf(unit)) - 1];
  return lower ? ` (nats-server takes whole numbers only: did you mean '${Math.round(n * 1000)}${lower}'?)` : " (nats-server takes whole numbers only)";
}

/** Bytes of a size ("256M", "2G", 1048576; -1 when `unlimited`), or a reason it is not one. */
export function parseByteSize(value: unknown, options: SizeOptions = { unlimited: true }): number | string {
  if (options.unlimited && (value === -1 || value === "-1")) return -1;
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : `${value} is not a whole number of bytes${options.unlimited ? " (or -1 for unlimited)" : ""}`;
  }
  if (typeof value !== "string") return `${JSON.stringify(value)} is not a size: ${sizeHint(options)}`;
  if (!SIZE.test(value)) return `'${value}' is not a size: ${sizeHint(options)}${nearSize(value.trim())}`;
  const unit = /[KMGT]$/.test(value) ? value.slice(-1) : "";
  return Number(unit ? value.slice(0, -1) : value) * SIZE_FACTOR[unit];
}

/**
 * Durations: Go's `time.ParseDuration`, which nats-server uses: a sequence of numbers (fractions
 * allowed) each with a unit ns, us (µs), ms, s, m or h, e.g. "2s", "1m30s", "1.5h", "720h"; "0"
 * alone is zero. No day or week unit (nats-server refuses "1d"), no sign, no spaces.
 */
export const DURATION_PATTERN = "^(0|([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h)(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h))*)$";
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
const UNIT_NANOS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** How to write a duration, for messages and docs. */
export const DURATION_HINT = "write a number with a unit ns, us, ms, s, m or h, e.g. 500ms, 2s, 1m30s or 720h";

/** The nearest duration nats-server takes, for a value that is almost one ("30d", "2 s", "5S"). */
function nearDuration(s: string): string {
  const days = /^\s*(\d+)\s*(d|w|days?|weeks?)\s*$/i.exec(s);
  if (days) return ` (nats-server has no day unit: did you mean '${Number(days[1]) * (days[2][0].toLowerCase() === "w" ? 168 : 24)}h'?)`;
  const spaced = s.replace(/\s+/g, "").toLowerCase();
  if (spaced !== s && new RegExp(DURATION_PATTERN).test(spaced)) return ` (did you mean '${spaced}'?)`;
  if (/^\d+(\.\d+)?$/.test(s)) return ` (a unit is required: did you mean '${s}s'?)`;
  return "";
}

/** Nanoseconds of a duration string, or a reason it is not one. `what` prefixes the reason. */
export function parseDurationNanos(value: unknown, what = ""): number | string {
  const prefix = what ? `${what}: ` : "";
  if (typeof value !== "string") return `${prefix}${JSON.stringify(value)} is not a duration: ${DURATION_HINT}`;
  if (value === "0") return 0;
  if (value.length === 0) return `${prefix}cannot be empty; write "0" for none`;
  let total = 0;
  let at = 0;
  while (at < value.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(value);
    if (!m) return `${prefix}'${value}' is not a duration: ${DURATION_HINT}${nearDuration(value)}`;
    total += Number(m[1]) * UNIT_NANOS[m[2]];
    at = DURATION_PART.lastIndex;
  }
  return Math.round(total);
}

/** Milliseconds of a duration string (whole: a JWT TTL has no finer unit), or a reason. */
export function parseDurationMs(value: unknown, what = ""): number | string {
  const nanos = parseDurationNanos(value, what);
  if (typeof nanos === "string") return nanos;
  if (nanos % 1e6 !== 0) return `${what ? `${what}: ` : ""}'${String(value)}' is not a whole number of milliseconds: round it, e.g. ${Math.max(1, Math.round(nanos / 1e6))}ms`;
  return nanos / 1e6;
}

/**
 * Bytes of a server limit as nats-server reads the rendered config (getStorageSize): a quoted size
 * with a unit counts in powers of 1024 ("10G" = 10 GiB), bare digits are bytes. The JetStream
 * limits in a server config; account JWT limits use parseByteSize.
 */
export function serverLimitBytes(size: string): number | string {
  if (!SIZE.test(size)) return `'${size}' is not a size: ${sizeHint()}`;
  const unit = /[KMGT]$/.test(size) ? size.slice(-1) : "";
  return Number(unit ? size.slice(0, -1) : size) * 1024 ** ["", "K", "M", "G", "T"].indexOf(unit);
}
