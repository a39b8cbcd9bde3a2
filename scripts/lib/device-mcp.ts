// A device's MCP server as the stock firmware runs it (78/xiaozhi-esp32 main/mcp_server.cc; facts in
// ../shared/MCP.md): JSON-RPC inside `mcp` frames, numeric ids only, errors without `code` and
// with the message not escaped, `tools/list` pages of about 8,000 bytes with the next tool's name
// as cursor, the built-in tools with their schemas, calls one at a time, and a camera that posts a
// JPEG to the vision URL `initialize` gave it. Runtime-free (fetch, FormData, Blob), so the
// simulator (Node) and the Worker tests (workerd) drive the same server.

export type Json = Record<string, unknown>;

/** One property of a tool's input, as the firmware declares it. */
export interface PropertyDef {
  type: "boolean" | "integer" | "string";
  minimum?: number;
  maximum?: number;
  default?: boolean | number | string;
}

export interface ToolDef {
  name: string;
  description: string;
  properties?: Record<string, PropertyDef>;
  /** Listed only with `withUserTools:true`, with `annotations.audience:["user"]`; still callable. */
  userOnly?: boolean;
  /** Returns the result's text (booleans as "true"/"false"); a thrown Error becomes a JSON-RPC error. */
  call(args: Record<string, unknown>, device: DeviceMcpServer): string | boolean | Promise<string | boolean>;
}

export interface DeviceMcpOptions {
  /** `serverInfo.name` (the board). */
  board?: string;
  version?: string;
  /** Boards with a backlight get set_brightness, themed displays set_theme, cameras take_photo. */
  backlight?: boolean;
  theme?: boolean;
  camera?: boolean;
  /** Tools after the built-in ones (boards add about 64). */
  extraTools?: ToolDef[];
  /** The firmware's page limit. */
  pageBytes?: number;
  /** For take_photo's upload (the firmware's headers). */
  deviceId?: string;
  clientId?: string;
  fetch?: typeof fetch;
  /** The photo take_photo sends; defaults to a tiny JPEG. */
  photo?: () => Uint8Array<ArrayBuffer>;
}

export const PAGE_BYTES = 8000;

/** A minimal JPEG: SOI, an APP0 marker, EOI. Enough for magic-byte checks and a fake vision model. */
export function tinyJpeg(): Uint8Array<ArrayBuffer> {
  return Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9]);
}

function propertyJson(p: PropertyDef): Json {
  const out: Json = { type: p.type };
  if (p.default !== undefined) out.default = p.default;
  if (p.type === "integer") {
    if (p.minimum !== undefined) out.minimum = p.minimum;
    if (p.maximum !== undefined) out.maximum = p.maximum;
  }
  return out;
}

/** McpTool::to_json: `required` lists properties without a default, only when there are any. */
export function toolJson(t: ToolDef): Json {
  const props = t.properties ?? {};
  const required = Object.entries(props)
    .filter(([, p]) => p.default === undefined)
    .map(([k]) => k);
  const inputSchema: Json = { type: "object", properties: Object.fromEntries(Object.entries(props).map(([k, p]) => [k, propertyJson(p)])) };
  if (required.length) inputSchema.required = required;
  return { name: t.name, description: t.description, inputSchema, ...(t.userOnly ? { annotations: { audience: ["user"] } } : {}) };
}

/** The firmware builds error replies by concatenation: the message is not escaped. */
function errorText(id: number, message: string): string {
  return `{"jsonrpc":"2.0","id":${id},"error":{"message":"${message}"}}`;
}

function resultText(id: number, result: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", id, result });
}

export class DeviceMcpServer {
  readonly opts: DeviceMcpOptions;
  readonly tools: ToolDef[];
  /** What the status tool reports and the setters change. */
  readonly state = { volume: 70, brightness: 80, theme: "light" };
  /** From `initialize` (camera boards only). */
  vision: { url: string; token: string } | null = null;
  /** Every request that was not dropped, in order (for tests). */
  readonly requests: Json[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: DeviceMcpOptions = {}) {
    this.opts = opts;
    this.tools = [...builtInTools(opts), ...(opts.extraTools ?? []), ...userTools()];
  }

  /**
   * One payload from the server → the payload text to send back, or null (dropped, as the firmware
   * drops what it cannot use). Calls run one at a time, in arrival order.
   */
  handle(payload: unknown): Promise<string | null> {
    const run = this.queue.then(() => this.reply(payload));
    this.queue = run.catch(() => {});
    return run;
  }

