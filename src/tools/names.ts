import type { TurnTool } from "./tool.ts";

// Tool names as the LLM sees them. OpenAI-compatible APIs accept only ^[A-Za-z0-9_-]{1,64}$, while
// firmware names are dotted (`self.audio_speaker.set_volume`). Each turn maps its offered tools to
// distinct valid names and back; a call with any other name is not one we offered and is refused
// (the firmware would run even unlisted user-only tools such as reboot).

const MAX = 64;

function base(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, MAX);
  return clean || "tool";
}

export class ToolNames {
  private readonly byLlm = new Map<string, TurnTool>();
  private readonly toLlm = new Map<TurnTool, string>();

  /** Earlier tools keep their plain name when two map to the same one (the test page has both). */
  constructor(tools: readonly TurnTool[]) {
    for (const tool of tools) {
      let name = base(tool.name);
      for (let n = 2; this.byLlm.has(name); n++) {
        const suffix = `_${n}`;
        name = base(tool.name).slice(0, MAX - suffix.length) + suffix;
      }
      this.byLlm.set(name, tool);
      this.toLlm.set(tool, name);
    }
  }

  llmName(tool: TurnTool): string {
    return this.toLlm.get(tool)!;
  }

  /** The offered tool behind a name the LLM used, else null. */
  resolve(llmName: string): TurnTool | null {
    return this.byLlm.get(llmName) ?? null;
  }

  get size(): number {
    return this.byLlm.size;
  }

  entries(): Array<[string, TurnTool]> {
    return [...this.byLlm.entries()];
  }
}
