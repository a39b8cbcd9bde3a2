import type { PeerPort } from "../peer/port.ts";
import { newEnvelope, sendPeer } from "../peer/send.ts";
import type { HandlerCtx } from "../session/capability.ts";
import { sendSnapshot } from "../workflow/handler.ts";
import type { WorkflowPort } from "../workflow/port.ts";
import { type GroupDirectory, groupMembers, resolveMember } from "./directory.ts";
import { type ToolResult, type ToolSource, toolError, type TurnTool } from "./tool.ts";

// Server tools (PROTOCOL §13), offered to every chat turn outside meeting mode, whether or not the
// device speaks MCP, as CHAT_SERVER_TOOLS lists them: ending the conversation, a message to a
// member of the group (the §9 peer path: ACL, inbox and limits apply), the group's members, and a
// task on the group's list (the §7 path: the group shows it to its members). Results are short
// JSON texts the model turns into a spoken answer ("delivered", "queued", why it failed).

export interface ServerToolServices {
  peers: PeerPort;
  workflow: WorkflowPort;
  /** The group's online members; without it only configured members are known. */
  directory?: GroupDirectory | undefined;
}

const ok = (value: unknown): ToolResult => ({ ok: true, text: JSON.stringify(value) });

/** Words for "everyone in my group" a model may pass as `to`. */
const WHOLE_GROUP = new Set(["group", "everyone", "all", "broadcast", "team", "大家", "所有人", "全组"]);

function endConversation(): TurnTool {
  return {
    name: "end_conversation",
    kind: "server",
    description:
      "End the conversation when the user says goodbye or asks to stop talking. The goodbye is spoken, then the device stops listening. " +
      "Call it alone, as the last thing.",
    parameters: {
      type: "object",
      properties: { say_goodbye: { type: "string", description: "A short goodbye in the user's language." } },
      required: ["say_goodbye"],
    },
    run: async (args) => ({ ok: true, text: "ok", end: { goodbye: String(args.say_goodbye ?? "") } }),
  };
}

function sendMessage(ctx: HandlerCtx, services: ServerToolServices): TurnTool {
  const { session } = ctx;
  return {
    name: "send_message",
    kind: "server",
    description:
      'Send a short text message to another member of this device\'s group (by their name or device id), or to the whole group with to="group". ' +
      "Use it only when the user asks to message someone. The result says whether it was delivered now or queued until they come online.",
    parameters: {
      type: "object",
      properties: {
        to: { type: "string", description: 'The member\'s name or device id, or "group" for everyone in the group.' },
        text: { type: "string", description: "The message, as the user wants it said." },
      },
      required: ["to", "text"],
    },
    async run(args) {
      const text = String(args.text).trim().slice(0, 2000);
      if (!text) return toolError("BAD_ARGUMENTS", "the message is empty");
      const to = String(args.to);
      let target: string;
      let name: string;
      if (WHOLE_GROUP.has(to.trim().toLowerCase())) {
        target = "broadcast";
        name = "the group";
      } else {
        const r = resolveMember(session, await groupMembers(session, services.directory), to);
        if (!r.ok) return toolError("BAD_ARGUMENTS", r.message);
        target = r.member.deviceId;
        name = r.member.name;
      }
      const startedAt = session.now();
      // The sender's group and name as its session knows them (a profile's win over the settings), as for §9 messages.
      const req = {
        from: session.deviceId,
        fromGroup: session.groupKey,
        fromName: session.alias ?? session.deviceId,
        to: [target],
        category: "chat",
        payload: { text, via: "voice" },
      };
      const result = await sendPeer(req, newEnvelope(req, session.settings, startedAt), session.settings, services.peers, startedAt, () => session.now());
      if (!result.ok) return toolError("FAILED", `the group was messaged moments ago; try again in ${Math.ceil(result.retryAfterMs / 1000)} s`);
      const { delivered, enqueued, failed } = result.receipt;
      if (target === "broadcast") return ok({ to: name, delivered: delivered.length, queued: enqueued.length, failed: failed.length });
      if (delivered.length) return ok({ status: "delivered", to: name });
      if (enqueued.length) return ok({ status: "queued", to: name, note: "they are offline; they get it when they connect" });
      const code = failed[0]?.code ?? "UNAUTHORIZED";
      const why = code === "QUEUE_FULL" ? "their inbox is full" : code === "INVALID_TARGET" ? "that is not a device" : "this device may not message them";
      return ok({ status: "failed", to: name, reason: why });
    },
  };
}

