import { afterEach, describe, expect, it, vi } from "vitest";
import { formatLog, log, redactText, setLogLevel, setLogMaxLength, truncate } from "../../src/log.ts";

afterEach(() => {
  setLogMaxLength(2000);
  setLogLevel("info");
  vi.restoreAllMocks();
});

describe("structured logs", () => {
  it("writes one JSON object with level and event", () => {
    const line = formatLog("info", "device.hello", { deviceId: "aa:bb", n: 3 });
    expect(JSON.parse(line)).toEqual({ level: "info", event: "device.hello", deviceId: "aa:bb", n: 3 });
  });

  it("truncates long values keeping head and tail at LOG_MAX_MESSAGE_LENGTH", () => {
    setLogMaxLength(100);
    const value = "HEAD" + "x".repeat(5000) + "TAIL";
    const out = JSON.parse(formatLog("info", "e", { value })).value as string;
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.startsWith("HEAD")).toBe(true);
    expect(out.endsWith("TAIL")).toBe(true);
    expect(out).toContain("omitted");
    expect(truncate("short", 100)).toBe("short");
  });

  it("never writes tokens or secrets", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhYTpiYiJ9.c2lnbmF0dXJlLXZhbHVl";
    const line = formatLog("warn", "auth", {
      token: "abc123secret",
      authorization: "Bearer abc123secret",
      DEVICE_TOKEN_SECRET: "s3cr3t-value",
      nested: { apiKey: "sk-live-123456", fine: "ok" },
      message: `upgrade with Bearer abcdefghijkl and ${jwt} from /supie/v1/?token=qwertyuiop&x=1`,
      error: new Error(`failed for Bearer zyxwvutsrqpo`),
    });
    for (const secret of ["abc123secret", "s3cr3t-value", "sk-live-123456", "abcdefghijkl", jwt, "qwertyuiop", "zyxwvutsrqpo"]) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line).nested.fine).toBe("ok");
    expect(redactText("nothing to hide")).toBe("nothing to hide");
  });
});

describe("LOG_LEVEL", () => {
  it("drops records below the level", () => {
    const out = vi.spyOn(console, "info").mockImplementation(() => {});
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    log.debug("peer.sent");
    log.info("device.hello");
    expect(out).toHaveBeenCalledTimes(1);
    setLogLevel("debug");
    log.debug("peer.sent");
    expect(out).toHaveBeenCalledTimes(2);
    setLogLevel("warn");
    log.info("device.hello");
    log.warn("auth.rejected");
    expect(out).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
