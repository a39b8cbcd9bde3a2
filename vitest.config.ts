import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Three layers (DESIGN.md): unit tests of portable logic in Node; Worker tests inside workerd with
// real Durable Object storage, alarms, R2 and WebSockets; end-to-end tests against `wrangler dev`
// over real sockets. One file at a time where servers are involved: this machine has two cores.

export const TEST_SECRETS = {
  DEVICE_TOKEN_SECRET: "test-device-token-secret",
  ADMIN_TOKEN: "test-admin-token",
};

export default defineConfig({
  test: {
    // The server's JSON log lines are printed only for failing tests, where they help.
    silent: "passed-only",
    projects: [
      {
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            remoteBindings: false,
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                // Tests reach the Worker as https://edge.example.com (not loopback): keep OTA open.
                OTA_ACTIVATION: "off",
                IDLE_TIMEOUT_S: "60",
                PEER_INBOX_MAX: "5",
                DEVICE_GROUPS: JSON.stringify({ "cc:cc:cc:00:00:01": "team-x" }),
                DEVICE_ALIASES: JSON.stringify({ "AA:BB:CC:00:00:AA": "Alice" }),
                LLM_BASE_URL: inject("llmUrl"),
                ASR_BASE_URL: inject("llmUrl"),
                TTS_BASE_URL: inject("llmUrl"),
                TTS_MODEL: "fake-tts",
                MEETING_WEBHOOK_URL: inject("webhookUrl"),
                MEETING_WEBHOOK_SECRET: "test-webhook-secret",
                // The fleet registry's schema, applied to each test file's fresh D1 by the setup file.
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["./test/setup/worker-services.ts"],
          setupFiles: ["./test/worker/file-setup.ts"],
          testTimeout: 20_000,
          // The fake providers are one stateful server: files take turns steering it.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
