import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { profileOf } from "../../src/profile/profile.ts";
import type { DeviceSession } from "../../src/session/device-session.ts";
import { api, connectDevice, eventually, fetchWorker, joined, uniqueId, type Json } from "./helpers.ts";

// The device profile (PROTOCOL §11): stored in the device's own object, merged by PUT, read by
// capabilities through profileOf(session); its alias and group win over DEVICE_ALIASES and
// DEVICE_GROUPS for the session, the registry and the group the device joins.

const stubOf = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));
const put = (id: string, body: unknown) => api(`/devices/${id}/profile`, { method: "PUT", body: JSON.stringify(body) });
const get = async (id: string) => (await (await api(`/devices/${id}/profile`)).json()) as Json;
const registryRow = async (id: string) => (((await (await api(`/devices?q=${id}`)).json()) as Json).items as Json[]).find((d) => d.deviceId === id);

describe("device profile", () => {
  it("is {} until set, merges on PUT, and null removes a field", async () => {
    const id = uniqueId("9f:9f:9f");
    expect(await get(id)).toEqual({});
    const first = await put(id, { prompt: "You are the kitchen badge.", voice: "nova", language: "zh", llmModel: "gpt-4.1-mini" });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ prompt: "You are the kitchen badge.", voice: "nova", language: "zh", llmModel: "gpt-4.1-mini" });
    expect(await (await put(id, { voice: null, alias: "  Kitchen  " })).json()).toEqual({
      prompt: "You are the kitchen badge.",
      language: "zh",
      llmModel: "gpt-4.1-mini",
      alias: "Kitchen",
    });
    expect(await get(id.toUpperCase())).toMatchObject({ alias: "Kitchen", language: "zh" });
    // What the voice turn reads.
    const seen = await runInDurableObject(stubOf(id), (o: { session: DeviceSession }) => profileOf(o.session));
    expect(seen).toEqual({ prompt: "You are the kitchen badge.", language: "zh", llmModel: "gpt-4.1-mini", alias: "Kitchen" });
  });

  it("refuses unknown fields, wrong types, empty strings and bad groups with 400 SCHEMA_INVALID", async () => {
    const id = uniqueId("9f:9f:9f");
    for (const body of [{ llm_model: "x" }, { alias: 5 }, { alias: "" }, { group: "not a key!" }, { prompt: "x".repeat(8001) }, [], "x"]) {
      const res = await put(id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as Json).error.code).toBe("SCHEMA_INVALID");
    }
    expect(await get(id)).toEqual({});
  });

  it("gives the session, the registry and the group its alias and group over the settings", async () => {
    // cc:cc:cc:00:00:01 is in team-x by DEVICE_GROUPS; its profile moves it to "lab".
    const id = "cc:cc:cc:00:00:01";
    await put(id, { alias: "Lab Badge", group: "LAB" });
    const { sock } = await connectDevice(id);
    expect(await (await api(`/devices/${id}`)).json()).toMatchObject({ groupKey: "lab", online: true });
    expect(
      await eventually(
        () => registryRow(id),
        (r) => r?.online === true,
      ),
    ).toMatchObject({ alias: "Lab Badge", groupKey: "lab" });
    await joined("lab", [id]);
    // An OTA check knows only the settings: it must not undo the profile's names.
    await fetchWorker("/supie/ota/", { method: "POST", headers: { "device-id": id }, body: "{}" });
    await new Promise((r) => setTimeout(r, 50));
    expect(await registryRow(id)).toMatchObject({ alias: "Lab Badge", groupKey: "lab" });
    // The group's task list reaches it in its profile's group.
    const snap = sock.next((m) => m.type === "workflow" && m.event === "update");
    await api("/groups/lab/tasks", { method: "POST", body: JSON.stringify({ tasks: [{ title: "calibrate" }] }) });
    expect(await snap).toMatchObject({ groupKey: "lab", tasks: [expect.objectContaining({ title: "calibrate" })] });
    // Removing the group puts it back where the settings say, at once in the registry.
    await put(id, { group: null });
    expect(
      await eventually(
        () => registryRow(id),
        (r) => r?.groupKey === "team-x",
      ),
    ).toMatchObject({ alias: "Lab Badge", groupKey: "team-x" });
    sock.close();
  });

  it("judges a direct message by the target's profile group (PEER_ACL: only within a group)", async () => {
    const sender = uniqueId("9c:9c:9c");
    const movedIn = uniqueId("9b:9b:9b");
    const movedOut = uniqueId("9c:9c:9c");
    await put(movedIn, { group: "9c:9c:9c" });
    await put(movedOut, { group: "elsewhere" });
    const { sock } = await connectDevice(sender);
    const receipt = sock.next((m) => m.type === "peer" && m.event === "receipt");
    sock.send({ type: "peer", to: [movedIn, movedOut], payload: { text: "hello" } });
    expect(await receipt).toMatchObject({ enqueued: [movedIn], failed: [{ id: movedOut, code: "UNAUTHORIZED" }] });
    // Nothing was queued for the device the ACL refused.
    expect(((await (await api(`/devices/${movedOut}`)).json()) as Json).inbox).toBe(0);
    sock.close();
  });

  it("names the device's tasks with its profile alias, in the group and at once when the alias changes", async () => {
    const g = "9e:9e:9e";
    const id = uniqueId(g);
    await put(id, { alias: "Kitchen" });
    const { sock } = await connectDevice(id);
    await joined(g, [id]);
    const owned = async () => {
      const res = await api(`/groups/${g}/tasks`);
      return (((await res.json()) as Json).tasks as Json[]).find((t) => t.title === "wipe the counter");
    };
    await api(`/groups/${g}/tasks`, { method: "POST", body: JSON.stringify({ tasks: [{ title: "wipe the counter", owner: id }] }) });
    expect(await owned()).toMatchObject({ owner: id, ownerName: "Kitchen" });
    await put(id, { alias: "Pantry" });
    expect(
      await eventually(
        () => owned(),
        (t) => t?.ownerName === "Pantry",
      ),
    ).toMatchObject({ ownerName: "Pantry" });
    sock.close();
  });
});
