/**
 * Node guardrails, detector and classifier units, and a property test for every "never" of the
 * node kinds (fast-check): never a control-plane node, never a foreign cordon adopted or undone,
 * never more BytePort cordons per cluster than the cap (concurrent acquires on one store), never a
 * forced drain, never an uncordon before the healthy delay (a flap restarts the clock).
 */
import { assert, describe, it } from "@effect/vitest"
import { Agent, Catalog, GuardrailStore, MemoryStore, Runbook, Settings, type Signal } from "@byteport/core"
import { ConfigProvider, Effect, Exit } from "effect"
import fc from "fast-check"
import type { V1Node, V1Pod } from "@kubernetes/client-node"
import * as DrainNode from "../../src/actions/drainNode"
import * as NodeActions from "../../src/actions/node"
import * as RequestNodeReplacement from "../../src/actions/requestNodeReplacement"
import * as UncordonNode from "../../src/actions/uncordonNode"
import * as NodeClassifier from "../../src/classifiers/nodePressure"
import * as NodeConditions from "../../src/detectors/nodeConditions"
import * as NodeGuards from "../../src/guardrails/nodeGuards"
import * as PressureDrain from "../../src/runbooks/k8s.node.pressure-drain"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import * as NodeReplacement from "../../src/remediators/nodeReplacement"
import * as Targets from "../../src/targets/Targets"
import { ctx, fakeKube, node } from "./helpers"

const run = <A>(eff: Effect.Effect<A, unknown, any>, nodes: Map<string, V1Node>) =>
  Effect.flatMap(MemoryStore.make(), (store) => eff.pipe(Effect.provideService(GuardrailStore.GuardrailStore, store), Effect.provide(fakeKube(nodes)))) as Effect.Effect<A>

const T0 = Date.parse("2026-01-01T00:00:00Z")

describe("node guardrails: pure parts", () => {
  it("maxUnavailableNodes: a share of the nodes, at least 1", () => {
    assert.strictEqual(NodeGuards.unavailableLimit(10, "10%"), 1)
    assert.strictEqual(NodeGuards.unavailableLimit(3, "10%"), 1)
    assert.strictEqual(NodeGuards.unavailableLimit(30, "10%"), 3)
    assert.strictEqual(NodeGuards.unavailableLimit(10, 2), 2)
    assert.strictEqual(NodeGuards.parseMaxUnavailable("25%"), "25%")
    assert.strictEqual(NodeGuards.parseMaxUnavailable("0"), undefined)
    assert.strictEqual(NodeGuards.parseMaxUnavailable("150%"), undefined)
  })

  it("healthySince: Ready and pressure-free since the latest transition; undefined under pressure", () => {
    assert.strictEqual(NodeGuards.healthySince(node("a", { readySince: "2026-01-01T00:10:00Z" })), Date.parse("2026-01-01T00:10:00Z"))
    assert.isUndefined(NodeGuards.healthySince(node("a", { pressure: ["DiskPressure"] })))
    assert.isUndefined(NodeGuards.healthySince(node("a", { ready: "Unknown" })))
  })

  it("Settings.boolean: true/false in any case, anything else is a ConfigError naming the key", () => {
    const read = (v: string) => Effect.runSyncExit(RequestNodeReplacement.autoReplaceConfig.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BYTEPORT_AUTO_REPLACE_NODES: v } })))) as Effect.Effect<boolean, unknown>)
    assert.deepStrictEqual(read("TRUE"), Exit.succeed(true))
    assert.deepStrictEqual(read("false"), Exit.succeed(false))
    const bad = read("yes")
    assert.isTrue(Exit.isFailure(bad))
    assert.match(String(bad), /BYTEPORT_AUTO_REPLACE_NODES must be true or false/)
    assert.isDefined(Settings.boolean)
  })

  it("the replacement opt-in guardrail carries its config, so Agent startup validates it", () => {
    assert.strictEqual(RequestNodeReplacement.optIn.config?.length, 1)
  })
})

