import { log } from "../log.ts";
import { errorReply } from "../protocol/errors.ts";
import type { AlertOut } from "../protocol/messages.ts";
import type { Conn } from "./conn.ts";

// Long work (a voice turn: ASR, an LLM stream, audio paced in real time; an insight) runs here,
// detached from the frame that started it. Each turn has its own AbortController, cancelled by its
// capability, by a newer turn on the same socket, or by the socket closing. While any turn runs the
// host keeps the object alive: pings are answered by the runtime without waking the object, so
// nothing else would.

/** Thrown inside a turn when the device should hear why it failed (PROTOCOL §5: an `alert`). */
export class AlertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AlertError";
  }
}

export interface Turn {
  readonly id: number;
  readonly name: string;
  readonly conn: Conn;
  readonly signal: AbortSignal;
  readonly startedAt: number;
}

export interface TurnHost {
  now(): number;
  send(conn: Conn, msg: object): void;
  /** Keeps the runtime from evicting the object while `work` runs. */
  keepAlive(work: Promise<unknown>): void;
  /** Turns started or ended (the alarm plan depends on whether any runs). */
  changed(): void;
}

interface Running {
  turn: Turn;
  controller: AbortController;
  done: Promise<void>;
}

export class TurnRunner {
  private readonly running = new Map<string, Running>();
  /** Every turn not yet finished, cancelled ones included (they may still be cleaning up). */
  private readonly unfinished = new Set<Promise<void>>();
  private seq = 0;
  private readonly host: TurnHost;

  constructor(host: TurnHost) {
    this.host = host;
  }

  /** Starts `work` on `conn`, cancelling the turn already running there. */
  start(conn: Conn, name: string, work: (turn: Turn) => Promise<void>): Turn {
    this.cancel(conn, "superseded by a new turn");
    const controller = new AbortController();
    const turn: Turn = { id: ++this.seq, name, conn, signal: controller.signal, startedAt: this.host.now() };
    const entry: Running = { turn, controller, done: Promise.resolve() };
    this.running.set(conn.state.id, entry);
    entry.done = this.run(entry, work);
    this.unfinished.add(entry.done);
    void entry.done.then(() => this.unfinished.delete(entry.done));
    this.host.keepAlive(entry.done);
    this.host.changed();
    return turn;
  }

  private async run(entry: Running, work: (turn: Turn) => Promise<void>): Promise<void> {
    const { turn } = entry;
    try {
      // A microtask first, so the caller's frame handler finishes before the turn's first step.
      await Promise.resolve();
      await work(turn);
    } catch (err) {
      if (!turn.signal.aborted) this.report(turn, err);
    } finally {
      if (this.running.get(turn.conn.state.id) === entry) this.running.delete(turn.conn.state.id);
      this.host.changed();
    }
  }

  private report(turn: Turn, err: unknown): void {
    const sessionId = turn.conn.state.sessionId;
    if (err instanceof AlertError) {
      this.host.send(turn.conn, { type: "alert", status: "error", message: err.message, emotion: "sad", session_id: sessionId } satisfies AlertOut & {
        session_id: string;
      });
      return;
    }
    log.error("turn.failed", { deviceId: turn.conn.state.deviceId, turn: turn.name, error: err });
    this.host.send(turn.conn, errorReply("INTERNAL_ERROR", `the server failed during ${turn.name}; the session goes on`));
  }

  /** The turn running on `conn`, if any. */
  current(conn: Conn): Turn | undefined {
    return this.running.get(conn.state.id)?.turn;
  }

  /** Cancels the turn on `conn` (or only turn `id`); true when one was running. */
  cancel(conn: Conn, reason: string, id?: number): boolean {
    const entry = this.running.get(conn.state.id);
    if (!entry || (id !== undefined && entry.turn.id !== id)) return false;
    this.running.delete(conn.state.id);
    entry.controller.abort(new DOMException(reason, "AbortError"));
    this.host.changed();
    return true;
  }

  get busy(): boolean {
    return this.running.size > 0;
  }

  /** Settles when every turn, cancelled ones included, has finished (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.unfinished.size) await Promise.all([...this.unfinished]);
  }
}
