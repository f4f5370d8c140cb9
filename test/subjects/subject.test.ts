import { describe, expect, it } from "vitest";
import { subjectCovers, subjectReason, subjectsOverlap, tokenReason } from "../../components/subjects";

describe("subjectReason", () => {
  it.each([
    ["person.events.created", true, ""],
    ["person.events.>", true, ""],
    ["*.events.>", true, ""],
    ["person..events", true, "empty token at position 2"],
    [".person", true, "empty token at position 1"],
    ["person.", true, "empty token at position 2"],
    ["person.>.x", true, "'>' only as the last token"],
    ["person.ev*", true, "wildcards '*' and '>' must be whole tokens"],
    ["person events", true, "whitespace"],
    ["", true, "cannot be empty"],
    ["person.*", false, "cannot contain wildcards"],
  ])("%s (wildcards %s) → %s", (s, wild, reason) => {
    const r = subjectReason(s, wild);
    if (reason === "") expect(r).toBe("");
    else expect(r).toContain(reason);
  });
});

describe("tokenReason", () => {
  it.each([
    ["nats-1", ""],
    ["hub", ""],
    ["a.b", "cannot contain '.'"],
    ["a*", "cannot contain '*'"],
    ["a>", "cannot contain '>'"],
    ["a b", "whitespace"],
  ])("%s → %s", (t, reason) => {
    const r = tokenReason(t, "name");
    if (reason === "") expect(r).toBe("");
    else expect(r).toContain(reason);
  });
});

describe("subjectsOverlap", () => {
  it.each([
    ["person.events.>", "person.events.created", true],
    ["person.events.>", "*.events.>", true],
    ["person.events.>", "billing.events.>", false],
    ["person.events.*", "person.events.a.b", false],
    ["person.>", "person", false],
    ["a.*.c", "a.b.*", true],
    [">", "x", true],
  ])("%s ∩ %s = %s", (a, b, want) => {
    expect(subjectsOverlap(a, b)).toBe(want);
    expect(subjectsOverlap(b, a)).toBe(want);
  });
});

describe("subjectCovers", () => {
  it.each([
    ["*.events.>", "person.events.created", true],
    ["*.events.>", "person.events.>", true],
    ["person.events.*", "person.events.>", false],
    ["person.events.>", "person.events", false],
    [">", "a.b", true],
    ["a.b", "a.*", false],
  ])("%s ⊇ %s = %s", (outer, inner, want) => {
    expect(subjectCovers(outer, inner)).toBe(want);
  });
});
