import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { autoDeviceId, claimedIdentity, isValidId, normaliseId, stripBearer } from "../../src/auth/identity.ts";
import { expectNoConsole } from "../support/no-console.ts";

// PROTOCOL §2.1: who a request says it is. Pure functions of a URL and headers.

const WS = "ws://127.0.0.1:8787/supie/v1/";

function claim(query: Record<string, string> | string = {}, headers: Record<string, string> = {}) {
  const url = new URL(WS);
  if (typeof query === "string") url.search = query;
  else for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return claimedIdentity(url, new Headers(headers));
}

// Authentication never logs: the caller decides what to write.
expectNoConsole();

describe("normaliseId", () => {
  it("trims, strips one pair of surrounding quotes and lower-cases", () => {
    expect(normaliseId("  AA:BB:CC:DD:EE:FF  ")).toBe("aa:bb:cc:dd:ee:ff");
    expect(normaliseId('"AA:BB:CC"')).toBe("aa:bb:cc");
    expect(normaliseId("'Dev-1'")).toBe("dev-1");
    expect(normaliseId(' " Dev-1 " ')).toBe("dev-1");
    expect(normaliseId("\tDEV_1.x\n")).toBe("dev_1.x");
  });

  it("strips only one matching pair of quotes", () => {
    expect(normaliseId('""dev""')).toBe('"dev"');
    expect(normaliseId('"dev')).toBe('"dev');
    expect(normaliseId("\"dev'")).toBe("\"dev'");
    expect(normaliseId('"')).toBe('"');
    expect(normaliseId('""')).toBe("");
  });

  it('returns "" for nothing usable', () => {
    expect(normaliseId(null)).toBe("");
    expect(normaliseId(undefined)).toBe("");
    expect(normaliseId("")).toBe("");
    expect(normaliseId("   ")).toBe("");
  });
});

describe("isValidId", () => {
  it("accepts 1-64 chars of [a-z0-9:._-]", () => {
    for (const id of ["a", "0", "aa:bb:cc:dd:ee:ff", "dev_1.test-x", "7b94d69a-9808-4c59-9c9b-704333b38aff", "x".repeat(64), ":._-"]) {
      expect(isValidId(id), id).toBe(true);
    }
  });

  it("rejects empty, too long, upper-case and other characters", () => {
    for (const id of ["", "x".repeat(65), "AA:BB", "dev 1", "dev/1", "dev|1", "dev@1", "dév", "设备", '"dev"', "dev\n", "a+b", "a%20b"]) {
      expect(isValidId(id), JSON.stringify(id)).toBe(false);
    }
  });

  it("accepts a normalised id that was invalid only in case, spacing or quoting", () => {
    expect(isValidId(normaliseId(' "AA:BB:CC:DD:EE:FF" '))).toBe(true);
    expect(isValidId(normaliseId(" " + "X".repeat(64) + " "))).toBe(true);
    expect(isValidId(normaliseId("X".repeat(65)))).toBe(false);
  });
});

describe("device id", () => {
  it("comes from the Device-Id header before the query", () => {
    const c = claim({ "device-id": "from-query", device_id: "from-underscore" }, { "Device-Id": "From-Header" });
    expect(c.deviceId).toBe("from-header");
  });

  it("comes from query device-id before device_id", () => {
    expect(claim({ device_id: "underscore", "device-id": "dash" }).deviceId).toBe("dash");
    expect(claim({ device_id: "Underscore" }).deviceId).toBe("underscore");
    expect(claim({ "device-id": "Dash" }).deviceId).toBe("dash");
  });

  it("ignores a blank header or parameter", () => {
    expect(claim({ "device-id": "q" }, { "device-id": "   " }).deviceId).toBe("q");
    expect(claim({ "device-id": "  ", device_id: "u" }).deviceId).toBe("u");
  });

  it("is normalised wherever it comes from", () => {
    expect(claim({}, { "device-id": ' "AA:BB:CC:DD:EE:FF" ' }).deviceId).toBe("aa:bb:cc:dd:ee:ff");
    expect(claim("device-id=%22AA%3ABB%22").deviceId).toBe("aa:bb");
    expect(claim("device_id=%20AA:BB%20").deviceId).toBe("aa:bb");
  });

  it('is "" when none is sent', () => {
    expect(claim().deviceId).toBe("");
  });
});

