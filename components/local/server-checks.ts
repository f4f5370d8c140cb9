/**
 * Input checks of a local server: every problem, each naming the property, before anything runs.
 */
import * as path from "node:path";
import type { CheckFailure, LocalServerInputs } from "./local-server-types";
import { dataDirReason, extraFileReason } from "./server-dir";

/** Every problem with the inputs, each naming the property (empty when valid). */
export function checkLocalServer(inputs: LocalServerInputs): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  if (typeof inputs.serverName !== "string" || !/^[A-Za-z0-9_-]+$/.test(inputs.serverName)) {
    fail("serverName", `server name '${inputs.serverName}' must be letters, digits, '-' or '_'`);
  }
  if (typeof inputs.configText !== "string" || inputs.configText.trim() === "") {
    fail("configText", "config text is empty: pass the rendered nats-server config");
  }
  if (typeof inputs.dataDir !== "string") fail("dataDir", "dataDir must be a string (an absolute folder)");
  else {
    const reason = dataDirReason(inputs.dataDir, inputs.serverName);
    if (reason) fail("dataDir", reason);
  }
  if (typeof inputs.monitoringUrl !== "string" || !/^https?:\/\/[^/]+$/.test(inputs.monitoringUrl)) {
    fail("monitoringUrl", `monitoring URL '${inputs.monitoringUrl}' must look like http://127.0.0.41:8222 (no path)`);
  }
  if (inputs.binary !== undefined && (typeof inputs.binary !== "string" || !path.isAbsolute(inputs.binary))) {
    fail("binary", `binary '${inputs.binary}' must be an absolute path to nats-server, or left out for the pinned one`);
  }
  for (const relpath of Object.keys(inputs.files ?? {})) {
    const reason = extraFileReason(relpath);
    if (reason) fail(`files.${relpath}`, reason);
  }
  const t = inputs.healthTimeoutSeconds;
  if (t !== undefined && !(typeof t === "number" && t > 0 && t <= 600)) {
    fail("healthTimeoutSeconds", `health timeout ${t} must be a number of seconds in (0, 600]`);
  }
  const st = inputs.stopTimeoutSeconds;
  if (st !== undefined && !(typeof st === "number" && st > 0 && st <= 3700)) {
    fail("stopTimeoutSeconds", `stop timeout ${st} must be a number of seconds in (0, 3700], above the lame duck duration`);
  }
  const hc = inputs.createHealthCheck;
  if (hc !== undefined && hc !== "full" && hc !== "js-server-only") {
    fail("createHealthCheck", `create health check '${String(hc)}' must be "full" or "js-server-only"`);
  }
  for (const key of ["peerMonitoringUrls", "hubClientUrls"] as const) {
    const urls = inputs[key];
    if (urls !== undefined && (!Array.isArray(urls) || !urls.every((u) => typeof u === "string" && /^[a-z]+:\/\/[^/]+$/.test(u)))) {
      fail(key, `${key} must be a list of URLs without a path, e.g. ["http://127.0.0.42:8223"]`);
    }
  }
  return failures;
}

