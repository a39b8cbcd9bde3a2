import { MODES, type ModeName } from "../protocol/messages.ts";
import { capability, type ModeHooks, type Session } from "../session/capability.ts";
import type { FleetPort } from "./port.ts";
import { RENEW_MS, reporterOf, type Change } from "./reporter.ts";

// The device's row in the fleet registry (PROTOCOL §11), kept by its own object: written after
// the hello reply, on disconnect, on mode changes, and renewed while a socket lives (the lease
// that ends rows an object reset left online). Profile and inbox changes report through
// `reportFleet`.

const LEASE_TIMER = "fleet:lease";

/** Writes the device's current state to the registry soon (coalesced, off the reply's path). */
export function reportFleet(session: Session, fleet: FleetPort, change?: Change): void {
  reporterOf(session, fleet).note(change);
}

export function fleetCapability(services: { fleet: FleetPort }) {
  const { fleet } = services;
  const onMode: ModeHooks = { start: (ctx) => reportFleet(ctx.session, fleet), end: (session) => reportFleet(session, fleet) };
  return capability({
    name: "fleet",
    afterHello(ctx) {
      reportFleet(ctx.session, fleet, { seenAt: ctx.conn.state.connectedAt });
      // A renewal still pending from an earlier connection serves this one too: a device that
      // reconnects for every conversation writes no timer.
      const due = ctx.session.timers.get(LEASE_TIMER)?.due;
      if (due === undefined || due <= ctx.now) ctx.session.timers.set(LEASE_TIMER, ctx.now + RENEW_MS);
    },
    onClose(session, conn) {
      // A socket that never said hello was never reported online: nothing to undo. The renewal
      // timer stays: when it fires with no socket it does nothing, and sets no other.
      if (conn.state.helloAt === null) return;
      reportFleet(session, fleet, { seenAt: session.now(), closing: conn });
    },
    modes: Object.fromEntries(MODES.map((m) => [m, onMode])) as Record<ModeName, ModeHooks>,
    timers: {
      fleet(session) {
        if (session.live().length === 0) return;
        reportFleet(session, fleet);
        session.timers.set(LEASE_TIMER, session.now() + RENEW_MS);
      },
    },
  });
}
