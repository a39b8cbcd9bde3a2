import { createDecoder, createEncoder, resolveCodec } from "../audio/codec.js";
import { openMicrophone } from "../audio/capture.js";
import { Player } from "../audio/player.js";
import { field, h, notice } from "../lib/dom.js";

// Push-to-talk as the firmware's manual mode does it (VOICE.md §2): press sends `listen start`
// (mode manual) and streams 60 ms Opus packets from the microphone, release sends `listen stop`
// once the last packet is out; pressing while a reply plays sends `abort` first. Replies are
// decoded at the server hello's sample rate and played back to back.

// The server's 300 ms, plus a margin for the two messages arriving closer than they left.
const LISTEN_DEBOUNCE_MS = 350;

/**
 * @param {{ send: (m: Record<string, unknown>) => void, sendAudio: (p: Uint8Array<ArrayBuffer>) => void, connected: () => boolean,
 *           sessionId: () => string, frameOut: (n: number) => void }} dev
 */
export function talkSection(dev) {
  const player = new Player();
  /** @type {Awaited<ReturnType<typeof createEncoder>> | undefined} */
  let encoder;
  /** @type {Awaited<ReturnType<typeof createDecoder>> | undefined} */
  let decoder;
  /** @type {Awaited<ReturnType<typeof openMicrophone>> | undefined} */
  let mic;
  /** @type {"webcodecs" | "wasm" | undefined} */
  let kind;
  let downRate = 24000;
  let speaking = false;
  let lastStopAt = Number.NEGATIVE_INFINITY;
  /** @type {Promise<boolean> | undefined} */
  let pressing;
  const counts = { up: 0, down: 0, decodedMs: 0 };

  const codec = h(
    "select",
    { name: "codec", onchange: () => void setup() },
    h("option", { value: "auto" }, "Auto (WebCodecs, else libopus)"),
    h("option", { value: "webcodecs" }, "WebCodecs"),
    h("option", { value: "wasm" }, "libopus (wasm)"),
  );
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ptt", disabled: true }, "Hold to talk"));
  const status = h("p", { class: "notice", role: "status" });
  const meter = h("p", { class: "meter", "aria-label": "Audio frames" });

  const showCounts = () => {
    meter.textContent = `↑ ${counts.up} frames sent · ↓ ${counts.down} frames received · ${(counts.decodedMs / 1000).toFixed(2)} s decoded`;
  };
  showCounts();

  /** Picks the codec and opens the decoder for the hello's rate (again after a codec change). */
  async function setup() {
    if (!dev.connected()) return;
    encoder?.close();
    decoder?.close();
    encoder = undefined;
    try {
      kind = await resolveCodec(/** @type {any} */ (codec).value, downRate);
      decoder = await createDecoder(kind, downRate, (pcm, rate) => {
        counts.decodedMs += (pcm.length * 1000) / rate;
        showCounts();
        player.play(pcm, rate);
      });
      notice(status, `Opus via ${kind === "webcodecs" ? "WebCodecs" : "libopus (wasm)"}; replies at ${downRate} Hz`, "ok");
    } catch (err) {
      decoder = undefined;
      notice(status, `Audio unavailable: ${err instanceof Error ? err.message : err}`, "error");
    }
  }

  async function press() {
    if (!dev.connected() || !kind) return false;
    player.ensure();
    if (speaking) {
      dev.send({ session_id: dev.sessionId(), type: "abort" });
      player.stop();
    }
    try {
      encoder ??= await createEncoder(kind, (packet) => {
        dev.sendAudio(packet);
        counts.up++;
        dev.frameOut(packet.byteLength);
        showCounts();
      });
      mic ??= await openMicrophone((frame) => encoder?.encode(frame));
    } catch (err) {
      notice(status, `Microphone unavailable: ${err instanceof Error ? err.message : err}`, "error");
      return false;
    }
    // The server ignores a listen start within 300 ms of the previous stop (PROTOCOL §5: button
    // bounce); a quick second press waits that out instead of being dropped.
    const bounce = lastStopAt + LISTEN_DEBOUNCE_MS - performance.now();
    if (bounce > 0) await new Promise((r) => setTimeout(r, bounce));
    dev.send({ session_id: dev.sessionId(), type: "listen", state: "start", mode: "manual" });
    mic.start();
    button.classList.add("active");
    button.textContent = "Listening… release to send";
    return true;
  }

  async function release() {
    const started = await pressing;
    pressing = undefined;
    button.classList.remove("active");
    button.textContent = "Hold to talk";
    if (!started || !mic) return;
    await mic.stop();
    await encoder?.flush();
    if (dev.connected()) dev.send({ session_id: dev.sessionId(), type: "listen", state: "stop" });
    lastStopAt = performance.now();
  }

  const down = () => {
    pressing ??= press();
  };
  const up = () => {
    if (pressing) void release();
  };
  button.addEventListener("pointerdown", (e) => {
    button.setPointerCapture(e.pointerId);
    down();
  });
  button.addEventListener("pointerup", up);
  button.addEventListener("pointercancel", up);
  button.addEventListener("keydown", (e) => {
    if ((e.key === " " || e.key === "Enter") && !e.repeat) {
      e.preventDefault();
      down();
    }
  });
  button.addEventListener("keyup", (e) => {
    if (e.key === " " || e.key === "Enter") up();
  });

  const el = h(
    "div",
    { class: "talk" },
    h("div", { class: "row" }, button, field("Codec", codec)),
    status,
    meter,
    h("button", { type: "button", class: "small", onclick: () => dev.connected() && dev.send({ session_id: dev.sessionId(), type: "abort" }) }, "Stop reply"),
  );

  return {
    el,
    /** Creates the audio output inside the user's click, so autoplay rules let it sound. */
    prime: () => player.ensure(),
    /** @param {Record<string, any>} hello */
    async onHello(hello) {
      downRate = Number(hello.audio_params?.sample_rate) || 24000;
      button.disabled = false;
      await setup();
    },
    /** @param {Uint8Array} packet */
    onAudio(packet) {
      counts.down++;
      showCounts();
      decoder?.decode(packet);
    },
    /** @param {Record<string, any>} m */
    onMessage(m) {
      if (m.type !== "tts") return;
      if (m.state === "start") speaking = true;
      if (m.state === "stop") speaking = false;
    },
    onClosed() {
      button.disabled = true;
      speaking = false;
      mic?.close();
      mic = undefined;
      encoder?.close();
      encoder = undefined;
      decoder?.close();
      decoder = undefined;
      player.stop();
    },
  };
}
