import { readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { deviceCapabilities, type Services } from "../../src/capabilities.ts";
import { NO_FLEET } from "../../src/fleet/port.ts";
import { parseSettings, type Settings } from "../../src/config/settings.ts";
import type { Capability } from "../../src/session/capability.ts";
import type { Conn, ConnState } from "../../src/session/conn.ts";
import { newConnState } from "../../src/session/conn.ts";
import { DeviceSession, type SessionRuntime } from "../../src/session/device-session.ts";
import type { Sql, SqlCursor, SqlValue } from "../../src/storage/sql.ts";
import { realClock } from "../../src/voice/clock.ts";
import { loadOpus, type OpusLib } from "../../src/voice/opus.ts";

// The portable session core on a runtime that is not workerd: SQLite from `node:sqlite` (Node 24 and
// Deno both have it), sockets as arrays, a clock the test moves. If the core imported anything of
// the Workers runtime, this would not load. Tests drive it through the same entry points the
// Durable Object uses (onConnect, onText, onBinary, onClose, onAlarm, rpc).

export function sqliteSql(): Sql {
  const db = new DatabaseSync(":memory:");
  return {
    exec<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): SqlCursor<T> {
      const params = bindings as Array<string | number | null>;
      let rows: T[] = [];
      let written = 0;
      if (/^\s*(SELECT|WITH)\b/i.test(query)) rows = db.prepare(query).all(...params) as T[];
      else if (params.length === 0 && query.trim().replace(/;\s*$/, "").includes(";")) db.exec(query);
      else written = Number(db.prepare(query).run(...params).changes);
      return {
        toArray: () => rows,
        one: () => {
          if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
          return rows[0]!;
        },
        rowsWritten: written,
        [Symbol.iterator]: () => rows[Symbol.iterator](),
      };
    },
  };
}

export class MemoryConn implements Conn {
  readonly state: ConnState;
  readonly sent: Array<Record<string, unknown>> = [];
  readonly binary: Uint8Array[] = [];
  /** The attachment as last saved (what would survive hibernation). */
  saved: string | null = null;
  closed: { code: number; reason: string } | null = null;
  constructor(state: ConnState) {
    this.state = state;
  }
  get open() {
    return this.closed === null;
  }
  send(msg: object) {
    this.sent.push(JSON.parse(JSON.stringify(msg)));
  }
  sendBinary(bytes: Uint8Array) {
    this.binary.push(bytes.slice());
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
  }
  save() {
    this.saved = JSON.stringify(this.state);
  }
  /** Messages of one type, in order. */
  of(type: string): Array<Record<string, unknown>> {
    return this.sent.filter((m) => m.type === type);
  }
}

export interface MemoryDevice {
  deviceId: string;
  session: DeviceSession;
  settings: Settings;
  clock: { now: number };
  alarm: { at: number | null };
  conns: MemoryConn[];
  /** Work handed to `defer`/`later`, awaited by `settle`. */
  pending: Set<Promise<unknown>>;
  connect(opts?: { headerVersion?: 1 | 2 | 3 }): MemoryConn;
  /** Connects and says the firmware hello; resolves once the after-hello work has run. */
  hello(conn?: MemoryConn, hello?: object): Promise<MemoryConn>;
  /** Waits for deferred work and running turns. */
  settle(): Promise<void>;
  /** Moves the clock to the alarm and runs it. */
  fireAlarm(): Promise<void>;
  close(conn: MemoryConn, code?: number): void;
}

const unused = () => {
  throw new Error("not wired in this test");
};

let opus: OpusLib | null = null;
/** libopus from the package's wasm file (Node and Deno read it; workerd imports it as a module). */
export function opusFromPackage(): OpusLib {
  opus ??= loadOpus(new WebAssembly.Module(readFileSync(new URL("../../node_modules/@evan/opus/wasm/opus.wasm", import.meta.url))));
  return opus;
}

/** Services that fail loudly if a test reaches them without wiring them. */
export function unwiredServices(over: Partial<Services> = {}): Services {
  return {
    peers: { deliver: unused, broadcast: unused, notifyRedelivered: async () => {}, join: async () => {}, leave: async () => {} },
    workflow: { apply: unused, snapshot: unused, get: unused },
    archive: { put: unused, get: unused, delete: unused, list: unused },
    voice: { opus: opusFromPackage, clock: realClock },
    // The registry is a side channel of every connect: off unless a test wires one.
    fleet: NO_FLEET,
    ...over,
  };
}

export const FIRMWARE_HELLO_MSG = {
  type: "hello",
  version: 1,
  transport: "websocket",
  features: { mcp: true },
  audio_params: { format: "opus", sample_rate: 16000, channels: 1, frame_duration: 60 },
};

export function memoryDevice(
  raw: Record<string, string> = {},
  opts: { deviceId?: string; services?: Partial<Services>; capabilities?: readonly Capability[] } = {},
): MemoryDevice {
  const deviceId = opts.deviceId ?? "aa:bb:cc:00:00:01";
  const settings: Settings = parseSettings(raw).settings;
  const clock = { now: 1_800_000_000_000 };
  const alarm = { at: null as number | null };
  const conns: MemoryConn[] = [];
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const q = p.catch(() => {});
    pending.add(q);
    void q.finally(() => pending.delete(q));
  };
  const rt: SessionRuntime = {
    deviceId,
    settings,
    sql: sqliteSql(),
    alarm: { setAlarm: (at) => (alarm.at = at), deleteAlarm: () => (alarm.at = null) },
    now: () => clock.now,
    sockets: () => conns,
    lastAutoResponse: () => 0,
    defer: track,
    later: (work) => track(Promise.resolve().then(work)),
  };
  const session = new DeviceSession(rt, opts.capabilities ?? deviceCapabilities(unwiredServices(opts.services)));
  const device: MemoryDevice = {
    deviceId,
    session,
    settings,
    clock,
    alarm,
    conns,
    pending,
    connect(o = {}) {
      const n = conns.length + 1;
      const conn = new MemoryConn(
        newConnState({
          id: `c${n}`,
          deviceId,
          clientId: deviceId,
          sessionId: `s${n}`,
          headerVersion: o.headerVersion ?? null,
          assignedId: false,
          now: clock.now,
        }),
      );
      conns.push(conn);
      session.onConnect(conn);
      return conn;
    },
    async hello(conn, hello = FIRMWARE_HELLO_MSG) {
      const c = conn ?? device.connect();
      await session.onText(c, JSON.stringify(hello));
      await device.settle();
      return c;
    },
    async settle() {
      for (let i = 0; i < 20 && (pending.size || session.turns.busy); i++) {
        await Promise.all([...pending]);
        await session.turns.idle();
      }
    },
    async fireAlarm() {
      if (alarm.at === null) throw new Error("no alarm set");
      clock.now = Math.max(clock.now, alarm.at);
      await session.onAlarm();
      await device.settle();
    },
    close(conn, code = 1000) {
      conn.closed = { code, reason: "closed by test" };
      session.onClose(conn, code);
    },
  };
  return device;
}
