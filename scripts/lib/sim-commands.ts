import { encodeFrame, type BinaryVersion } from "../../src/protocol/binary.ts";
import { FIRMWARE_HELLO, type Json } from "./device-client.ts";
import type { TalkMode } from "./device-talk.ts";

// The device simulator's command language (scripts/device.ts): one line in, one action out. Pure,
// so it can be unit-tested and reused by other interactive tools.

export type SimAction =
  | { kind: "json"; msg: Json }
  | { kind: "raw"; text: string }
  | { kind: "binary"; frames: Uint8Array[] }
  | { kind: "speak"; file: string; mode: TalkMode; fast: boolean }
  | { kind: "save"; target: SaveTarget }
  | { kind: "help" }
  | { kind: "quit" }
  | { kind: "none" }
  | { kind: "error"; message: string };

/** `save <file.wav>`: the next reply; `save <dir>`: every reply; `save off`. */
export type SaveTarget = { kind: "file" | "dir"; path: string } | { kind: "off" };

export const SIM_HELP = `commands:
  {json}                              send a raw JSON line as is
  ping                                {"type":"ping"}
  hello                               the firmware hello again
  listen start [auto|manual|realtime] start capturing (default auto)
  listen stop                         end of utterance
  say <text>                          {"type":"listen","state":"detect","text":...}
  say <file.wav|.ogg> [manual|auto] [fast]
                                      speak a WAV or Ogg Opus file as the microphone would, in real
                                      time (fast: at once); manual ends with listen stop, auto (the
                                      default) streams silence until the server's stt
  save <file.wav> | <dir> | off       the next reply to that file, every reply into dir, or none
  abort                               barge-in
  mode start|end meeting|working|coding
  coding start|stop|clear             coding mode run control (stop: the summary)
  coding log [info|warn|error] <text> one line of build output (level defaults to info)
  coding step <name> <status>         e.g. coding step build fail
  coding phase <name>                 e.g. coding phase test
  peer <to> <text>                    chat message to a device id, "broadcast" or "group:<key>"
  task list                           {"type":"workflow","event":"list"}
  audio <n>                           n fake Opus frames, 60 ms apart (binary, in the --protocol version)
  raw <text>                          send text exactly as typed
  help, quit`;

const LISTEN_MODES = new Set(["auto", "manual", "realtime"]);
const MODES = new Set(["meeting", "working", "coding"]);
const LOG_LEVELS = new Set(["info", "warn", "error"]);
/** `say` with one of these is a sound file to speak, anything else a typed utterance. */
const AUDIO_FILE = /\.(wav|ogg|opus|oga)$/i;

/** A fake Opus packet: a TOC byte for a 60 ms SILK frame followed by filler (not decodable audio). */
function fakeOpus(i: number): Uint8Array {
  const p = new Uint8Array(40);
  p[0] = 0x18;
  p.fill(i & 0xff, 1);
  return p;
}

/** The firmware hello; its `version` is the binary protocol version, as the firmware sends it. */
export function simHello(protocol: BinaryVersion = 1): Json {
  return { ...FIRMWARE_HELLO, version: protocol };
}

