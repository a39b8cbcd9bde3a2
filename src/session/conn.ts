import type { BinaryVersion } from "../protocol/binary.ts";

// A device socket as the session core sees it. The Durable Object adapts a hibernatable WebSocket
// to this; tests adapt an in-memory fake. The state is what survives hibernation (the socket's
// serialized attachment), so it stays small.

export type ListenPhase = "idle" | "listening" | "finalizing";

export interface ConnState {
  /** Socket tag, unique per connection. */
  id: string;
  deviceId: string;
  clientId: string;
  sessionId: string;
  /** Binary protocol from the Protocol-Version header, if the device sent one. */
  headerVersion: BinaryVersion | null;
  /** Binary protocol in force: header, else hello version, else 1. */
  binary: BinaryVersion;
  /** Downlink frame duration from the device's hello (ms). */
  frameDuration: number;
  /** The hello's `features` that are true (e.g. "mcp"). */
  features: string[];
  connectedAt: number;
  helloAt: number | null;
  lastActivity: number;
  lastSentAt: number;
  warnedAt: number | null;
  replacedAt: number | null;
  /** The server assigned the device id (AUTH_MODE=off without one). */
  assignedId: boolean;
  /** How the upgrade was authenticated (for the connection's log line). */
  auth: string;
  /** `http(s)://host` the device reached us at: URLs handed to it (the vision endpoint) use it. */
  origin: string;
  listen: ListenPhase;
  listenMode: "auto" | "manual" | "realtime";
  listenChangedAt: number;
  audioFrames: number;
  badFrames: number;
  badFrameReplyAt: number;
  /** Capabilities' own small fields, one namespace each (see `attached` in capability.ts). */
  ext: Record<string, unknown>;
  /** The deployed version that accepted the socket (CF_VERSION_METADATA id; "" when unknown). */
  build: string;
}

export interface Conn {
  readonly state: ConnState;
  readonly open: boolean;
  send(msg: object): void;
  sendBinary(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Writes the state back to where it survives hibernation. */
  save(): void;
}

export function newConnState(init: {
  id: string;
  deviceId: string;
  clientId: string;
  sessionId: string;
  headerVersion: BinaryVersion | null;
  assignedId: boolean;
  auth?: string;
  build?: string;
  origin?: string;
  now: number;
}): ConnState {
  return {
    id: init.id,
    deviceId: init.deviceId,
    clientId: init.clientId,
    sessionId: init.sessionId,
    headerVersion: init.headerVersion,
    binary: init.headerVersion ?? 1,
    frameDuration: 60,
    features: [],
    connectedAt: init.now,
    helloAt: null,
    lastActivity: init.now,
    lastSentAt: init.now,
    warnedAt: null,
    replacedAt: null,
    assignedId: init.assignedId,
    auth: init.auth ?? "",
    origin: init.origin ?? "",
    listen: "idle",
    listenMode: "auto",
    listenChangedAt: 0,
    audioFrames: 0,
    badFrames: 0,
    badFrameReplyAt: 0,
    ext: {},
    build: init.build ?? "",
  };
}

/**
 * A socket's state as read back from its attachment. A socket can outlive the version that
 * accepted it (a hibernated object's sockets stay open across a deploy), so an attachment may lack
 * fields added since: they get their defaults, and the socket keeps working until the restart
 * close of a stale socket (lifecycle.ts) ends it.
 */
export function restoreConnState(raw: unknown): ConnState {
  const saved = (raw && typeof raw === "object" ? raw : {}) as Partial<ConnState>;
  const id = typeof saved.id === "string" ? saved.id : "";
  const deviceId = typeof saved.deviceId === "string" ? saved.deviceId : "";
  const defaults = newConnState({
    id,
    deviceId,
    clientId: deviceId,
    sessionId: "",
    headerVersion: null,
    assignedId: false,
    now: typeof saved.connectedAt === "number" ? saved.connectedAt : 0,
  });
  const state = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(saved)) if (v !== undefined && k in defaults) state[k] = v;
  return state as unknown as ConnState;
}