  /** The frame the firmware sends around a payload text. */
  static frame(payloadText: string, sessionId: string): string {
    return `{"session_id":"${sessionId}","type":"mcp","payload":${payloadText}}`;
  }

  private async reply(payload: unknown): Promise<string | null> {
    if (!payload || typeof payload !== "object" || Array.isArray(payload)) return null;
    const p = payload as Json;
    if (p.jsonrpc !== "2.0" || typeof p.method !== "string") return null;
    if (p.params !== undefined && (p.params === null || typeof p.params !== "object" || Array.isArray(p.params))) return null;
    if (p.method.startsWith("notifications")) return null;
    if (typeof p.id !== "number") return null;
    this.requests.push(p);
    const id = p.id;
    const params = (p.params ?? {}) as Json;
    switch (p.method) {
      case "initialize":
        return resultText(id, this.initialize(params));
      case "tools/list":
        return this.list(id, typeof params.cursor === "string" ? params.cursor : "", params.withUserTools === true);
      case "tools/call":
        return this.call(id, params);
      default:
        return errorText(id, `Method not implemented: ${p.method}`);
    }
  }

  private initialize(params: Json): Json {
    const vision = ((params.capabilities as Json | undefined)?.vision ?? null) as Json | null;
    if (this.opts.camera && vision && typeof vision.url === "string" && typeof vision.token === "string") {
      this.vision = { url: vision.url, token: vision.token };
    }
    return {
      protocolVersion: "2024-11-05",
      capabilities: { tools: {} },
      serverInfo: { name: this.opts.board ?? "bread-compact-wifi", version: this.opts.version ?? "1.6.0" },
    };
  }

  /** McpServer::GetToolsList: tools in order until the page would pass the limit. */
  private list(id: number, cursor: string, withUserTools: boolean): string {
    const limit = this.opts.pageBytes ?? PAGE_BYTES;
    let json = '{"tools":[';
    let found = cursor === "";
    let next = "";
    for (const t of this.tools) {
      if (!found) {
        if (t.name !== cursor) continue;
        found = true;
      }
      if (!withUserTools && t.userOnly) continue;
      const item = `${JSON.stringify(toolJson(t))},`;
      if (json.length + item.length + 30 > limit) {
        next = t.name;
        break;
      }
      json += item;
    }
    if (json.endsWith(",")) json = json.slice(0, -1);
    if (json.endsWith("[") && next) return errorText(id, `Failed to add tool ${next} because of payload size limit`);
    json += next ? `],"nextCursor":"${next}"}` : "]}";
    return `{"jsonrpc":"2.0","id":${id},"result":${json}}`;
  }

  private async call(id: number, params: Json): Promise<string> {
    const name = params.name;
    if (typeof name !== "string") return errorText(id, "Missing name");
    const tool = this.tools.find((t) => t.name === name);
    if (!tool) return errorText(id, `Unknown tool: ${name}`);
    const given = (params.arguments ?? {}) as Json;
    const args: Json = {};
    for (const [k, p] of Object.entries(tool.properties ?? {})) {
      const v = given[k];
      if (v === undefined) {
        if (p.default === undefined) return errorText(id, `Missing valid argument: ${k}`);
        args[k] = p.default;
        continue;
      }
      const ok =
        (p.type === "boolean" && typeof v === "boolean") ||
        (p.type === "string" && typeof v === "string") ||
        (p.type === "integer" && typeof v === "number" && Number.isInteger(v));
      if (!ok) return errorText(id, `Invalid argument type: ${k}`);
      if (p.type === "integer" && ((p.minimum !== undefined && (v as number) < p.minimum) || (p.maximum !== undefined && (v as number) > p.maximum))) {
        return errorText(id, `Invalid value for argument: ${k}`);
      }
      args[k] = v;
    }
    try {
      const out = await tool.call(args, this);
      return resultText(id, { content: [{ type: "text", text: typeof out === "boolean" ? String(out) : out }], isError: false });
    } catch (err) {
      return errorText(id, err instanceof Error ? err.message : String(err));
    }
  }

  /** Esp32Camera::Explain: multipart with `question` then `file` (camera.jpg), chunked by the device. */
  async explainPhoto(question: string): Promise<string> {
    if (!this.vision) throw new Error("Image explain URL or token is not set");
    const form = new FormData();
    form.append("question", question);
    form.append("file", new Blob([(this.opts.photo ?? tinyJpeg)()], { type: "image/jpeg" }), "camera.jpg");
    const res = await (this.opts.fetch ?? fetch)(this.vision.url, {
      method: "POST",
      headers: {
        "Device-Id": this.opts.deviceId ?? "",
        "Client-Id": this.opts.clientId ?? this.opts.deviceId ?? "",
        Authorization: `Bearer ${this.vision.token}`,
      },
      body: form,
    });
    if (res.status !== 200) throw new Error("Failed to upload photo");
    return res.text();
  }
}

