import { describe, expect, it } from "vitest";
import { extractJsonObject } from "../../src/llm/json-extract.ts";

const value = (text: string) => {
  const r = extractJsonObject(text);
  if (!r.ok) throw new Error(`expected an object, got ${r.code}`);
  return r.value;
};
const code = (text: string) => {
  const r = extractJsonObject(text);
  return r.ok ? "ok" : r.code;
};

describe("extractJsonObject", () => {
  it("parses a plain object", () => {
    expect(value('{"title":"Ship","priority":2,"tags":["a","b"],"nested":{"x":null}}')).toEqual({
      title: "Ship",
      priority: 2,
      tags: ["a", "b"],
      nested: { x: null },
    });
    expect(value("  {}  ")).toEqual({});
  });

  it("survives code fences and chatter before and after", () => {
    const text = 'Sure! Here is the summary:\n```json\n{"title":"Weekly sync","bullets":["one"]}\n```\nHope this helps {really}.';
    expect(value(text)).toEqual({ title: "Weekly sync", bullets: ["one"] });
    expect(value('```\n{"a":1}\n```')).toEqual({ a: 1 });
    expect(value('\uFEFF{"bom":true}')).toEqual({ bom: true });
  });

  it("takes the first complete top-level object when there are several", () => {
    expect(value('{"first":{"inner":1}} and then {"second":2}')).toEqual({ first: { inner: 1 } });
    expect(value('{"a":1}\n{"b":2}')).toEqual({ a: 1 });
  });

  it("respects braces, quotes and escapes inside strings", () => {
    expect(value('{"text":"a } brace and a { brace","q":"she said \\"}\\" loudly","bs":"C:\\\\path\\\\"} tail')).toEqual({
      text: "a } brace and a { brace",
      q: 'she said "}" loudly',
      bs: "C:\\path\\",
    });
  });

  it("ignores braces in prose that cannot open an object", () => {
    expect(value('Use {curly braces} or {x to 1; the answer: {"ok":true}')).toEqual({ ok: true });
    expect(value('function f() { return 1; } // output: {"done":1}')).toEqual({ done: 1 });
  });

  it("skips a balanced candidate that is not valid JSON as a whole, never returning its nested object", () => {
    expect(code('{"a": \'single\', "b": {"c": 1}}')).toBe("LLM_OUTPUT_NOT_JSON");
    expect(value('{"a": \'bad\'} then {"good": true}')).toEqual({ good: true });
  });

  it("repairs trailing commas outside strings", () => {
    expect(value('{"list":[1,2,3,],"obj":{"k":"v",},}')).toEqual({ list: [1, 2, 3], obj: { k: "v" } });
    expect(value('{"text":"keep ,} inside",}')).toEqual({ text: "keep ,} inside" });
    expect(value('{\n  "a": 1,\n  "b": [\n    "x",\n  ],\n}\n')).toEqual({ a: 1, b: ["x"] });
  });

  it("reports truncation distinctly", () => {
    expect(code('{"title":"Fix the bu')).toBe("LLM_OUTPUT_TRUNCATED");
    expect(code('{"a":{"b":1},"c":[1,2')).toBe("LLM_OUTPUT_TRUNCATED");
    expect(code('Here you go:\n```json\n{"title":"x","bullets":["one",')).toBe("LLM_OUTPUT_TRUNCATED");
    expect(code("{")).toBe("LLM_OUTPUT_TRUNCATED");
    expect(code('{"escaped":"ends with \\')).toBe("LLM_OUTPUT_TRUNCATED");
  });

  it("reports output with no object as not JSON", () => {
    expect(code("The meeting went well and everyone agreed.")).toBe("LLM_OUTPUT_NOT_JSON");
    expect(code("[1,2,3]")).toBe("LLM_OUTPUT_NOT_JSON");
    expect(code('"just a string"')).toBe("LLM_OUTPUT_NOT_JSON");
    expect(code("{not: json}")).toBe("LLM_OUTPUT_NOT_JSON");
    expect(code('{"a":1]')).toBe("LLM_OUTPUT_NOT_JSON");
  });

  it("reports empty output", () => {
    expect(code("")).toBe("LLM_OUTPUT_EMPTY");
    expect(code("   \n\t ")).toBe("LLM_OUTPUT_EMPTY");
    expect(code("```json\n\n```")).toBe("LLM_OUTPUT_EMPTY");
  });

  it("handles long noisy inputs", () => {
    const noise = "{ x ".repeat(20_000) + '{"end":true}';
    expect(value(noise)).toEqual({ end: true });
    expect(code('{"a":"' + "x".repeat(200_000))).toBe("LLM_OUTPUT_TRUNCATED");
  });
});
