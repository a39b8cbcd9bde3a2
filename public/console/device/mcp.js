// The playground device is an MCP server as a badge is (PROTOCOL §13): it answers the server's
// initialize and tools/list, and runs two of the firmware's built-in tools on a simulated state,
// so the LLM's tool calls can be tried from the browser. Ids are numbers; notifications and
// anything unexpected get no answer, as the firmware does.

const TOOLS = [
  {
    name: "self.get_device_status",
    description: "Provides the real-time information of the device, including the current status of the audio speaker, screen, battery, network, etc.",
    inputSchema: { type: "object", properties: {} },
  },
  {
    name: "self.audio_speaker.set_volume",
    description:
      "Set the volume of the audio speaker. If the current volume is unknown, you must call `self.get_device_status` tool first and then call this tool.",
    inputSchema: { type: "object", properties: { volume: { type: "integer", minimum: 0, maximum: 100 } }, required: ["volume"] },
  },
];

export function mcpDevice() {
  const state = { volume: 70 };

  /** @param {string} name @param {Record<string, unknown>} args */
  function call(name, args) {
    if (name === "self.get_device_status") {
      return {
        text: JSON.stringify({
          audio_speaker: { volume: state.volume },
          screen: { brightness: 80, theme: "light" },
          network: { type: "wifi", ssid: "browser" },
        }),
      };
    }
    if (name === "self.audio_speaker.set_volume") {
      const v = args.volume;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 100) return { error: "Invalid volume: an integer 0-100 is required" };
      state.volume = v;
      return { text: "true" };
    }
    return { error: `Unknown tool: ${name}` };
  }

  return {
    state,
    /**
     * The reply payload for a server request, or undefined when none is due.
     * @param {any} req
     */
    answer(req) {
      if (req?.jsonrpc !== "2.0" || typeof req.id !== "number" || typeof req.method !== "string") return undefined;
      const ok = (/** @type {unknown} */ result) => ({ jsonrpc: "2.0", id: req.id, result });
      const fail = (/** @type {string} */ message) => ({ jsonrpc: "2.0", id: req.id, error: { message } });
      if (req.method === "initialize") {
        return ok({ protocolVersion: "2024-11-05", capabilities: { tools: {} }, serverInfo: { name: "supie-console", version: "1.0.0" } });
      }
      if (req.method === "tools/list") return ok({ tools: TOOLS });
      if (req.method === "tools/call") {
        const r = call(String(req.params?.name ?? ""), req.params?.arguments ?? {});
        return r.error ? fail(r.error) : ok({ content: [{ type: "text", text: r.text }], isError: false });
      }
      return fail(`Method not implemented: ${req.method}`);
    },
  };
}