describe("client id", () => {
  it("comes from the Client-Id header, else query client-id, else client_id", () => {
    expect(claim({ "device-id": "d", "client-id": "q", client_id: "u" }, { "client-id": "H" }).clientId).toBe("h");
    expect(claim({ "device-id": "d", "client-id": "Q", client_id: "u" }).clientId).toBe("q");
    expect(claim({ "device-id": "d", client_id: "'U'" }).clientId).toBe("u");
  });

  it("defaults to the device id", () => {
    expect(claim({}, { "device-id": "AA:BB" }).clientId).toBe("aa:bb");
    expect(claim({ "device-id": "dev", "client-id": " " }, { "client-id": "" }).clientId).toBe("dev");
    expect(claim().clientId).toBe("");
  });
});

describe("token", () => {
  it("comes from the Authorization header, with or without Bearer", () => {
    expect(claim({}, { authorization: "Bearer abc.def.ghi" }).token).toBe("abc.def.ghi");
    expect(claim({}, { authorization: "bearer   abc" }).token).toBe("abc");
    expect(claim({}, { authorization: "BEARER abc" }).token).toBe("abc");
    expect(claim({}, { authorization: "abc" }).token).toBe("abc");
  });

  it("prefers the header over the query", () => {
    const c = claim({ authorization: "Bearer from-query", token: "from-token" }, { authorization: "Bearer from-header" });
    expect(c.token).toBe("from-header");
  });

  it("takes query authorization as `Bearer <t>`, `Bearer+<t>` or bare", () => {
    expect(claim("authorization=Bearer%20t1").token).toBe("t1");
    // A `+` in a query string is a space once decoded...
    expect(claim("authorization=Bearer+t2").token).toBe("t2");
    // ...and a literal `+` when the client percent-encoded it.
    expect(claim("authorization=Bearer%2Bt3").token).toBe("t3");
    expect(claim("authorization=t4").token).toBe("t4");
    expect(claim("authorization=bearer+t5").token).toBe("t5");
  });

  it("takes query authorization before query token, and token last", () => {
    expect(claim({ authorization: "Bearer a", token: "b" }).token).toBe("a");
    expect(claim({ token: " b " }).token).toBe("b");
    expect(claim({ authorization: " ", token: "b" }).token).toBe("b");
    expect(claim({}, { authorization: " " }).token).toBe("");
  });

  it("keeps base64 padding and dots of a xiaozhi token", () => {
    const t = "A".repeat(43) + "=.1700000000";
    expect(claim({ token: t }).token).toBe(t);
    expect(claim("token=" + t).token).toBe(t);
  });

  it('is "" when none is sent', () => {
    expect(claim({ "device-id": "d" }).token).toBe("");
  });

  it("stripBearer handles every spelling", () => {
    expect(stripBearer("Bearer x")).toBe("x");
    expect(stripBearer("Bearer+x")).toBe("x");
    expect(stripBearer("  Bearer \t x  ")).toBe("x");
    expect(stripBearer("x")).toBe("x");
    expect(stripBearer("Bearerx")).toBe("Bearerx");
  });
});

describe("protocol version", () => {
  it("reads Protocol-Version 1, 2 or 3", () => {
    expect(claim({}, { "protocol-version": "1" }).protocolVersion).toBe(1);
    expect(claim({}, { "protocol-version": "3" }).protocolVersion).toBe(3);
    expect(claim({}, { "protocol-version": "4" }).protocolVersion).toBeUndefined();
    expect(claim({}, { "protocol-version": "x" }).protocolVersion).toBeUndefined();
    expect(claim().protocolVersion).toBeUndefined();
  });
});

describe("autoDeviceId", () => {
  it("is auto-<8 hex>, a valid id, and random", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const id = autoDeviceId();
      expect(id).toMatch(/^auto-[0-9a-f]{8}$/);
      expect(isValidId(id)).toBe(true);
      ids.add(id);
    }
    expect(ids.size).toBeGreaterThan(40);
  });
});

describe("auth modules", () => {
  it("import no logger: they return reasons and the caller logs", () => {
    for (const f of ["identity.ts", "tokens.ts", "verify.ts"]) {
      const src = readFileSync(new URL(`../../src/auth/${f}`, import.meta.url), "utf8");
      expect(src, f).not.toMatch(/from\s+["'][^"']*\/log(\.ts)?["']/);
      expect(src, f).not.toMatch(/\bconsole\./);
    }
  });
});
