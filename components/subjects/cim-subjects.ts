/**
 * The platform's subject naming rules (DESIGN.md "Subject algebra") as builders and a classifier:
 *   <domain>.events.<entity>.<event-type>     <domain>.commands.<entity>.<command>
 *   <domain>.external.<service>.<op>          <domain>.projections.<view>
 *   patterns.<domain>.<type>                  global.external.<service>.<op>
 * Builders throw on a bad token (programming error); `classifySubject` never throws.
 */
import { tokenReason } from "./subject";

export const SubjectKind = {
  Event: "event",
  Command: "command",
  External: "external",
  Projection: "projection",
  Pattern: "pattern",
  GlobalExternal: "global-external",
} as const;
export type SubjectKind = (typeof SubjectKind)[keyof typeof SubjectKind];

export type ClassifiedSubject =
  | { readonly kind: typeof SubjectKind.Event; readonly domain: string; readonly entity: string; readonly type: string }
  | { readonly kind: typeof SubjectKind.Command; readonly domain: string; readonly entity: string; readonly command: string }
  | { readonly kind: typeof SubjectKind.External; readonly domain: string; readonly service: string; readonly op: string }
  | { readonly kind: typeof SubjectKind.Projection; readonly domain: string; readonly view: string }
  | { readonly kind: typeof SubjectKind.Pattern; readonly domain: string; readonly type: string }
  | { readonly kind: typeof SubjectKind.GlobalExternal; readonly service: string; readonly op: string };

function join(...tokens: string[]): string {
  for (const t of tokens) {
    const r = tokenReason(t, "subject token");
    if (r) throw new Error(r);
  }
  return tokens.join(".");
}

export const eventSubject = (domain: string, entity: string, type: string) => join(domain, "events", entity, type);
export const commandSubject = (domain: string, entity: string, command: string) => join(domain, "commands", entity, command);
export const externalSubject = (domain: string, service: string, op: string) => join(domain, "external", service, op);
export const projectionSubject = (domain: string, view: string) => join(domain, "projections", view);
export const patternSubject = (domain: string, type: string) => join("patterns", domain, type);
export const globalExternalSubject = (service: string, op: string) => join("global", "external", service, op);

/** The filter that captures every event of a domain, e.g. `person.events.>`. */
export const domainEventsFilter = (domain: string) => `${join(domain, "events")}.>`;

/** What a literal subject is under the platform's rules, or undefined when it follows none. */
export function classifySubject(subject: string): ClassifiedSubject | undefined {
  const t = subject.split(".");
  if (t.some((x) => x === "" || x === "*" || x === ">")) return undefined;
  if (t[0] === "global" && t[1] === "external" && t.length === 4) {
    return { kind: SubjectKind.GlobalExternal, service: t[2], op: t[3] };
  }
  if (t[0] === "patterns" && t.length === 3) return { kind: SubjectKind.Pattern, domain: t[1], type: t[2] };
  if (t.length === 4 && t[1] === "events") return { kind: SubjectKind.Event, domain: t[0], entity: t[2], type: t[3] };
  if (t.length === 4 && t[1] === "commands") return { kind: SubjectKind.Command, domain: t[0], entity: t[2], command: t[3] };
  if (t.length === 4 && t[1] === "external") return { kind: SubjectKind.External, domain: t[0], service: t[2], op: t[3] };
  if (t.length === 3 && t[1] === "projections") return { kind: SubjectKind.Projection, domain: t[0], view: t[2] };
  return undefined;
}
