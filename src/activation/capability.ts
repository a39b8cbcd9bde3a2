import type { FleetPort } from "../fleet/port.ts";
import { log } from "../log.ts";
import { capability } from "../session/capability.ts";
import { activationFor, checkActivationCode, isActivated } from "./codes.ts";

// OTA activation codes (PROTOCOL §1.1, §11): the Worker's OTA route and the operator API reach the
// device's object, which keeps the code in its own storage and claims it in the fleet registry.

export function activationCapability(services: { fleet: FleetPort }) {
  const { fleet } = services;
  return capability({
    name: "activation",
    rpc: {
      ota: (session) => activationFor(session, fleet),
      /** The activation poll: reports, never issues a code (the device shows the one its OTA check got). */
      activated: (session) => isActivated(session),
      async activate(session, code: string) {
        const result = await checkActivationCode(session, fleet, code);
        log.info("device.activation", { deviceId: session.deviceId, ok: result.ok, reason: result.reason });
        return result;
      },
    },
  });
}