describe("kubectl's drain refusals", () => {
  const pod = (o: { owner?: string; emptyDir?: boolean }): V1Pod => ({
    metadata: { name: "p", namespace: "default", ...(o.owner ? { ownerReferences: [{ kind: o.owner, name: "x", uid: "u", apiVersion: "apps/v1", controller: true }] } : {}) },
    spec: { containers: [], ...(o.emptyDir ? { volumes: [{ name: "scratch", emptyDir: {} }] } : {}) }
  }) as V1Pod
  it("a bare pod and an emptyDir pod stop the drain; deleteEmptyDirData lets the latter through", () => {
    assert.match(DrainNode.refusal(pod({}))!, /no controller/)
    assert.match(DrainNode.refusal(pod({ owner: "ReplicaSet", emptyDir: true }))!, /emptyDir/)
    assert.isUndefined(DrainNode.refusal(pod({ owner: "ReplicaSet", emptyDir: true }), { deleteEmptyDirData: true }))
    assert.isUndefined(DrainNode.refusal(pod({ owner: "ReplicaSet" })))
  })
})

describe("node conditions detector (pure evaluation)", () => {
  it("NotReady only after 60 s, once per episode; a new episode signals again", () => {
    const emitted = new Set<string>()
    const down = node("node-2", { ready: "Unknown", readySince: "2026-01-01T00:00:00Z" })
    assert.strictEqual(NodeConditions.evaluate([node("node-1"), down, node("node-3")], T0 + 59_000, emitted).length, 0)
    const d = NodeConditions.evaluate([node("node-1"), down, node("node-3")], T0 + 60_000, emitted)
    assert.deepStrictEqual(d.map((x) => [x.type, x.node]), [["k8s.node.not_ready", "node-2"]])
    assert.strictEqual(NodeConditions.evaluate([node("node-1"), down, node("node-3")], T0 + 120_000, emitted).length, 0)
    NodeConditions.evaluate([node("node-1"), node("node-2"), node("node-3")], T0 + 130_000, emitted)
    const again = node("node-2", { ready: "False", readySince: "2026-01-01T00:03:00Z" })
    assert.strictEqual(NodeConditions.evaluate([node("node-1"), again, node("node-3")], T0 + 240_000, emitted).length, 1)
  })

  it("a storm past maxUnavailableNodes is one signal naming every unavailable node", () => {
    const nodes = Array.from({ length: 10 }, (_, i) => node(`node-${i}`, i < 3 ? { ready: "Unknown" } : {}))
    const emitted = new Set<string>()
    const d = NodeConditions.evaluate(nodes, T0 + 120_000, emitted)
    assert.strictEqual(d.length, 1)
    assert.strictEqual(d[0]!.node, "node-0")
    assert.deepStrictEqual(d[0]!.unavailableNodes, ["node-0", "node-1", "node-2"])
    assert.strictEqual(NodeConditions.evaluate(nodes, T0 + 180_000, emitted).length, 0, "once")
    // two nodes recover: the storm is over, and the node still down signals on its own
    const after = nodes.map((n, i) => (i === 1 || i === 2 ? node(`node-${i}`) : n))
    const d2 = NodeConditions.evaluate(after, T0 + 240_000, emitted)
    assert.deepStrictEqual(d2.map((x) => [x.node, x.unavailableNodes]), [["node-0", undefined]])
  })
})

describe("precedence: k8s.oom.six-signal keeps MemoryPressure", () => {
  const sig = (type: string): Signal.Signal => ({ type, target: Targets.node({ cluster: "prod", name: "node-2" }), observedAt: T0, evidence: { node: "node-2" } })
  it("MemoryPressure routes to the OOM runbook, the other node conditions to pressure-drain, whatever the declaration order", () => {
    for (const runbooks of [[PressureDrain.make(), OomRunbook.make()], [OomRunbook.make(), PressureDrain.make()]] as const) {
      const catalog = Catalog.make(runbooks as never)
      assert.strictEqual(Catalog.route(catalog, [sig("k8s.node.memory_pressure")])?.runbook.id, "k8s.oom.six-signal")
      assert.strictEqual(Catalog.route(catalog, [sig("k8s.node.memory_pressure"), sig("k8s.node.disk_pressure")])?.runbook.id, "k8s.oom.six-signal")
      for (const t of ["k8s.node.not_ready", "k8s.node.disk_pressure", "k8s.node.pid_pressure"]) {
        assert.strictEqual(Catalog.route(catalog, [sig(t)])?.runbook.id, "k8s.node.pressure-drain")
      }
    }
    assert.isAbove(PressureDrain.PRECEDENCE, OomRunbook.make().precedence)
  })
})

