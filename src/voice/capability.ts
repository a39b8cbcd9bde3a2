import { capability, type HandlerCtx, type RuntimeSlot, type Session } from "../session/capability.ts";
import { ChatHistory, HISTORY_MIGRATION } from "./history.ts";
import { cancelEarlyAsr, earlyAnswerFor } from "./early-asr.ts";
import type { Utterance } from "./listener.ts";
import {
  chat,
  freeVoiceConn,
  listenerOf,
  releaseIdleCodecs,
  newVoiceConn,
  recogniseEarly,
  say,
  speechTurn,
  startVoiceTurn,
  type VoiceConn,
  type VoiceServices,
} from "./turn.ts";

// Voice (PROTOCOL §4, §5, §5.1): capture and turn detection on the socket's audio, turns that
// recognise, dispatch and answer, barge-in, and the chat history. Last in the capability list, so
// meeting mode and working-mode commands see an utterance before chat does.

export function voiceCapability(services: VoiceServices) {
  const slot: RuntimeSlot<VoiceConn> = { name: "voice", create: newVoiceConn, dispose: freeVoiceConn };
  const vcOf = (ctx: HandlerCtx) => ctx.session.runtime(ctx.conn, slot);

  function heard(ctx: HandlerCtx, vc: VoiceConn, u: Utterance): void {
    const st = ctx.conn.state;
    st.listen = st.listenMode === "realtime" ? "listening" : "finalizing";
    ctx.conn.save();
    // Taken now: in realtime mode the next utterance's pause may start another before the turn runs.
    const early = earlyAnswerFor(vc.early, u.audio);
    vc.early = null;
    startVoiceTurn(ctx, vc, services, u.trigger, (_turn, active) => speechTurn(ctx, vc, services, active, u, early));
  }

  /** A reply in this socket's running turn, or a turn of its own when none is dispatching. */
  function respond(
    ctx: HandlerCtx,
    trigger: "typed" | "wake",
    run: (vc: VoiceConn, active: NonNullable<VoiceConn["active"]>) => Promise<void>,
    echo?: string,
  ): void | Promise<void> {
    const vc = vcOf(ctx);
    const active = vc.active;
    if (active?.dispatching && ctx.session.turns.current(ctx.conn) === active.turn) return run(vc, active);
    startVoiceTurn(ctx, vc, services, trigger, async (_turn, a) => {
      if (echo !== undefined) ctx.reply({ type: "stt", text: echo, session_id: ctx.conn.state.sessionId });
      await run(vc, a);
    });
  }

  return capability({
    name: "voice",
    migrations: [HISTORY_MIGRATION],

    onListen(ctx, event) {
      const vc = vcOf(ctx);
      if (event.state === "start") {
        listenerOf(vc, services, ctx).start(event.mode);
        return;
      }
      if (event.state === "stop") {
        const u = vc.listener?.stop("listen_stop");
        if (u) heard(ctx, vc, u);
        return;
      }
      const greeting = ctx.session.settings.WAKE_GREETING;
      if (greeting) return respond(ctx, "wake", (v, a) => say(ctx, v, services, a, greeting), event.text);
    },

    onAudio(ctx, frame) {
      const st = ctx.conn.state;
      if (st.listen !== "listening") return;
      const vc = vcOf(ctx);
      const listener = listenerOf(vc, services, ctx);
      // Rebuilt after the object woke: the attachment says the device is still listening.
      if (listener.listening === null) listener.start(st.listenMode);
      const realtime = st.listenMode === "realtime";
      if (vc.active?.replying && !realtime) return; // the device hears its own reply; not a turn
      if (frame.kind === "end-of-speech") {
        const u = listener.stop("end_frame");
        if (u) heard(ctx, vc, u);
        return;
      }
      for (const e of listener.audio(frame.payload)) {
        if (e.type === "utterance") heard(ctx, vc, e.utterance);
        else if (e.type === "speech_pause") recogniseEarly(ctx, vc, services, e.audio);
        else if (e.type === "speech_resume") vc.early = cancelEarlyAsr(vc.early);
        else if (realtime && vc.active?.replying) {
          // Barge-in: the reply stops now; the speech goes on being captured as the next turn.
          ctx.session.turns.cancel(ctx.conn, "barge-in", vc.active.turn.id);
          ctx.reply({ type: "tts", state: "stop", session_id: st.sessionId });
        }
      }
    },

    onAbort(ctx) {
      const vc = vcOf(ctx);
      vc.listener?.cancel();
      vc.early = cancelEarlyAsr(vc.early);
      releaseIdleCodecs(vc);
    },

    async onUtterance(ctx, text, source) {
      await respond(ctx, "typed", (vc, a) => chat(ctx, vc, services, a, text), source === "typed" ? text : undefined);
      return true;
    },

    say(ctx, text) {
      return respond(ctx, "typed", (vc, a) => say(ctx, vc, services, a, text));
    },

    rpc: {
      /** The device's chat history, oldest first (PROTOCOL §11). */
      history(session: Session) {
        return new ChatHistory(session.sql, session.schema).all().map((m) => ({ role: m.role, text: m.content, ts: m.at }));
      },
      clearHistory(session: Session): number {
        return new ChatHistory(session.sql, session.schema).clear();
      },
    },
  });
}
