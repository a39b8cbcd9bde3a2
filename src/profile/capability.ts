import { reportFleet } from "../fleet/capability.ts";
import type { FleetPort } from "../fleet/port.ts";
import { log } from "../log.ts";
import { joinGroup } from "../peer/delivery.ts";
import type { PeerPort } from "../peer/port.ts";
import { capability } from "../session/capability.ts";
import { profileOf, updateProfile, type Profile, type ProfilePatch } from "./profile.ts";

// The device's profile as a capability (PROTOCOL §11): stored in the device's own object, read
// through `profileOf(session)` by the capabilities that use it, and giving the session its alias
// and group. A changed alias or group is reported at once to the fleet registry and to the group
// objects (membership, and the name task lists show for the device).

export function profileCapability(services: { fleet: FleetPort; peers: PeerPort }) {
  const { fleet, peers } = services;
  return capability({
    name: "profile",
    names(session) {
      const p = profileOf(session);
      return { alias: p.alias, group: p.group };
    },
    rpc: {
      get: (session): Profile => ({ ...profileOf(session) }),
      put(session, patch: ProfilePatch): Profile {
        const { profile, changed } = updateProfile(session, patch);
        // Which fields changed, never their values: a prompt may hold anything.
        if (changed.length) log.info("device.profile_updated", { deviceId: session.deviceId, fields: changed });
        if (changed.includes("alias") || changed.includes("group")) {
          reportFleet(session, fleet);
          joinGroup(session, peers);
        }
        return profile;
      },
    },
  });
}
