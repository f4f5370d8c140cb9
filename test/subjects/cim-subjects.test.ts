import { describe, expect, it } from "vitest";
import {
  classifySubject,
  commandSubject,
  domainEventsFilter,
  eventSubject,
  globalExternalSubject,
  patternSubject,
  projectionSubject,
} from "../../components/subjects";

describe("platform subject algebra", () => {
  it("builds subjects from tokens", () => {
    expect(eventSubject("person", "person", "created")).toBe("person.events.person.created");
    expect(commandSubject("person", "person", "create")).toBe("person.commands.person.create");
    expect(projectionSubject("person", "summary")).toBe("person.projections.summary");
    expect(patternSubject("person", "churn")).toBe("patterns.person.churn");
    expect(globalExternalSubject("mail", "send")).toBe("global.external.mail.send");
    expect(domainEventsFilter("person")).toBe("person.events.>");
  });

  it("refuses a token that would change the subject's shape", () => {
    expect(() => eventSubject("person", "a.b", "created")).toThrow(/cannot contain '.'/);
    expect(() => eventSubject("person", "*", "created")).toThrow(/cannot contain '\*'/);
  });

  it.each([
    ["person.events.person.created", { kind: "event", domain: "person", entity: "person", type: "created" }],
    ["person.commands.person.create", { kind: "command", domain: "person", entity: "person", command: "create" }],
    ["person.external.crm.sync", { kind: "external", domain: "person", service: "crm", op: "sync" }],
    ["person.projections.summary", { kind: "projection", domain: "person", view: "summary" }],
    ["patterns.person.churn", { kind: "pattern", domain: "person", type: "churn" }],
    ["global.external.mail.send", { kind: "global-external", service: "mail", op: "send" }],
    ["person.events.created", undefined],
    ["person.events.>", undefined],
  ])("classifies %s", (s, want) => {
    expect(classifySubject(s)).toEqual(want);
  });

  it("round-trips every builder through the classifier", () => {
    expect(classifySubject(eventSubject("billing", "invoice", "paid"))).toMatchObject({ kind: "event", entity: "invoice" });
    expect(classifySubject(patternSubject("billing", "late"))).toMatchObject({ kind: "pattern", domain: "billing" });
  });
});
