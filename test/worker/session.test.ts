import { describe, expect, it } from "vitest";
import { connectDevice, uniqueId } from "./helpers.ts";

describe("hello", () => {
  it("answers the firmware hello with a conforming hello", async () => {
    const id = uniqueId();
    const { sock, hello } = await connectDevice(id);
    expect(hello).toMatchObject({ type: "hello", transport: "websocket", device_id: id });
    expect(typeof hello.session_id).toBe("string");
    sock.close();
  });
});
