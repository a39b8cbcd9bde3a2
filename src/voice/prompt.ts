// The system prompt of a chat turn (PROTOCOL §5.1, §13): the device's prompt, the local time and
// date (a badge is asked "what time is it" and "remind me tomorrow"), and when tools are offered,
// how to use them: only for what was asked, and say what was done.

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const pad = (n: number) => String(n).padStart(2, "0");

/** "Friday 2026-11-20 14:05 (UTC+08:00)" at the given offset in minutes. */
export function localTime(nowMs: number, offsetMin: number): string {
  const d = new Date(nowMs + offsetMin * 60_000);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return `${DAYS[d.getUTCDay()]} ${date} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} (UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)})`;
}

export const TOOL_GUIDANCE =
  "You can use tools to control this device and to reach the people of its group. Use one only when the user asks for what it does; " +
  "if a tool fails, say so plainly. After using tools, say briefly what you did.";

export function systemPrompt(base: string, nowMs: number, offsetMin: number, withTools: boolean): string {
  const parts = [base.trim(), `Local time now: ${localTime(nowMs, offsetMin)}.`];
  if (withTools) parts.push(TOOL_GUIDANCE);
  return parts.filter(Boolean).join("\n\n");
}
