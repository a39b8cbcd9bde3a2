import { DatabaseSync } from "node:sqlite";
import { parseSettings, type Settings } from "../../src/config/settings.ts";
import type { Bucket } from "../../src/meeting/archive.ts";
import type { PeerPort } from "../../src/peer/port.ts";
import type { Conn, ConnState } from "../../src/session/conn.ts";
import { newConnState } from "../../src/session/conn.ts";
import { DeviceSession, type SessionRuntime } from "../../src/session/device-session.ts";
import type { Sql, SqlCursor, SqlValue } from "../../src/storage/sql.ts";
import type { WorkflowPort } from "../../src/workflow/port.ts";

// The portable session core on a runtime that is not workerd: SQLite from `node:sqlite` (Node 24 and
// Deno both have it), sockets as arrays, a clock the test moves. If the core imported anything of
// the Workers runtime, this would not load.

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
  sendBinary() {}
  close(code: number, reason: string) {
    this.closed = { code, reason };
  }
  save() {}
}

export interface MemoryDevice {
  session: DeviceSession;
  clock: { now: number };
  alarm: { at: number | null };
  conns: MemoryConn[];
  connect(deviceId: string): MemoryConn;
}

export function memoryDevice(raw: Record<string, string> = {}, ports: Partial<{ peers: PeerPort; workflow: WorkflowPort; archive: Bucket }> = {}): MemoryDevice {
  const settings: Settings = parseSettings(raw).settings;
  const clock = { now: 1_800_000_000_000 };
  const alarm = { at: null as number | null };
  const conns: MemoryConn[] = [];
  const unused = () => {
    throw new Error("not wired in this test");
  };
  const rt: SessionRuntime = {
    settings,
    sql: sqliteSql(),
    alarm: { setAlarm: (at) => (alarm.at = at), deleteAlarm: () => (alarm.at = null) },
    now: () => clock.now,
    sockets: () => conns,
    lastAutoResponse: () => 0,
    peers: ports.peers ?? { deliver: unused, broadcast: unused, notifyRedelivered: async () => {}, join: async () => {} },
    workflow: ports.workflow ?? { apply: unused, snapshot: unused, get: unused },
    archive: ports.archive ?? { put: unused, get: unused, delete: unused, list: unused },
    defer: (p) => void p.catch(() => {}),
    later: (work) => void work(),
  };
  const session = new DeviceSession(rt);
  return {
    session,
    clock,
    alarm,
    conns,
    connect(deviceId) {
      const conn = new MemoryConn(newConnState({ id: `c${conns.length + 1}`, deviceId, clientId: deviceId, sessionId: `s${conns.length + 1}`, headerVersion: null, assignedId: false, now: clock.now }));
      conns.push(conn);
      session.onConnect(conn);
      return conn;
    },
  };
}
