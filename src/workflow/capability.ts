import { capability, route } from "../session/capability.ts";
import { debouncedSnapshot, handleWorkflow, sendSnapshot } from "./handler.ts";
import { WorkflowIn, type WorkflowSnapshot } from "./messages.ts";
import type { WorkflowPort } from "./port.ts";
import { workingUtterance } from "./spoken-commands.ts";

// Working mode (PROTOCOL §7): the shared task list of the device's group, kept by its GroupObject.

export function workflowCapability(services: { workflow: WorkflowPort }) {
  const { workflow } = services;
  return capability({
    name: "workflow",
    routes: { workflow: route(WorkflowIn, (msg, ctx) => handleWorkflow(msg, ctx, workflow)) },
    afterHello: (ctx) => debouncedSnapshot(ctx, workflow),
    modes: { working: { start: (ctx) => debouncedSnapshot(ctx, workflow) } },
    onUtterance: (ctx, text) => workingUtterance(ctx, text, workflow),
    rpc: {
      /** A group's task list changed: show it on the device if it is connected (never queued). */
      pushSnapshot(session, snapshot: WorkflowSnapshot, version: number): boolean {
        if (!session.current()) return false;
        // A member the group still lists after its profile or DEVICE_GROUPS moved it shows only its own group.
        if (snapshot.groupKey !== session.groupKey) return false;
        return sendSnapshot(session, undefined, { snapshot, version });
      },
    },
  });
}
