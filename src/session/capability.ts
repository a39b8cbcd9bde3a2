import type { z } from "zod";
import type { Settings } from "../config/settings.ts";
import type { ModeName } from "../protocol/messages.ts";
import type { ParsedFrame } from "../protocol/binary.ts";
import type { Migration, Schema, Sql } from "../storage/sql.ts";
import type { Conn } from "./conn.ts";
import type { DeviceStore } from "./device-store.ts";

export { fact, type Fact } from "./device-store.ts";
import type { TimerTable } from "./timers.ts";
import type { TurnRunner } from "./turns.ts";

// What a capability (peer messages, meetings, working mode, voice, ...) may declare, and the narrow
// session API it is given. The session core imports no capability: the list is built in
// src/capabilities.ts and handed to the host, so adding one touches that list and its own folder.

/** The session as capabilities see it: one device, its sockets, its storage and its timers. */
export interface Session {
  /** The device this object serves (its Durable Object name). */
  readonly deviceId: string;
  readonly settings: Settings;
  readonly mode: ModeName | null;
  /** The device's group key (PROTOCOL §7): a capability's override (the profile's), else the settings'. */
  readonly groupKey: string;
  /** The device's alias: a capability's override (the profile's), else DEVICE_ALIASES; null when neither. */
  readonly alias: string | null;
  /** The alias and group capabilities set for this device (the profile's), without the settings' fallback. */
  overrides(): { alias: string | null; group: string | null };
  /** Small per-device facts (typed keys, see `fact`). */
  readonly store: DeviceStore;
  /** One alarm, many named timers; a capability's timer names start with a prefix it declares. */
  readonly timers: Pick<TimerTable, "set" | "get" | "clear">;
  /** The device's SQLite; tables come from the capabilities' migrations, created on first write. */
  readonly sql: Sql;
  readonly schema: Schema;
  readonly turns: TurnRunner;
  readonly online: boolean;
  now(): number;
  /** Open sockets that said hello and were not replaced, newest first. */
  live(): Conn[];
  /** The socket pushes go to: the newest live one. */
  current(): Conn | undefined;
  send(conn: Conn, msg: object): void;
  /** Sends to the current socket; false when there is none (the caller decides what then). */
  push(msg: object): boolean;
  /** Keeps background work alive past the current event. */
  defer(work: Promise<unknown>): void;
  /** Runs `work` once what this event sent has gone out (storage work kept out of a reply's latency). */
  later(work: () => void | Promise<void>, delayMs?: number): void;
  /** Runs `work` once per key at a time: concurrent callers share the run in progress. */
  once(key: string, work: () => Promise<void>): Promise<void>;
  /** Per-object memo (survives until the object is evicted), keyed by an object of the caller's. */
  local<T>(key: object, create: () => T): T;
  /** Per-connection runtime state, never serialised: created on first use, disposed on close. */
  runtime<T>(conn: Conn, slot: RuntimeSlot<T>): T;
  /**
   * Says a short fixed text to the device (a working-mode confirmation): spoken by the capability
   * that can speak, else shown as text (`tts sentence_start`).
   */
  say(ctx: HandlerCtx, text: string): Promise<void>;
  /** Hands an utterance (typed or recognised) to the capabilities, in list order. */
  utterance(ctx: HandlerCtx, text: string, source: UtteranceSource): Promise<void>;
  /** Points the alarm at the next moment a socket needs attention. */
  reschedule(): void;
}

export interface HandlerCtx {
  session: Session;
  conn: Conn;
  now: number;
  reply(msg: object): void;
}

export interface Route<S extends z.ZodType = z.ZodType> {
  schema: S;
  handle(msg: z.infer<S>, ctx: HandlerCtx): void | Promise<void>;
}

/** Keeps the schema and the handler's parameter type tied together in a route table. */
export function route<S extends z.ZodType>(schema: S, handle: Route<S>["handle"]): Route {
  return { schema, handle } as Route;
}

export type UtteranceSource = "typed" | "speech";

export interface ModeHooks {
  start?(ctx: HandlerCtx): void | Promise<void>;
  /** `ctx` is absent when the mode ends without a device message. */
  end?(session: Session, ctx: HandlerCtx | undefined): void | Promise<void>;
}

export type TimerHandler = (session: Session, data: string | null) => void | Promise<void>;

/** An RPC entry point; the object's name gives the device, so it is not an argument. */
export type RpcHandler = (session: Session, ...args: never[]) => unknown;

/** Per-connection state that cannot be serialised (a codec, a buffer, an AbortController). */
export interface RuntimeSlot<T> {
  readonly name: string;
  create(session: Session, conn: Conn): T;
  dispose?(value: T): void;
}

export type AudioFrame = Extract<ParsedFrame, { kind: "audio" | "end-of-speech" }>;

export interface Capability {
  readonly name: string;
  /** Message type → schema and handler. A capability may take over a stock type (`mcp`). */
  readonly routes?: Readonly<Record<string, Route>>;
  readonly migrations?: readonly Migration[];
  /** After the first hello reply on a socket (and out of its latency), in list order. */
  afterHello?(ctx: HandlerCtx): void | Promise<void>;
  readonly modes?: Partial<Record<ModeName, ModeHooks>>;
  /** Timer name prefix (up to ':') → what runs when it fires. */
  readonly timers?: Readonly<Record<string, TimerHandler>>;
  /** Opus frames and end-of-speech marks from a socket that said hello. */
  onAudio?(ctx: HandlerCtx, frame: AudioFrame): void;
  /** A listen event after the core's debounce (PROTOCOL §5). */
  onListen?(ctx: HandlerCtx, event: ListenEvent): void | Promise<void>;
  /** A typed or recognised utterance; true when this capability took it. Tried in list order. */
  onUtterance?(ctx: HandlerCtx, text: string, source: UtteranceSource): boolean | Promise<boolean>;
  /** Speaks `text` (see Session.say); the first capability that has this hook does it. */
  say?(ctx: HandlerCtx, text: string): void | Promise<void>;
  /** `abort` from the device, after the core cancelled its turn. */
  onAbort?(ctx: HandlerCtx): void;
  onClose?(session: Session, conn: Conn, code: number): void;
  /**
   * Names that win over DEVICE_ALIASES and DEVICE_GROUPS for this device (the profile's, PROTOCOL
   * §11); for each field the first capability in list order that gives one wins. Read often: keep
   * it to cached reads.
   */
  names?(session: Session): { alias?: string | undefined; group?: string | undefined } | undefined;
  /** Fields this capability adds to GET /api/devices/:id. */
  describe?(session: Session): Record<string, unknown>;
  /** RPC entry points, reached through the object's `call(name, args)`. */
  readonly rpc?: Readonly<Record<string, RpcHandler>>;
}

export type ListenEvent = { state: "start"; mode: "auto" | "manual" | "realtime" } | { state: "stop" } | { state: "wake"; text: string };

/**
 * A capability's slice of a socket's serialised attachment, namespaced by capability so fields can
 * never clobber each other. Keep it to a few small scalars: the whole attachment stays under 2 KiB.
 */
export function attached<T extends Record<string, unknown>>(conn: Conn, name: string, initial: () => T): T {
  const ext = conn.state.ext;
  let v = ext[name] as T | undefined;
  if (!v) ext[name] = v = initial();
  return v;
}

/** Declares a capability, keeping its literal name and RPC signatures for the typed RPC client. */
export function capability<const C extends Capability>(c: C): C {
  return c;
}
