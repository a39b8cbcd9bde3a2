import type WebSocket from "ws";
import type { BinaryVersion } from "../../src/protocol/binary.ts";
import type { Clock } from "../../src/voice/clock.ts";
import type { OpusLib } from "../../src/voice/opus.ts";
import { nodeClock, pacePackets, silenceSource, UPLINK_FRAME_MS, uplinkFrame, type Utterance } from "./device-audio.ts";
import type { DeviceClient, Json } from "./device-client.ts";

// One spoken utterance as the firmware sends it (PROTOCOL §5): `listen start`, Opus packets in real
// time, then the end of speech. Manual (push-to-talk): `listen stop` when the audio ends. Auto: the
// device keeps streaming (silence here) until the server's VAD has ended the turn and its `stt`
// arrives, or a limit passes.

export type TalkMode = "manual" | "auto";
export const TALK_MODES: readonly TalkMode[] = ["manual", "auto"];

/** The server ignores a `listen stop` within 300 ms of the `listen start` (button bounce, PROTOCOL §5). */
const LISTEN_DEBOUNCE_MS = 300;
/**
 * The server measures that gap when it handles each message, not when it was sent: a start that
 * waited behind the hello's work on a loaded server (185 ms seen in CI) makes a stop sent 350 ms
 * later look like a bounce, and a fast manual turn never ends. Only fast sends get this close.
 */
const DEBOUNCE_MARGIN_MS = 700;

export interface TalkOptions {
  mode: TalkMode;
  /** The socket's binary protocol version. */
  version: BinaryVersion;
  /** Send as fast as the socket takes it instead of one packet per 60 ms. */
  fast?: boolean;
  clock?: Clock;
  /** Auto mode: the most silence sent after the audio while waiting for the server (default 3000 ms). */
  maxSilenceMs?: number;
  signal?: AbortSignal;
}

export interface TalkResult {
  /** Packets of the utterance sent (fewer when the server answered first in auto mode). */
  packets: number;
  silencePackets: number;
  /** The server's `stt` (or `alert`) if it arrived while this was sending. */
  heard: Json | null;
}

/** Streams `utt` over the client's socket; resolves once the device has stopped sending. */
export async function talk(client: DeviceClient, utt: Utterance, lib: OpusLib, opts: TalkOptions): Promise<TalkResult> {
  const clock = opts.clock ?? nodeClock;
  let heard: Json | null = null;
  const watch = (data: WebSocket.RawData, isBinary: boolean) => {
    if (isBinary || heard) return;
    try {
      const msg = JSON.parse(data.toString()) as Json;
      if (msg.type === "stt" || msg.type === "alert") heard = msg;
    } catch {
      /* not ours to report */
    }
  };
  client.ws.on("message", watch);
  const silence = opts.mode === "auto" ? silenceSource(lib) : null;
  const maxSilence = Math.ceil((opts.maxSilenceMs ?? 3000) / UPLINK_FRAME_MS);
  let silent = 0;
  try {
    client.send({ type: "listen", state: "start", mode: opts.mode });
    const startedAt = clock.now();
    const sent = await pacePackets(
      (i) => {
        // A device in auto mode stops streaming once the server has taken the turn.
        if (!client.isOpen || (opts.mode === "auto" && heard)) return null;
        if (i < utt.packets.length) return utt.packets[i] ?? null;
        if (!silence || silent >= maxSilence) return null;
        silent++;
        return silence.next();
      },
      (packet, i) => client.sendRaw(uplinkFrame(opts.version, packet, i)),
      { clock, fast: opts.fast ?? false, ...(opts.signal ? { signal: opts.signal } : {}) },
    );
    if (opts.mode === "manual" && client.isOpen && !opts.signal?.aborted) {
      const wait = startedAt + LISTEN_DEBOUNCE_MS + DEBOUNCE_MARGIN_MS - clock.now();
      if (wait > 0) await clock.sleep(wait, opts.signal);
      client.send({ type: "listen", state: "stop" });
    }
    return { packets: Math.min(sent, utt.packets.length), silencePackets: silent, heard };
  } finally {
    client.ws.off("message", watch);
    silence?.free();
  }
}
