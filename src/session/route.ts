import type { z } from "zod";
import type { Conn } from "./conn.ts";
import type { DeviceSession } from "./device-session.ts";

export interface HandlerCtx {
  session: DeviceSession;
  conn: Conn;
  now: number;
  reply(msg: object): void;
}

export interface Route<S extends z.ZodType = z.ZodType> {
  schema: S;
  handle(msg: z.infer<S>, ctx: HandlerCtx): void | Promise<void>;
}

/** Keeps the schema and the handler's parameter type tied together in the route table. */
export function route<S extends z.ZodType>(schema: S, handle: Route<S>["handle"]): Route {
  return { schema, handle } as Route;
}
