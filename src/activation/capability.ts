import { log } from "../log.ts";
import { capability } from "../session/capability.ts";
import { activationFor, checkActivationCode } from "./codes.ts";

// OTA activation codes (PROTOCOL §1.1): the Worker's OTA route and the operator API reach the
// device's object, which keeps the code in its own storage.

export function activationCapability() {
  return capability({
    name: "activation",
    rpc: {
      ota: (session) => activationFor(session.store, session.now()),
      activate(session, code: string) {
        const result = checkActivationCode(session.store, code, session.now());
        log.info("device.activation", { deviceId: session.deviceId, ok: result.ok, reason: result.reason });
        return result;
      },
    },
  });
}