export function parseSimCommand(line: string, protocol: BinaryVersion = 1): SimAction {
  const text = line.trim();
  if (!text) return { kind: "none" };
  if (text.startsWith("{")) return { kind: "raw", text };
  const [cmd = "", ...rest] = text.split(/\s+/);
  const arg = text.slice(cmd.length).trim();
  const usage = (u: string): SimAction => ({ kind: "error", message: `usage: ${u}` });
  switch (cmd.toLowerCase()) {
    case "ping":
      return { kind: "json", msg: { type: "ping" } };
    case "hello":
      return { kind: "json", msg: simHello(protocol) };
    case "listen": {
      const [state, mode = "auto"] = rest;
      if (state === "start" && LISTEN_MODES.has(mode)) return { kind: "json", msg: { type: "listen", state: "start", mode } };
      if (state === "stop") return { kind: "json", msg: { type: "listen", state: "stop" } };
      return usage("listen start [auto|manual|realtime] | listen stop");
    }
    case "say":
      if (rest[0] && AUDIO_FILE.test(rest[0])) return speakCommand(rest);
      return arg ? { kind: "json", msg: { type: "listen", state: "detect", text: arg } } : usage("say <text> | say <file.wav|.ogg> [manual|auto] [fast]");
    case "save":
      if (rest.length !== 1 || !rest[0]) return usage("save <file.wav> | <dir> | off");
      if (rest[0] === "off") return { kind: "save", target: { kind: "off" } };
      return { kind: "save", target: { kind: /\.wav$/i.test(rest[0]) ? "file" : "dir", path: rest[0] } };
    case "abort":
      return { kind: "json", msg: { type: "abort" } };
    case "mode": {
      const [state, mode] = rest;
      if ((state === "start" || state === "end") && mode && MODES.has(mode)) return { kind: "json", msg: { type: "mode", state, mode } };
      return usage("mode start|end meeting|working|coding");
    }
    case "peer": {
      const [to] = rest;
      const msg = arg.slice(to?.length ?? 0).trim();
      if (!to || !msg) return usage("peer <to> <text>");
      return { kind: "json", msg: { type: "peer", to: [to], category: "chat", payload: { text: msg } } };
    }
    case "coding":
      return codingCommand(rest, arg.slice(rest[0]?.length ?? 0).trim());
    case "task":
      return rest[0] === "list" ? { kind: "json", msg: { type: "workflow", event: "list" } } : usage("task list");
    case "audio": {
      const n = Number(rest[0] ?? "1");
      if (!Number.isInteger(n) || n < 0 || n > 10_000) return usage("audio <n> (0..10000)");
      return { kind: "binary", frames: Array.from({ length: n }, (_, i) => encodeFrame(protocol, fakeOpus(i), i * 60)) };
    }
    case "raw":
      return arg ? { kind: "raw", text: arg } : usage("raw <text>");
    case "help":
    case "?":
      return { kind: "help" };
    case "quit":
    case "exit":
      return { kind: "quit" };
    default:
      return { kind: "error", message: `unknown command "${cmd}" (try help)` };
  }
}

function speakCommand([file = "", ...opts]: string[]): SimAction {
  let mode: TalkMode = "auto";
  let fast = false;
  for (const o of opts) {
    if (o === "manual" || o === "auto") mode = o;
    else if (o === "fast") fast = true;
    else return { kind: "error", message: `usage: say <file.wav|.ogg> [manual|auto] [fast] (not "${o}")` };
  }
  return { kind: "speak", file, mode, fast };
}

const CODING_USAGE = "coding start|stop|clear | coding log [info|warn|error] <text> | coding step <name> <status> | coding phase <name>";

function codingCommand(words: string[], tail: string): SimAction {
  const coding = (fields: Json): SimAction => ({ kind: "json", msg: { type: "coding", ...fields } });
  const [event = "", first = ""] = words;
  switch (event) {
    case "start":
    case "stop":
    case "clear":
      return coding({ event });
    case "log": {
      const level = LOG_LEVELS.has(first) ? first : null;
      const text = level ? tail.slice(level.length).trim() : tail;
      if (!text) break;
      return coding({ event: "log", ...(level ? { level } : {}), text });
    }
    case "step": {
      const at = tail.lastIndexOf(" ");
      if (at <= 0) break;
      return coding({ event: "step", name: tail.slice(0, at).trim(), status: tail.slice(at + 1) });
    }
    case "phase":
      if (tail) return coding({ event: "phase", phase: tail });
      break;
  }
  return { kind: "error", message: `usage: ${CODING_USAGE}` };
}

/** One printable line for an incoming frame. */
export function formatIncoming(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): string {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  if (isBinary) return `< [binary ${buf.byteLength} bytes]`;
  const text = buf.toString("utf8");
  try {
    return `< ${JSON.stringify(JSON.parse(text))}`;
  } catch {
    return `< ${text}`;
  }
}