function builtInTools(opts: DeviceMcpOptions): ToolDef[] {
  const tools: ToolDef[] = [
    {
      name: "self.get_device_status",
      description:
        "Provides the real-time information of the device, including the current status of the audio speaker, screen, battery, network, etc.\n" +
        "Use this tool for: \n1. Answering questions about current condition (e.g. what is the current volume of the audio speaker?)\n" +
        "2. As the first step to control the device (e.g. turn up / down the volume of the audio speaker, etc.)",
      call: (_a, d) =>
        JSON.stringify({
          audio_speaker: { volume: d.state.volume },
          screen: { brightness: d.state.brightness, theme: d.state.theme },
          battery: { level: 82, charging: false },
          network: { type: "wifi", ssid: "lab", signal: "strong" },
          chip: { temperature: 41.5 },
        }),
    },
    {
      name: "self.audio_speaker.set_volume",
      description:
        "Set the volume of the audio speaker. If the current volume is unknown, you must call `self.get_device_status` tool first and then call this tool.",
      properties: { volume: { type: "integer", minimum: 0, maximum: 100 } },
      call: (a, d) => {
        d.state.volume = a.volume as number;
        return true;
      },
    },
  ];
  if (opts.backlight !== false) {
    tools.push({
      name: "self.screen.set_brightness",
      description: "Set the brightness of the screen.",
      properties: { brightness: { type: "integer", minimum: 0, maximum: 100 } },
      call: (a, d) => {
        d.state.brightness = a.brightness as number;
        return true;
      },
    });
  }
  if (opts.theme !== false) {
    tools.push({
      name: "self.screen.set_theme",
      description: "Set the theme of the screen. The theme can be `light` or `dark`.",
      properties: { theme: { type: "string" } },
      call: (a, d) => {
        if (a.theme !== "light" && a.theme !== "dark") return false;
        d.state.theme = a.theme;
        return true;
      },
    });
  }
  if (opts.camera) {
    tools.push({
      name: "self.camera.take_photo",
      description:
        "Take a photo and explain it. Use this tool after the user asks you to see something.\n" +
        "Args:\n  `question`: The question that you want to ask about the photo.\nReturn:\n  A JSON object that provides the photo information.",
      properties: { question: { type: "string" } },
      call: (a, d) => d.explainPhoto(a.question as string),
    });
  }
  return tools;
}

/** User-only tools: listed with `withUserTools:true`; the server must never offer them to its LLM. */
function userTools(): ToolDef[] {
  const url = { type: "string" } as const;
  return [
    { name: "self.get_system_info", description: "Get the system information", userOnly: true, call: () => JSON.stringify({ chip: "esp32s3" }) },
    { name: "self.reboot", description: "Reboot the system", userOnly: true, call: () => true },
    { name: "self.upgrade_firmware", description: "Upgrade firmware from a specific URL.", userOnly: true, properties: { url }, call: () => true },
    {
      name: "self.screen.get_info",
      description: "Information about the screen, including width, height, etc.",
      userOnly: true,
      call: () => '{"width":240,"height":240,"monochrome":false}',
    },
    {
      name: "self.screen.snapshot",
      description: "Snapshot the screen and upload it to a specific URL",
      userOnly: true,
      properties: { url, quality: { type: "integer", minimum: 1, maximum: 100, default: 80 } },
      call: () => true,
    },
    { name: "self.screen.preview_image", description: "Preview an image on the screen", userOnly: true, properties: { url }, call: () => true },
    { name: "self.assets.set_download_url", description: "Set the download url for the assets", userOnly: true, properties: { url }, call: () => true },
  ];
}

/** `n` board tools of the kind boards add (LED strips, a lamp), enough to need a second page. */
export function boardTools(n: number): ToolDef[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `self.led_strip.set_segment_${i}`,
    description: `Set the colour of LED strip segment ${i}. Red, green and blue are 0-255; use this when the user asks to change the light of that part of the strip.`,
    properties: {
      red: { type: "integer", minimum: 0, maximum: 255 },
      green: { type: "integer", minimum: 0, maximum: 255 },
      blue: { type: "integer", minimum: 0, maximum: 255 },
    },
    call: () => true,
  }));
}
