/**
 * Subjects as values checked by pure functions: token validity, wildcard placement, overlap.
 * Validators return a reason ("" when valid) and leave throwing to the caller.
 */

/** Characters nats-server refuses inside a token (whitespace splits a subject on the wire). */
const FORBIDDEN_IN_TOKEN = /[\s\u0000]/;

/**
 * Why `token` is not a plain subject token (no wildcards, no dots), or "".
 * Used for server names, JetStream domains, cluster names, account and stream names.
 */
export function tokenReason(token: string, what = "token"): string {
  if (token.length === 0) return `${what} cannot be empty`;
  if (token.includes(".")) return `${what} ('${token}') cannot contain '.'`;
  if (token.includes("*")) return `${what} ('${token}') cannot contain '*'`;
  if (token.includes(">")) return `${what} ('${token}') cannot contain '>'`;
  const bad = FORBIDDEN_IN_TOKEN.exec(token);
  if (bad) return `${what} ('${token}') cannot contain whitespace`;
  return "";
}

/**
 * Why `name` is not a valid JetStream stream/bucket/consumer name, or "".
 * nats-server refuses '.', '*', '>', whitespace and path separators in these names.
 */
export function nameReason(name: string, what = "name"): string {
  const t = tokenReason(name, what);
  if (t) return t;
  if (/[/\\]/.test(name)) return `${what} ('${name}') cannot contain '/' or '\\'`;
  return "";
}

/**
 * Why `subject` is not a valid subject (filter), or "".
 * `allowWildcards` false: publish subjects and names (no `*` / `>`).
 */
export function subjectReason(subject: string, allowWildcards = true, what = "subject"): string {
  if (subject.length === 0) return `${what} cannot be empty`;
  if (FORBIDDEN_IN_TOKEN.test(subject)) return `${what} ('${subject}') cannot contain whitespace`;
  const tokens = subject.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.length === 0) return `${what} ('${subject}') has an empty token at position ${i + 1}: no leading, trailing or double '.'`;
    if (t === "*" || t === ">") {
      if (!allowWildcards) return `${what} ('${subject}') cannot contain wildcards here`;
      if (t === ">" && i !== tokens.length - 1) return `${what} ('${subject}') may use '>' only as the last token`;
      continue;
    }
    if (t.includes("*") || t.includes(">")) {
      return `${what} ('${subject}') has '${t}': wildcards '*' and '>' must be whole tokens`;
    }
  }
  return "";
}

/** Whether two subject filters can both match some subject (wildcard-aware). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; ; i++) {
    const tx = x[i];
    const ty = y[i];
    if (tx === undefined && ty === undefined) return true;
    if (tx === ">" || ty === ">") {
      // '>' needs at least one token on the other side.
      return (tx === ">" ? ty : tx) !== undefined;
    }
    if (tx === undefined || ty === undefined) return false;
    if (tx === "*" || ty === "*" || tx === ty) continue;
    return false;
  }
}

/** Whether every subject matched by `inner` is matched by `outer` (`outer` ⊇ `inner`). */
export function subjectCovers(outer: string, inner: string): boolean {
  const o = outer.split(".");
  const n = inner.split(".");
  for (let i = 0; ; i++) {
    const to = o[i];
    const tn = n[i];
    if (to === ">") return tn !== undefined;
    if (to === undefined || tn === undefined) return to === tn;
    if (tn === ">") return false;
    if (to === "*") continue;
    if (tn === "*" || to !== tn) return false;
  }
}