describe("classifier", () => {
  it("first match in the seed's order; a healthy node is Unclassified", () => {
    const facts = (n: V1Node) => ({ node: { _tag: "Known", value: NodeClassifier.nodeState(n) }, cluster: { _tag: "Known", value: NodeClassifier.clusterState([n]) } }) as never
    const c = NodeClassifier.classify()
    assert.strictEqual((c(facts(node("a", { ready: "Unknown", pressure: ["MemoryPressure"] }))) as any).class, "node_not_ready")
    assert.strictEqual((c(facts(node("a", { pressure: ["MemoryPressure", "DiskPressure"] }))) as any).class, "memory_pressure")
    assert.strictEqual((c(facts(node("a", { pressure: ["DiskPressure"] }))) as any).class, "disk_pressure")
    assert.strictEqual((c(facts(node("a", { pressure: ["PIDPressure"] }))) as any).class, "pid_pressure")
    assert.strictEqual(c(facts(node("a"))). _tag, "Unclassified")
  })

  it("the replacement step: reservation then an awaited hand-off, escalating when denied", () => {
    const s = NodeReplacement.stepOrEscalate({ node: "node-2", cluster: "prod", reason: "MCE", observedAt: T0 })
    assert.strictEqual(s._tag, "Fallback")
    const primary = (s as any).primary
    assert.strictEqual(primary.steps[0].action.kind, "k8s.requestNodeReplacement")
    assert.strictEqual(primary.steps[1]._tag, "HandOff")
    assert.strictEqual(primary.steps[1].signal.type, "k8s.node-replacement.requested")
    assert.strictEqual(primary.steps[1].await, 30 * 60_000)
  })
})

