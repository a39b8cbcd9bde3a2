import { existsSync } from "node:fs";
import type { LaunchOptions } from "playwright-core";

// Browser tests drive the system's Chromium (Debian's `chromium` package) with playwright-core;
// no browser is ever downloaded. CHROMIUM_PATH points elsewhere (e.g. a Chrome on macOS).

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

export function chromiumPath(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

export function launchOptions(): LaunchOptions {
  const executablePath = chromiumPath();
  if (!executablePath) {
    throw new Error("no Chromium found for the browser tests: `sudo apt-get install -y chromium` (or set CHROMIUM_PATH)");
  }
  return {
    executablePath,
    headless: true,
    // Chromium's sandbox refuses to start as root (CI containers run as root).
    chromiumSandbox: process.getuid?.() !== 0,
    args: [
      // A synthetic microphone (a tone) that needs no permission prompt, for push-to-talk.
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--autoplay-policy=no-user-gesture-required",
    ],
  };
}
