import { CoreV1Api, EventsV1Api, V1MicroTime, Watch } from "@kubernetes/client-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { Keys } from "../../src/index"
import { apiError, startSim, until } from "./helpers"
import type { KubeConfig } from "@kubernetes/client-node"

let sim: KubeSimInstance
let kc: KubeConfig
let core: CoreV1Api
let events: EventsV1Api

beforeAll(async () => {
  const s = await startSim()
  sim = s.sim
  kc = s.kc
  core = kc.makeApiClient(CoreV1Api)
  events = kc.makeApiClient(EventsV1Api)
  // an event written the way the controllers write them (core/v1, straight into the store)
  sim.store.create(Keys.events, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "web-1.backoff", namespace: "default" },
    involvedObject: { kind: "Pod", namespace: "default", name: "web-1", apiVersion: "v1" },
    reason: "BackOff",
    message: "Back-off restarting failed container app in pod web-1_default",
    type: "Warning",
    count: 3,
    source: { component: "kubelet", host: "node-1" },
    firstTimestamp: "2026-11-28T08:00:00Z",
    lastTimestamp: "2026-11-28T08:02:00Z",
    reportingComponent: "kubelet",
    reportingInstance: "node-1"
  })
})
afterAll(() => sim.close())

describe("events: one storage, two views", () => {
  it("core/v1 events appear in events.k8s.io/v1 with converted fields and field selectors", async () => {
    const list = await events.listNamespacedEvent({ namespace: "default", fieldSelector: "regarding.name=web-1,reason=BackOff" })
    assert.strictEqual(list.items.length, 1)
    const e = list.items[0]!
    assert.strictEqual(e.note, "Back-off restarting failed container app in pod web-1_default")
    assert.strictEqual(e.regarding!.name, "web-1")
    assert.strictEqual(e.deprecatedCount, 3)
    assert.strictEqual(e.reportingController, "kubelet")
    assert.strictEqual(e.deprecatedSource!.host, "node-1")
    const core1 = await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=web-1,type=Warning" })
    assert.strictEqual(core1.items[0]!.message, e.note)
  })

  it("an events.k8s.io/v1 create with a MicroTime is stored once and readable through core/v1", async () => {
    const created = await events.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "byteport.restart" },
        eventTime: new V1MicroTime("2026-11-28T08:05:00.123Z"),
        reportingController: "byteport.io/remediator",
        reportingInstance: "byteport-0",
        action: "Restart",
        reason: "Remediated",
        note: "restarted deployment web",
        type: "Normal",
        regarding: { kind: "Deployment", namespace: "default", name: "web", apiVersion: "apps/v1" }
      }
    })
    assert.strictEqual(created.note, "restarted deployment web")
    const viaCore = await core.readNamespacedEvent({ namespace: "default", name: "byteport.restart" })
    assert.strictEqual(viaCore.message, "restarted deployment web")
    assert.strictEqual(viaCore.involvedObject.name, "web")
    assert.strictEqual(viaCore.reportingComponent, "byteport.io/remediator")
    assert.strictEqual((sim.store.get(Keys.events, "default", "byteport.restart") as any).eventTime, "2026-11-28T08:05:00.123000Z")
    const gone = await apiError(() => events.readNamespacedEvent({ namespace: "default", name: "nope" }))
    assert.strictEqual(gone.body.message, 'events.events.k8s.io "nope" not found')
  })

  it("rejects a millisecond Date in eventTime (RFC3339Micro) and missing required fields", async () => {
    const res = await fetch(`${sim.url}/apis/events.k8s.io/v1/namespaces/default/events`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: "ms" },
        eventTime: new Date("2026-11-28T06:28:00.969Z"),
        reportingController: "x",
        reportingInstance: "y",
        action: "A",
        reason: "R",
        type: "Normal"
      })
    })
    assert.strictEqual(res.status, 400)
    const body = (await res.json()) as any
    assert.strictEqual(
      body.message,
      'Event in version "v1" cannot be handled as a Event: parsing time "2026-11-28T06:28:00.969Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".969Z" as ".000000"'
    )
    const missing = await apiError(() =>
      events.createNamespacedEvent({ namespace: "default", body: { metadata: { name: "bad" }, eventTime: new V1MicroTime(), type: "Normal" } as any })
    )
    assert.strictEqual(missing.code, 422)
    assert.match(missing.body.message, /^Event\.events\.k8s\.io "bad" is invalid: \[reportingController: Required value/)
  })

  it("watching events.k8s.io/v1 streams converted core/v1 writes", async () => {
    const seen: Array<any> = []
    const ac = await new Watch(kc).watch(
      "/apis/events.k8s.io/v1/namespaces/default/events",
      { resourceVersion: String(sim.store.resourceVersion) },
      (type, obj) => seen.push({ type, obj }),
      () => {}
    )
    try {
      sim.store.create(Keys.events, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "web-2.killing", namespace: "default" },
        involvedObject: { kind: "Pod", namespace: "default", name: "web-2" },
        reason: "Killing",
        message: "Stopping container app",
        type: "Normal"
      })
      await until(() => seen.length === 1, 3000, "event")
      assert.strictEqual(seen[0].type, "ADDED")
      assert.strictEqual(seen[0].obj.apiVersion, "events.k8s.io/v1")
      assert.strictEqual(seen[0].obj.note, "Stopping container app")
      assert.isUndefined(seen[0].obj.message)
    } finally {
      ac.abort()
    }
  })
})
