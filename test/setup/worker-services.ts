import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { startControlledLlm, startWebhookReceiver } from "../../scripts/lib/test-services.ts";

// Real HTTP services for the Worker tests: the fake OpenAI-compatible LLM and a webhook receiver,
// started in Node before workerd, their addresses handed to the Worker as settings.

declare module "vitest" {
  export interface ProvidedContext {
    llmUrl: string;
    webhookUrl: string;
    /** Checked-in speech fixtures (Ogg Opus), base64: workerd tests cannot read files. */
    speechZh: string;
    speechEn: string;
  }
}

export default async function setup(project: TestProject) {
  const llm = await startControlledLlm();
  const hooks = await startWebhookReceiver();
  project.provide("llmUrl", llm.url);
  project.provide("webhookUrl", hooks.url);
  const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url)).toString("base64");
  project.provide("speechZh", fixture("speech-zh.ogg"));
  project.provide("speechEn", fixture("speech-en.ogg"));
  return async () => {
    await llm.close();
    await hooks.close();
  };
}
