import { log } from "../log.ts";

// One error boundary around every runtime entry of an object (socket message, close, error,
// alarm, RPC): a throw is logged once, with the object's name, and never escapes as an uncaught
// exception. RPC callers still get a rejected promise (marked, so they need not log it again).

export class ReportedError extends Error {
  constructor(entry: string) {
    super(`the object failed in ${entry}; it is logged there`);
    this.name = "ReportedError";
  }
}

/** Runs `fn`; a throw is logged and swallowed (`fallback` returned). */
export async function guard<T>(entry: string, fields: Record<string, unknown>, fn: () => T | Promise<T>, fallback: T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    log.error("object.entry_failed", { entry, ...fields, error: err });
    return fallback;
  }
}

/** Runs an RPC handler; a throw is logged once and re-thrown as a ReportedError. */
export async function guardRpc<T>(entry: string, fields: Record<string, unknown>, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    log.error("object.entry_failed", { entry, ...fields, error: err });
    throw new ReportedError(entry);
  }
}
