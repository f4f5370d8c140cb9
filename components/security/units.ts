/**
 * Sizes and durations of the security section ("256M", "2s"): the stack config's one grammar
 * (components/config/units.ts), re-exported where the security parser and its tests look.
 */
export { parseByteSize, parseDurationMs } from "../config/units";
