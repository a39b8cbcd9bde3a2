import { describe, expect, it } from "vitest";
import { RejectionLog, addressKey, clientAddress, deviceKey, tokenKey } from "../../src/http/rate-limit-keys.ts";

// The rate limiter's keys and its log throttle (src/http/rate-limit-keys.ts, PROTOCOL §1.1): pure parts.

describe("client address", () => {
  it("is CF-Connecting-IP, or 127.0.0.1 without one", () => {
    expect(clientAddress(undefined)).toBe("127.0.0.1");
    expect(clientAddress("")).toBe("127.0.0.1");
    expect(clientAddress("  ")).toBe("127.0.0.1");
    expect(clientAddress(" 203.0.113.7 ")).toBe("203.0.113.7");
  });

  it("counts an IPv6 client by its /64, however the address is written", () => {
    const same = ["2001:db8:a:b::1", "2001:DB8:A:B:0:0:0:ffff", "2001:0db8:000a:000b:1:2:3:4", "2001:db8:a:b:ffff:ffff:ffff:ffff", "2001:db8:a:b::1%eth0"];
    for (const a of same) expect(clientAddress(a), a).toBe("2001:db8:a:b::/64");
    expect(clientAddress("2001:db8:a:c::1")).toBe("2001:db8:a:c::/64");
    expect(clientAddress("::1")).toBe("0:0:0:0::/64");
    expect(clientAddress("fe80::1:2:3:4")).toBe("fe80:0:0:0::/64");
    expect(clientAddress("64:ff9b::192.0.2.1")).toBe("64:ff9b:0:0::/64");
  });

  it("counts an IPv4-mapped IPv6 address as the IPv4 one", () => {
    expect(clientAddress("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(clientAddress("::ffff:c000:201")).toBe("192.0.2.1");
  });

  it("uses anything else as sent, cut to 64 characters", () => {
    expect(clientAddress("not-an-address")).toBe("not-an-address");
    expect(clientAddress("1.2.3.256")).toBe("1.2.3.256");
    expect(clientAddress("1:2:3")).toBe("1:2:3");
    expect(clientAddress("1::2::3")).toBe("1::2::3");
    expect(clientAddress("1:2:3:4:5:6:7:8:9")).toBe("1:2:3:4:5:6:7:8:9");
    expect(clientAddress("x".repeat(100))).toHaveLength(64);
  });
});

describe("keys", () => {
  it("keeps addresses, tokens and devices apart", async () => {
    expect(addressKey("192.0.2.1")).toEqual({ key: "a:192.0.2.1", by: "address", shown: "192.0.2.1" });
    const t = await tokenKey("s3cret-admin-token");
    expect(t.key).toMatch(/^t:[0-9a-f]{32}$/);
    expect(t.by).toBe("token");
    expect(t.shown).toMatch(/^sha256:[0-9a-f]{8}$/);
    expect(JSON.stringify(t)).not.toContain("s3cret");
    expect((await tokenKey("s3cret-admin-token")).key).toBe(t.key);
    expect((await tokenKey("another")).key).not.toBe(t.key);
  });

  it("takes the device id as PROTOCOL §2.1 normalises it, else the address", () => {
    expect(deviceKey(' "AA:BB:CC:00:00:01" ', "192.0.2.1")).toEqual({ key: "d:aa:bb:cc:00:00:01", by: "device", shown: "aa:bb:cc:00:00:01" });
    expect(deviceKey(undefined, "192.0.2.1")).toEqual(addressKey("192.0.2.1"));
    expect(deviceKey("bad id!", undefined)).toEqual(addressKey(undefined));
    expect(deviceKey("x".repeat(65), "192.0.2.1").by).toBe("address");
  });
});

describe("rejection log", () => {
  it("writes one line per key and minute, and then says how many went unlogged", () => {
    const log = new RejectionLog(60_000, 50, 1000);
    const t0 = 120_000;
    expect(log.note("a", t0)).toEqual({ line: true, unlogged: 0 });
    for (let i = 1; i <= 7; i++) expect(log.note("a", t0 + i * 1000)).toEqual({ line: false, overflow: false });
    expect(log.note("b", t0 + 10)).toEqual({ line: true, unlogged: 0 });
    expect(log.note("a", t0 + 60_000)).toEqual({ line: true, unlogged: 7 });
    expect(log.note("a", t0 + 61_000)).toEqual({ line: false, overflow: false });
    expect(log.note("a", t0 + 10 * 60_000)).toEqual({ line: true, unlogged: 1 });
  });

  it("writes at most maxLines key lines a minute, one overflow line, and carries the rest's counts", () => {
    const log = new RejectionLog(60_000, 3, 1000);
    const results = Array.from({ length: 6 }, (_, i) => log.note(`k${i}`, 0));
    expect(results.filter((r) => r.line)).toHaveLength(3);
    expect(results.filter((r) => !r.line && r.overflow)).toHaveLength(1);
    expect(log.note("k5", 1000)).toEqual({ line: false, overflow: false });
    // Next minute: the budget is back; k5's two refusals without a line are reported.
    expect(log.note("k5", 60_000)).toEqual({ line: true, unlogged: 2 });
  });

  it("keeps a bounded number of keys", () => {
    const log = new RejectionLog(60_000, 1_000_000, 100);
    for (let i = 0; i < 10_000; i++) log.note(`k${i}`, 0);
    // Still answering, and a key forgotten under pressure simply starts again.
    expect(log.note("k0", 0).line).toBe(true);
    expect(log.note("fresh", 60_000)).toEqual({ line: true, unlogged: 0 });
  });
});