describe("every never, property-tested", () => {
  const annotation = fc.constantFrom<string | undefined>(undefined, "inc-1", "inc-other")

  it.effect("never a control-plane node, whatever its other labels", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.boolean(), fc.boolean(), fc.dictionary(fc.constantFrom("team", "zone", "pool"), fc.string()), async (cp, master, extra) => {
        const labels: Record<string, string> = { ...extra, ...(cp ? { "node-role.kubernetes.io/control-plane": "" } : {}), ...(master ? { "node-role.kubernetes.io/master": "" } : {}) }
        const nodes = new Map([["n", node("n", { labels })]])
        for (const kind of ["k8s.cordonNode", "k8s.drainNode", "k8s.requestNodeReplacement"]) {
          const r = await Effect.runPromise(run(NodeGuards.neverControlPlane().check(ctx(kind, "n")), nodes))
          if ((cp || master) !== (r._tag === "Deny")) return false
        }
        return true
      }), { numRuns: 60 })))

  it.effect("never adopt a foreign cordon, never undo one", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.boolean(), annotation, async (cordoned, by) => {
        const nodes = new Map([["n", node("n", { cordoned, ...(by ? { cordonedBy: by } : {}) })]])
        const foreign = cordoned && by !== "inc-1"
        const adopt = await Effect.runPromise(run(NodeGuards.notCordonedByOthers.check(ctx("k8s.cordonNode", "n")), nodes))
        const undo = await Effect.runPromise(run(NodeGuards.neverUndoOthersCordon.check(ctx("k8s.uncordonNode", "n")), nodes))
        return (adopt._tag === "Deny") === foreign && (undo._tag === "Deny") === foreign
      }), { numRuns: 60 })))

  it.effect("never more BytePort cordons per cluster than maxCordonedNodes, however many incidents race on one store", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 7 }), async (max, incidents) => {
        const nodes = new Map(Array.from({ length: 10 }, (_, i) => [`n${i}`, node(`n${i}`)] as const))
        const guard = NodeGuards.cordonSlots({ maxCordonedNodes: max, slotGraceSeconds: 120 })
        const results = await Effect.runPromise(run(
          Effect.forEach(Array.from({ length: incidents }, (_, i) => i), (i) => guard.acquire(ctx("k8s.cordonNode", `n${i}`, { incidentId: `inc-${i}` })), { concurrency: "unbounded" }),
          nodes
        ))
        return results.filter((r) => r.result._tag === "Pass").length === Math.min(max, incidents)
      }), { numRuns: 40 })))

  it.effect("a slot stays taken while its node stays cordoned by its incident, and frees when it is uncordoned", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make()
      const nodes = new Map([["a", node("a")], ["b", node("b")]])
      const guard = NodeGuards.cordonSlots()
      const go = <A>(e: Effect.Effect<A, unknown, any>) => e.pipe(Effect.provideService(GuardrailStore.GuardrailStore, store), Effect.provide(fakeKube(nodes))) as Effect.Effect<A>
      const first = yield* go(guard.acquire(ctx("k8s.cordonNode", "a", { incidentId: "inc-a" })))
      assert.strictEqual(first.result._tag, "Pass")
      nodes.set("a", node("a", { cordoned: true, cordonedBy: "inc-a" }))
      const later = Date.parse("2026-01-01T05:00:00Z")
      const second = yield* go(guard.acquire(ctx("k8s.cordonNode", "b", { incidentId: "inc-b", now: later })))
      assert.strictEqual(second.result._tag, "Deny")
      assert.match((second.result as any).reason, /a \(incident inc-a\)/)
      nodes.set("a", node("a"))
      const third = yield* go(guard.acquire(ctx("k8s.cordonNode", "b", { incidentId: "inc-b", now: later })))
      assert.strictEqual(third.result._tag, "Pass")
    }))

  it.effect("past maxUnavailableNodes a cordon is denied naming every unavailable node", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.integer({ min: 3, max: 20 }), fc.integer({ min: 0, max: 6 }), async (total, down) => {
        const nodes = new Map(Array.from({ length: total }, (_, i) => [`n${i}`, node(`n${i}`, i < down ? { ready: "Unknown" } : {})] as const))
        const r = await Effect.runPromise(run(NodeGuards.unavailableNodes().check(ctx("k8s.cordonNode", `n${total - 1}`)), nodes))
        const allowed = NodeGuards.unavailableLimit(total, "10%")
        const expectDeny = Math.min(down, total) + 1 > allowed
        if (expectDeny !== (r._tag === "Deny")) return false
        return r._tag !== "Deny" || Array.from({ length: Math.min(down, total) }, (_, i) => `n${i}`).every((n) => r.reason.includes(`${n} (NotReady`))
      }), { numRuns: 60 })))

  it.effect("never a forced drain: force, grace 0 or no Eviction API are denied", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.boolean(), fc.constantFrom(undefined, 0, 1, 30), fc.boolean(), async (force, grace, disable) => {
        const params = { ignoreDaemonSets: true, respectPodDisruptionBudgets: true, timeoutSeconds: 300, ...(force ? { force: true } : {}), ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}), ...(disable ? { disableEviction: true } : {}) }
        const r = await Effect.runPromise(run(DrainNode.neverForce.check(ctx("k8s.drainNode", "n", { params })), new Map()))
        return (r._tag === "Deny") === (force || grace === 0 || disable)
      }), { numRuns: 60 })))

  it("never an uncordon before the healthy delay: the clock restarts at every flap", () => {
    fc.assert(fc.property(fc.array(fc.record({ healthy: fc.boolean(), since: fc.integer({ min: 0, max: 10_000 }) }), { minLength: 1, maxLength: 40 }), (polls) => {
      let from: number | undefined
      let lastUnhealthy = -1
      polls.forEach((p, i) => {
        const t = i * 15_000
        const since = p.healthy ? Math.min(t, p.since + Math.max(0, lastUnhealthy + 1)) : undefined
        from = UncordonNode.nextHealthyFrom(from, since)
        if (!p.healthy) lastUnhealthy = t
      })
      const last = polls[polls.length - 1]!
      if (!last.healthy) return from === undefined
      // the healthy stretch never starts before the last poll that saw the node unhealthy
      return from !== undefined && from > lastUnhealthy
    }), { numRuns: 200 })
  })
})

