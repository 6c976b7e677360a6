import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as PodEvents from "../../src/probes/events"
import * as ImageIds from "../../src/probes/imageIds"
import * as PodLogs from "../../src/probes/podLogs"
import { cs, pod } from "./pods"

const D1 = `sha256:${"a".repeat(64)}`
const D2 = `sha256:${"b".repeat(64)}`

describe("PodEvents: core/v1 and events.k8s.io/v1 shapes normalise alike", () => {
  const core = {
    apiVersion: "v1", kind: "Event", metadata: { name: "api.1", namespace: "shop" },
    involvedObject: { kind: "Pod", name: "api-1", namespace: "shop", uid: "u1", fieldPath: "spec.containers{app}" },
    reason: "Unhealthy", message: "Liveness probe failed: HTTP probe failed with statuscode: 500", type: "Warning", count: 4,
    firstTimestamp: "2026-01-01T00:01:00Z", lastTimestamp: "2026-01-01T00:03:00Z", source: { component: "kubelet", host: "node-1" }
  }
  const v1 = {
    apiVersion: "events.k8s.io/v1", kind: "Event", metadata: { name: "api.1", namespace: "shop" },
    regarding: { kind: "Pod", name: "api-1", namespace: "shop", uid: "u1", fieldPath: "spec.containers{app}" },
    reason: "Unhealthy", note: "Liveness probe failed: HTTP probe failed with statuscode: 500", type: "Warning",
    eventTime: "2026-01-01T00:01:00.000000Z", series: { count: 4, lastObservedTime: "2026-01-01T00:03:00.000000Z" },
    reportingController: "kubelet", reportingInstance: "kubelet-node-1", deprecatedSource: { component: "kubelet", host: "node-1" }
  }
  it.effect("same PodEvent from both", () =>
    Effect.gen(function*() {
      const a = yield* PodEvents.decode(core)
      const b = yield* PodEvents.decode(v1)
      assert.deepStrictEqual(a, b)
      assert.strictEqual(a.container, "app")
      assert.strictEqual(a.count, 4)
      assert.strictEqual(a.lastTime, "2026-01-01T00:03:00.000Z")
      assert.strictEqual(a.source, "kubelet")
    }))
  it.effect("init containers and a malformed Event", () =>
    Effect.gen(function*() {
      const e = yield* PodEvents.decode({ ...core, involvedObject: { ...core.involvedObject, fieldPath: "spec.initContainers{migrate}" } })
      assert.deepStrictEqual([e.container, e.init], ["migrate", true])
      const bad = yield* Effect.flip(PodEvents.decode({ ...core, count: "four" }))
      assert.match(String(bad), /count/)
    }))
})

describe("ImageIds: digests per restart, re-pushed tags", () => {
  it("digestOf parses the runtimes' forms", () => {
    assert.deepStrictEqual(ImageIds.digestOf(`docker-pullable://registry.example.com/shop/api@${D1}`), { repository: "registry.example.com/shop/api", digest: D1 })
    assert.deepStrictEqual(ImageIds.digestOf(`registry.example.com/shop/api@${D1}`), { repository: "registry.example.com/shop/api", digest: D1 })
    assert.deepStrictEqual(ImageIds.digestOf(D1), { repository: null, digest: D1 })
    assert.isUndefined(ImageIds.digestOf(""))
    assert.isUndefined(ImageIds.digestOf("registry.example.com/shop/api:1.0"))
    assert.strictEqual(ImageIds.pinned("registry.example.com:5000/shop/api:1.0", D2), `registry.example.com:5000/shop/api@${D2}`)
  })
  it("History records one entry per restart or digest change; a re-push is two digests under one tag", () => {
    const h = new ImageIds.History()
    const at = (restartCount: number, digest: string) => pod({ status: { containerStatuses: [cs("app", { restartCount, imageID: `registry.example.com/shop/api@${digest}` })] } })
    h.observe(at(0, D1))
    h.observe(at(0, D1))
    h.observe(at(1, D1))
    assert.isFalse(ImageIds.rePushed(h.of("uid-1", "app")))
    h.observe(at(2, D2))
    const entries = h.of("uid-1", "app")
    assert.deepStrictEqual(entries.map((e) => [e.restartCount, e.digest]), [[0, D1], [1, D1], [2, D2]])
    assert.isTrue(ImageIds.rePushed(entries))
    assert.strictEqual(ImageIds.previousDigest(entries, "registry.example.com/shop/api:1.0"), D1)
    h.forget(at(2, D2))
    assert.strictEqual(h.of("uid-1", "app").length, 0)
  })
})

describe("PodLogs.redactLog", () => {
  it("redacts secrets line by line, keeps the tail", () => {
    const log = ["starting", "connecting to postgres://app:s3cr3t-pw@db:5432/shop", "password=hunter2", "panic: runtime error: invalid memory address or nil pointer dereference", ""].join("\n")
    const r = PodLogs.redactLog(log, undefined, 3)
    assert.strictEqual(r.lines.length, 3)
    assert.isTrue(r.truncated)
    assert.notInclude(r.lines.join("\n"), "s3cr3t-pw")
    assert.notInclude(r.lines.join("\n"), "hunter2")
    assert.include(r.lines[2]!, "nil pointer dereference")
    assert.isAtLeast(r.redactions, 2)
  })
})
