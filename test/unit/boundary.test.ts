import { afterEach, describe, expect, it, vi } from "vitest";
import { guard, guardRpc, ReportedError } from "../../src/objects/boundary.ts";

// The one error boundary of the objects' runtime entries (src/objects/boundary.ts): a throw is
// logged once with the object's name and never escapes; RPC callers get a marked rejection.

afterEach(() => vi.restoreAllMocks());

function errorLines() {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  return () => spy.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
}

describe("error boundary", () => {
  it("passes results through and logs nothing when the entry succeeds", async () => {
    const lines = errorLines();
    expect(await guard("alarm", { deviceId: "aa:bb" }, async () => 7, 0)).toBe(7);
    expect(await guardRpc("rpc peer.deliver", { deviceId: "aa:bb" }, () => "delivered")).toBe("delivered");
    expect(lines()).toEqual([]);
  });

  it("swallows a throw of a socket or alarm entry: one error line with the device id, the fallback returned", async () => {
    const lines = errorLines();
    const sync = await guard(
      "webSocketClose",
      { deviceId: "aa:bb" },
      () => {
        throw new Error("sync boom");
      },
      "fallback",
    );
    const async_ = await guard("webSocketMessage", { deviceId: "aa:bb" }, () => Promise.reject(new Error("async boom")), undefined);
    expect([sync, async_]).toEqual(["fallback", undefined]);
    expect(lines()).toEqual([
      expect.objectContaining({ level: "error", event: "object.entry_failed", entry: "webSocketClose", deviceId: "aa:bb" }),
      expect.objectContaining({ level: "error", event: "object.entry_failed", entry: "webSocketMessage", deviceId: "aa:bb" }),
    ]);
    expect(JSON.stringify(lines())).toContain("async boom");
  });

  it("rejects an RPC caller with a ReportedError after logging the cause once", async () => {
    const lines = errorLines();
    const p = guardRpc("rpc peer.deliver", { deviceId: "aa:bb" }, () => {
      throw new Error("storage reset");
    });
    await expect(p).rejects.toBeInstanceOf(ReportedError);
    await expect(p).rejects.toThrow("the object failed in rpc peer.deliver; it is logged there");
    expect(lines()).toEqual([expect.objectContaining({ event: "object.entry_failed", entry: "rpc peer.deliver", deviceId: "aa:bb" })]);
    expect(JSON.stringify(lines())).toContain("storage reset");
  });
});
