import type { Scenario } from "../types.ts";
import { capacityScenario } from "./capacity.ts";
import { codingScenario } from "./coding.ts";
import { connectScenario } from "./connect.ts";
import { fanoutScenario } from "./fanout.ts";
import { finalizeScenario } from "./finalize.ts";
import { fleetScenario } from "./fleet.ts";
import { hostileScenario } from "./hostile.ts";
import { inboxScenario } from "./inbox.ts";
import { peerScenario } from "./peer.ts";
import { recoveryScenario } from "./recovery.ts";
import { voiceScenario } from "./voice.ts";
import { voiceToolsScenario } from "./voice-tools.ts";

// Every benchmark scenario, in run order; each starts on a fresh server. `--only a,b` picks by
// name.
export const SCENARIOS: Scenario[] = [
  connectScenario,
  capacityScenario,
  peerScenario,
  inboxScenario,
  fanoutScenario,
  finalizeScenario,
  hostileScenario,
  codingScenario,
  recoveryScenario,
  voiceScenario,
  voiceToolsScenario,
  fleetScenario,
];
