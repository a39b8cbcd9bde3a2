import { afterEach, describe, expect, it, vi } from "vitest";
import { log, setLogLevel } from "../../src/log.ts";
import {
  analyticsDataset,
  bindAnalytics,
  recordConnect,
  recordDisconnect,
  recordProvider,
  recordTurn,
  recordWebhook,
  type DataPoint,
} from "../../src/metrics/analytics.ts";

function sink() {
  const points: DataPoint[] = [];
  return { points, writeDataPoint: (p?: DataPoint) => void points.push(p ?? {}) };
}

afterEach(() => {
  bindAnalytics(undefined);
  setLogLevel("info");
  vi.restoreAllMocks();
});

describe("analytics data points", () => {
  it("does nothing without a dataset", () => {
    bindAnalytics(undefined);
    expect(analyticsDataset()).toBeUndefined();
    expect(() => recordConnect({ deviceId: "aa", auth: "device-token", mode: null, helloMs: 3, sockets: 1 })).not.toThrow();
    // Not a dataset: ignored rather than called.
    bindAnalytics({ writeDataPoint: "no" });
    expect(analyticsDataset()).toBeUndefined();
  });

  it("writes kind and device first, the device id as the index, -1 for what was not measured", () => {
    const ds = sink();
    bindAnalytics(ds);
    recordConnect({ deviceId: "aa:bb", auth: "device-token", mode: "meeting", helloMs: 4.5, sockets: 1 });
    recordDisconnect({ deviceId: "aa:bb", code: 1012, helloed: true, connectedMs: 9000, audioFrames: 12 });
    recordTurn({ deviceId: "aa:bb", trigger: "vad", outcome: "ok", firstFrameMs: 640, asrMs: 100, llmFirstTokenMs: null, frames: 30 });
    recordWebhook({ deviceId: "aa:bb", outcome: "retry", status: null, attempt: 2, ms: 5001 });
    expect(ds.points).toEqual([
      { indexes: ["aa:bb"], blobs: ["connect", "aa:bb", "device-token", "meeting"], doubles: [4.5, 1] },
      { indexes: ["aa:bb"], blobs: ["disconnect", "aa:bb", "1012", "hello"], doubles: [9000, 12] },
      { indexes: ["aa:bb"], blobs: ["turn", "aa:bb", "vad", "ok"], doubles: [640, 100, -1, -1, -1, -1, 30, -1, -1] },
      { indexes: ["aa:bb"], blobs: ["webhook", "aa:bb", "retry", ""], doubles: [2, 5001] },
    ]);
  });

  it("takes an explicit dataset over the bound one, and never throws from a failing one", () => {
    const bound = sink();
    const explicit = sink();
    bindAnalytics(bound);
    recordProvider({ provider: "llm", purpose: "summary", outcome: "ok", ms: 210, model: "m".repeat(200) }, explicit);
    expect(bound.points).toHaveLength(0);
    expect(explicit.points[0]!.blobs).toEqual(["provider", "", "llm", "summary", "ok", "m".repeat(96)]);
    const broken = {
      writeDataPoint: () => {
        throw new Error("buffer full");
      },
    };
    expect(() => recordProvider({ provider: "llm", purpose: "chat", outcome: "ok", ms: 1 }, broken)).not.toThrow();
  });

  it("counts every warning and error as a problem, whatever LOG_LEVEL hides", () => {
    const ds = sink();
    bindAnalytics(ds);
    vi.spyOn(console, "info").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    setLogLevel("error");
    log.info("device.hello", { deviceId: "aa" });
    log.warn("meeting.webhook_retry", { deviceId: "aa", reason: "HTTP 500" });
    log.error("object.entry_failed", { deviceId: "bb", code: "INTERNAL_ERROR" });
    expect(ds.points).toEqual([
      { indexes: ["aa"], blobs: ["problem", "aa", "warn", "meeting.webhook_retry", ""], doubles: [1] },
      { indexes: ["bb"], blobs: ["problem", "bb", "error", "object.entry_failed", "INTERNAL_ERROR"], doubles: [1] },
    ]);
    bindAnalytics(undefined);
    log.error("object.entry_failed", { deviceId: "bb" });
    expect(ds.points).toHaveLength(2);
  });
});
