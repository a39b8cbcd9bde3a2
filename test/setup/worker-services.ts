import type { TestProject } from "vitest/node";
import { startControlledLlm, startWebhookReceiver } from "../../scripts/lib/test-services.ts";

// Real HTTP services for the Worker tests: the fake OpenAI-compatible LLM and a webhook receiver,
// started in Node before workerd, their addresses handed to the Worker as settings.

declare module "vitest" {
  export interface ProvidedContext {
    llmUrl: string;
    webhookUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const llm = await startControlledLlm();
  const hooks = await startWebhookReceiver();
  project.provide("llmUrl", llm.url);
  project.provide("webhookUrl", hooks.url);
  return async () => {
    await llm.close();
    await hooks.close();
  };
}