function listGroupMembers(ctx: HandlerCtx, services: ServerToolServices): TurnTool {
  const { session } = ctx;
  return {
    name: "list_group_members",
    kind: "server",
    description: "List the members of this device's group: their names, device ids and whether they are online now.",
    parameters: { type: "object", properties: {} },
    async run() {
      const members = await groupMembers(session, services.directory);
      return ok({
        group: session.groupKey,
        members: members
          .slice(0, 50)
          .map((m) => ({ name: m.name, id: m.deviceId, online: m.online, ...(m.deviceId === session.deviceId ? { you: true } : {}) })),
      });
    },
  };
}

function addTask(ctx: HandlerCtx, services: ServerToolServices): TurnTool {
  const { session } = ctx;
  return {
    name: "add_task",
    kind: "server",
    description:
      "Add a task to the shared task list of this device's group. Use it when the user asks to add, note or create a task or a to-do. " +
      "Priority is 0 (low) to 3 (urgent), 1 if not said. The owner is a member's name or device id, \"me\" for this device's user, or left out.",
    parameters: {
      type: "object",
      properties: {
        title: { type: "string", description: "The task, short." },
        priority: { type: "integer", minimum: 0, maximum: 3 },
        owner: { type: "string", description: 'Who does it: a member\'s name or device id, or "me".' },
      },
      required: ["title"],
    },
    async run(args) {
      const title = String(args.title).trim().slice(0, 500);
      if (!title) return toolError("BAD_ARGUMENTS", "the task has no title");
      let owner: { id: string; name: string } | null = null;
      if (typeof args.owner === "string" && args.owner.trim()) {
        const said = args.owner.trim();
        if (["me", "myself", "i", "我"].includes(said.toLowerCase())) owner = { id: session.deviceId, name: "you" };
        else {
          const r = resolveMember(session, await groupMembers(session, services.directory), said);
          if (!r.ok) return toolError("BAD_ARGUMENTS", r.message);
          owner = { id: r.member.deviceId, name: r.member.name };
        }
      }
      const task = { title, ...(typeof args.priority === "number" ? { priority: args.priority } : {}), ...(owner ? { owner: owner.id } : {}) };
      const { result, ...snapshot } = await services.workflow.apply(session.groupKey, { op: "upsert", tasks: [{ index: 0, task }] }, session.deviceId);
      if (!result.ok) return toolError("FAILED", result.message);
      // The group shows the new list to its other members; the sender sees it here.
      if (result.changed) sendSnapshot(session, ctx, snapshot);
      return ok({ added: true, id: result.ids[0] ?? null, title, owner: owner?.name ?? null, group: session.groupKey });
    },
  };
}

const FACTORIES: Record<string, (ctx: HandlerCtx, services: ServerToolServices) => TurnTool> = {
  end_conversation: endConversation,
  send_message: sendMessage,
  list_group_members: listGroupMembers,
  add_task: addTask,
};

/** The server tools CHAT_SERVER_TOOLS names, in its order; none in meeting mode. */
export function serverToolSource(services: ServerToolServices): ToolSource {
  return (ctx) => {
    if (ctx.session.mode === "meeting") return [];
    const out: TurnTool[] = [];
    for (const name of ctx.session.settings.CHAT_SERVER_TOOLS) {
      const make = Object.hasOwn(FACTORIES, name) ? FACTORIES[name] : undefined;
      if (make && !out.some((t) => t.name === name)) out.push(make(ctx, services));
    }
    return out;
  };
}
