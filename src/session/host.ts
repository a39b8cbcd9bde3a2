import type { HandlerCtx, Session } from "./capability.ts";
import type { Conn } from "./conn.ts";
import type { Registry } from "./registry.ts";

// What the core's own handlers (hello, listen, mode, abort) need beyond the capabilities' Session:
// the capability list, to hand events on. Implemented by DeviceSession; declared here so handlers
// need not import the class (no import cycle).

export interface Host extends Session {
  readonly registry: Registry;
  /** A frame before the hello: dropped and logged once per socket. */
  beforeHello(conn: Conn, frame: string): void;
  /** A stock firmware message over the rate limit: dropped and counted. */
  dropped(conn: Conn): void;
}

export interface HostCtx extends HandlerCtx {
  session: Host;
}
