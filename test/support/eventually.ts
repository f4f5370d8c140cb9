/**
 * Polls until a condition holds, with a deadline: what every test that waits for something
 * asynchronous (a sourced event, a reload, a leaf link) uses instead of a fixed sleep.
 */

/**
 * Calls `probe` every `intervalMs` until `done(value)`; returns that value. A probe that throws
 * counts as "not yet". After `timeoutMs` it throws naming `what` and the last value or error.
 */
export async function eventually<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = "no answer";
  for (;;) {
    try {
      const v = await probe();
      if (done(v)) return v;
      last = v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
