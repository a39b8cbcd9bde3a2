import { afterEach, beforeEach, expect, vi, type MockInstance } from "vitest";

/** Fails every test of the calling file that writes to the console: for code that must never log. */
export function expectNoConsole(): void {
  const methods = ["log", "info", "warn", "error", "debug", "trace"] as const;
  let spies: MockInstance[] = [];
  beforeEach(() => {
    spies = methods.map((m) => vi.spyOn(console, m).mockImplementation(() => {}));
  });
  afterEach(() => {
    for (const s of spies) expect(s).not.toHaveBeenCalled();
    vi.restoreAllMocks();
  });
}
