import type { Scenario } from "../types.ts";
import { capacityScenario } from "./capacity.ts";
import { connectScenario } from "./connect.ts";

// Every benchmark scenario, in run order; each starts on a fresh server. `--only a,b` picks by
// name. Later: peer relay, inbox, task fan-out.
export const SCENARIOS: Scenario[] = [connectScenario, capacityScenario];