describe("k8s.requestNodeReplacement guardrails", () => {
  const withFlag = (value: string | undefined) => (e: Effect.Effect<any, any, any>) =>
    e.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: value === undefined ? {} : { BYTEPORT_AUTO_REPLACE_NODES: value } }))))
  const decideAll = (nodes: Map<string, V1Node>, name: string, o: { readonly flag?: string; readonly now?: number } = {}) =>
    Effect.forEach(RequestNodeReplacement.guardrails(), (g) => Effect.map(g.check(ctx(RequestNodeReplacement.KIND, name, { now: o.now })), (r) => [g.name, r._tag] as const)).pipe(withFlag(o.flag))

  it.effect("opt-in off by default; providerID required; never a control-plane node", () =>
    Effect.gen(function*() {
      const nodes = new Map([
        ["w", node("w", { providerID: "aws:///eu-west-1a/i-0abc" })],
        ["bare", node("bare")],
        ["cp", node("cp", { providerID: "aws:///eu-west-1a/i-0cp", labels: { "node-role.kubernetes.io/control-plane": "" } })]
      ])
      const denied = (rs: ReadonlyArray<readonly [string, string]>) => rs.filter(([, t]) => t === "Deny").map(([n]) => n)
      assert.deepStrictEqual(denied(yield* run(decideAll(nodes, "w"), nodes)), ["opt_in(BYTEPORT_AUTO_REPLACE_NODES)"])
      assert.deepStrictEqual(denied(yield* run(decideAll(nodes, "w", { flag: "true" }), nodes)), [])
      assert.deepStrictEqual(denied(yield* run(decideAll(nodes, "bare", { flag: "true" }), nodes)), ["require_provider_id"])
      assert.deepStrictEqual(denied(yield* run(decideAll(nodes, "cp", { flag: "true" }), nodes)), ["never_control_plane_node"])
    }))

  it.effect("1 in flight and 2 per 24 h per cluster", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make()
      const nodes = new Map(["a", "b", "c"].map((n) => [n, node(n, { providerID: `aws:///i-${n}` })] as const))
      const take = (name: string, now: number) =>
        Effect.gen(function*() {
          for (const g of RequestNodeReplacement.guardrails()) {
            const a = yield* g.acquire(ctx(RequestNodeReplacement.KIND, name, { now, incidentId: `inc-${name}-${now}` }))
            if (a.result._tag === "Deny") return g.name
          }
          return "allowed"
        }).pipe(withFlag("true"), Effect.provideService(GuardrailStore.GuardrailStore, store), Effect.provide(fakeKube(nodes))) as Effect.Effect<string>
      assert.strictEqual(yield* take("a", T0), "allowed")
      assert.strictEqual(yield* take("b", T0 + 60_000), "node_replacement_in_flight_per_cluster")
      assert.strictEqual(yield* take("b", T0 + 31 * 60_000), "allowed")
      assert.strictEqual(yield* take("c", T0 + 70 * 60_000), "node_replacements_per_cluster_per_24h")
      assert.strictEqual(yield* take("c", T0 + 25 * 3_600_000), "allowed")
    }))
})

describe("configuration is validated at startup", () => {
  const env = (e: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: e })))
  it.effect("BYTEPORT_AUTO_REPLACE_NODES=yes fails Agent.validate (the handler's guardrail config); true passes", () =>
    Effect.gen(function*() {
      const handlers = NodeActions.handlers() as never
      const bad = yield* Effect.exit(Agent.validate({ handlers }).pipe(env({ BYTEPORT_AUTO_REPLACE_NODES: "yes" })))
      assert.isTrue(Exit.isFailure(bad))
      assert.match(String(bad), /BYTEPORT_AUTO_REPLACE_NODES must be true or false/)
      const ok = yield* Effect.exit(Agent.validate({ handlers }).pipe(env({ BYTEPORT_AUTO_REPLACE_NODES: "true" })))
      assert.isTrue(Exit.isSuccess(ok))
    }))

  it.effect("the runbook's keys: a bad maxUnavailableNodes, healthy delay or emptyDir flag is a ConfigError naming the key", () =>
    Effect.gen(function*() {
      const rb = PressureDrain.make()
      for (const [key, value] of [["BYTEPORT_MAX_UNAVAILABLE_NODES", "0"], ["BYTEPORT_MAX_UNAVAILABLE_NODES", "120%"], ["BYTEPORT_NODE_HEALTHY_DELAY_SECONDS", "-5"], ["BYTEPORT_NODE_DRAIN_DELETE_EMPTYDIR_DATA", "maybe"], ["BYTEPORT_MAX_CORDONED_NODES", "0"]] as const) {
        const exit = yield* Effect.exit(Runbook.validateConfig(rb as never).pipe(env({ [key]: value })))
        assert.isTrue(Exit.isFailure(exit), `${key}=${value}`)
        assert.include(String(exit), key)
      }
      const guards = yield* NodeGuards.fromConfig.pipe(env({ BYTEPORT_MAX_UNAVAILABLE_NODES: "3", BYTEPORT_MAX_CORDONED_NODES: "2" }))
      assert.strictEqual(guards.maxUnavailableNodes, 3)
      assert.strictEqual(guards.maxCordonedNodes, 2)
      const fromConfig = yield* PressureDrain.fromConfig().pipe(env({ BYTEPORT_NODE_HEALTHY_DELAY_SECONDS: "120" }))
      assert.strictEqual(fromConfig.id, "k8s.node.pressure-drain")
    }))
})
