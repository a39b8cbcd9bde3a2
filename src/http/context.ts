import type { Context } from "hono";
import type { Settings } from "../config/settings.ts";

export type AppEnv = { Bindings: Env; Variables: { settings: Settings; local: boolean } };
export type AppContext = Context<AppEnv>;
