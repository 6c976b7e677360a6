import { assert, describe, it } from "@effect/vitest"
import { GuardrailStore } from "@byteport/core"
import { storeContract, storeSecrets, storeSecretsPlanted } from "@byteport/core/testing"
import { KubeSim, Keys } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { ConfigProvider, Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as LeaseStore from "../../src/stores/LeaseStore"
import { kubeLayer, sim } from "./helpers"

const NS = "byteport"

// One simulator for the whole contract suite: the suite uses fresh random keys per test.
let shared: KubeSimInstance
beforeAll(async () => {
  shared = await KubeSim.start({ seed: 11, namespaces: ["default", NS] })
})
afterAll(async () => {
  await shared?.close()
})

storeContract("LeaseStore (kube-sim)", () => LeaseStore.layer({ namespace: NS }).pipe(Layer.provide(kubeLayer(shared))), {
  // every operation is an HTTP round trip: fewer racers than the in-memory default, same exactness
  concurrency: 200,
  raceConcurrency: 100,
  // the 1,000-way lease hierarchy race is ~3,000 round trips: room for a loaded machine
  timeoutMs: 90_000
})

const T = 1_700_000_000_000

describe("LeaseStore specifics", () => {
  it.live("two independent stores (two agents) racing on one window never exceed max (409 → retry)", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const a = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      const b = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      const results = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => (i % 2 === 0 ? a : b).acquireWindow({ key: "bump:shop/web", max: 5, windowMs: 60_000, now: T }),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter((r) => r._tag === "Acquired").length, 5)
      assert.strictEqual((yield* a.peekWindow("bump:shop/web", 60_000, T)).count, 5)
      assert.ok(s.recorder.count({ method: "PUT", status: 409 }) + s.recorder.count({ method: "POST", status: 409 }) > 0, "the agents really conflicted")
    }).pipe(Effect.scoped))

  it.live("hierarchical leases: two stores (two agents) racing on a parent and its children never both hold", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const a = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      const b = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      const shapes = [{ key: "w" }, { key: "w/a", parents: ["w"] }, { key: "w/b", parents: ["w"] }, { key: "w/a/x", parents: ["w/a", "w"] }]
      const results = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => (i % 2 === 0 ? a : b).acquireLease({ ...shapes[i % shapes.length]!, holder: `h${i}`, ttlMs: 60_000, now: T }),
        { concurrency: "unbounded" }
      )
      const won = results.flatMap((r, i) => (r._tag === "Acquired" ? [{ ...shapes[i % shapes.length]!, holder: `h${i}` }] : []))
      assert.isAbove(won.length, 0)
      for (const x of won) {
        for (const y of won) {
          if (x === y) continue
          assert.isFalse(x.key === y.key || (x.parents ?? []).includes(y.key) || (y.parents ?? []).includes(x.key), `${x.holder}@${x.key} and ${y.holder}@${y.key}`)
        }
      }
      assert.ok(s.recorder.count({ method: "PUT", status: 409 }) + s.recorder.count({ method: "POST", status: 409 }) > 0, "the agents really conflicted")
      // the stored leases are exactly the winners
      const held = (yield* Effect.forEach(shapes, (x) => a.getLease(x.key))).flatMap((l) => (l === undefined ? [] : [`${l.key}=${l.holder}`]))
      assert.deepStrictEqual(held.sort(), won.map((w) => `${w.key}=${w.holder}`).sort())
    }).pipe(Effect.scoped))

  it.live("hierarchical leases: a child acquire that loses rolls its claim on the parent back; a release removes it", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const store = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      const claims = () =>
        s.store.list(Keys.leases, { namespace: NS }).find((l) => l.metadata.annotations?.[LeaseStore.Annotations.key] === "p")
          ?.metadata.annotations?.[LeaseStore.Annotations.claims]
      // x holds the child without declaring a parent; y asks for it with its parent and loses
      assert.strictEqual((yield* store.acquireLease({ key: "p/c", holder: "x", ttlMs: 60_000, now: T }))._tag, "Acquired")
      const lost = yield* store.acquireLease({ key: "p/c", holder: "y", ttlMs: 60_000, now: T + 1, parents: ["p"] })
      assert.strictEqual(lost._tag, "Held")
      assert.strictEqual(claims(), undefined)
      assert.strictEqual((yield* store.acquireLease({ key: "p", holder: "z", ttlMs: 1_000, now: T + 2 }))._tag, "Acquired")
      yield* store.releaseLease("p", "z")
      // a child held with its parent records a claim; its release removes it and frees the parent at once
      assert.strictEqual((yield* store.acquireLease({ key: "p/d", holder: "y", ttlMs: 60_000, now: T + 3, parents: ["p"] }))._tag, "Acquired")
      assert.include(claims() ?? "", "p/d")
      assert.strictEqual((yield* store.acquireLease({ key: "p", holder: "z", ttlMs: 1_000, now: T + 4 }))._tag, "Held")
      yield* store.releaseLease("p/d", "y")
      assert.strictEqual(claims(), undefined)
      assert.strictEqual((yield* store.acquireLease({ key: "p", holder: "z", ttlMs: 1_000, now: T + 5 }))._tag, "Acquired")
      yield* store.releaseLease("p", "z")
      // a lease moved to another parent leaves no claim behind on the old one
      assert.strictEqual((yield* store.acquireLease({ key: "p/e", holder: "y", ttlMs: 60_000, now: T + 6, parents: ["p"] }))._tag, "Acquired")
      assert.strictEqual((yield* store.acquireLease({ key: "p/e", holder: "y", ttlMs: 60_000, now: T + 7, parents: ["q"] }))._tag, "Acquired")
      assert.strictEqual(claims(), undefined)
      assert.strictEqual((yield* store.acquireLease({ key: "p", holder: "z", ttlMs: 1_000, now: T + 8 }))._tag, "Acquired")
      assert.strictEqual((yield* store.acquireLease({ key: "q", holder: "z", ttlMs: 1_000, now: T + 8 }))._tag, "Held")
    }).pipe(Effect.scoped))

  it.live("writes are redacted: no planted secret in any Lease object (values, lease data, claims, journals)", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const store = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      const planted = storeSecretsPlanted()
      assert.strictEqual(yield* store.compareAndSet("baseline:k8s.workload:c/shop/Deployment/web", 0, planted.value), true)
      yield* store.acquireLease({ key: "target:c/shop/Deployment/web/app", holder: "h", ttlMs: 60_000, now: T, data: planted.leaseData, parents: ["target:c/shop/Deployment/web"] })
      yield* store.appendJournal({ incidentId: "inc-1", at: T, type: "opened", data: { runbook: "r", targetKey: "t", evidence: planted.value } })
      const raw = JSON.stringify(s.store.list(Keys.leases, { namespace: NS }))
      assert.include(raw, "limitMi") // the objects are really there
      assert.include(raw, "lease-claims")
      for (const secret of storeSecrets) assert.notInclude(raw, secret)
    }).pipe(Effect.scoped))

  it.live("maps keys to valid Lease names, keeps the original key, and survives the target's deletion", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const store = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      const key = `k8s.workload:prod/shop/Deployment/${"web".repeat(100)}/app`
      yield* store.acquireWindow({ key, max: 1, windowMs: 86_400_000, now: T })
      const leases = s.store.list(Keys.leases, { namespace: NS })
      assert.strictEqual(leases.length, 1)
      const lease = leases[0]!
      assert.match(lease.metadata.name, /^bp-w-[a-z0-9-]+$/)
      assert.ok(lease.metadata.name.length <= 63)
      assert.strictEqual(lease.metadata.annotations?.[LeaseStore.Annotations.key], key)
      assert.strictEqual(lease.metadata.labels?.[LeaseStore.Labels.managedBy], "byteport")
      assert.strictEqual(lease.metadata.ownerReferences, undefined, "not owned by the target")
      // the target goes away; the budget stays spent
      s.store.create(Keys.deployments, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "default" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } } as never)
      s.store.delete(Keys.deployments, "default", "web")
      assert.strictEqual((yield* store.acquireWindow({ key, max: 1, windowMs: 86_400_000, now: T + 1000 }))._tag, "Exhausted")
    }).pipe(Effect.scoped))

  it.live("leases are readable with kubectl-style fields; gc removes dead windows; a too-large value is refused", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const store = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      yield* store.acquireLease({ key: "target:web", holder: "agent-a", ttlMs: 90_000, now: T })
      const l = s.store.list(Keys.leases, { namespace: NS }).find((x) => x.metadata.name.startsWith("bp-l-"))!
      const spec = (l as unknown as { spec: Record<string, unknown> }).spec
      assert.strictEqual(spec.holderIdentity, "agent-a")
      assert.strictEqual(spec.leaseDurationSeconds, 90)
      assert.match(String(spec.acquireTime), /^2023-11-14T22:13:20\.000000Z$/)
      yield* store.acquireWindow({ key: "w1", max: 1, windowMs: 1000, now: T })
      yield* store.acquireWindow({ key: "w2", max: 1, windowMs: 10_000, now: T })
      assert.strictEqual(yield* store.gc(T + 5000), 1)
      assert.deepStrictEqual(yield* store.peekWindow("w2", 10_000, T + 5000), { count: 1, oldestAt: T })
      // closed journals go only with a retention, and only when old enough; open ones stay
      yield* store.appendJournal({ incidentId: "inc-closed", at: T, type: "opened", data: { runbook: "r", targetKey: "t" } })
      yield* store.appendJournal({ incidentId: "inc-closed", at: T + 10, type: "closed", data: {} })
      yield* store.appendJournal({ incidentId: "inc-open", at: T, type: "opened", data: { runbook: "r", targetKey: "t" } })
      assert.strictEqual(yield* store.gc(T + 5000), 0)
      assert.strictEqual(yield* store.gc(T + 5000, { closedJournalRetentionMs: 10_000 }), 0)
      // at T + 20 s: the closed journal and the w2 window (10 s) are both dead
      assert.strictEqual(yield* store.gc(T + 20_000, { closedJournalRetentionMs: 10_000 }), 2)
      assert.deepStrictEqual(yield* store.readJournal("inc-closed"), [])
      assert.strictEqual((yield* store.readJournal("inc-open")).length, 1)
      const big = yield* Effect.flip(store.compareAndSet("big", 0, "x".repeat(300 * 1024)))
      assert.strictEqual(big._tag, "StoreError")
      assert.include(big.message, "limit")
    }).pipe(Effect.scoped))

  it.live("layerConfig puts the Leases in BYTEPORT_LEASE_NAMESPACE", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", "ops-guardrails"] })
      const ok = yield* Effect.flatMap(GuardrailStore.GuardrailStore, (st) => st.compareAndSet("k", 0, { a: 1 })).pipe(
        Effect.provide(LeaseStore.layerConfig.pipe(Layer.provide(kubeLayer(s)))),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BYTEPORT_LEASE_NAMESPACE: "ops-guardrails" } })))
      )
      assert.strictEqual(ok, true)
      assert.strictEqual(s.store.list(Keys.leases, { namespace: "ops-guardrails" }).length, 1)
    }).pipe(Effect.scoped))

  it.live("API failures become StoreError naming the operation", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const store = yield* LeaseStore.make({ namespace: NS }).pipe(Effect.provide(kubeLayer(s)))
      s.faults.error({ resource: "leases", status: 503, times: 1 })
      const e = yield* Effect.flip(store.get("k"))
      assert.instanceOf(e, GuardrailStore.StoreError)
      assert.strictEqual(e.operation, "get")
      assert.include(e.message, "KubeUnavailable")
    }).pipe(Effect.scoped))
})
