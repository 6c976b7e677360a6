/**
 * The guardrails of the node action kinds, and every "never" of k8s.node.not-ready as a property:
 * only kubelet/containerd/crio are ever restarted; PersistentVolumes/PVCs are never deleted; at
 * most 1 restart per unit per node per hour and 1 CNI recreation per node per 30 min, one node at
 * a time; hardware never gets a repair; a classification never rests on an Unknown fact.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, Fact, Guardrail, GuardrailStore, MemoryStore, Plan, TargetRef } from "@byteport/core"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import * as DeleteEvictedPods from "../../src/actions/deleteEvictedPods"
import * as PruneNodeImages from "../../src/actions/pruneNodeImages"
import * as RecreateCniPod from "../../src/actions/recreateCniPod"
import * as RestartNodeUnit from "../../src/actions/restartNodeUnit"
import * as NodeClassifier from "../../src/classifiers/nodeNotReady"
import * as Remediator from "../../src/remediators/nodeNotReady"
import * as F from "./fixtures"

const runs = { numRuns: 200 }
const nodeRef = (node: string, cluster = "c1") => TargetRef.make("k8s.node", `${cluster}/${node}`)
// each attempt is its own incident: a window unit is keyed by incident, step, action and guardrail
// (a resumed step holds its unit, it does not take a second one)
let attempt = 0
const ctx = (action: Action.Action, now = 0, cls = "transient_kubelet_hang"): Guardrail.GuardrailContext => ({
  incidentId: `inc_${++attempt}`,
  runbook: "k8s.node.not-ready",
  mode: "auto",
  signal: { type: "k8s.node.not_ready", target: action.target, observedAt: 0, evidence: {} },
  classification: Classification.classified(cls, 0.82, ["test"], {}),
  facts: {},
  plan: Plan.make("k8s.node.not-ready", cls, "p", Plan.act(action)),
  planDigest: "d",
  action,
  stepPath: "0",
  now,
  baseline: {}
})
const restart = (node: string, unit: string, cluster = "c1") =>
  Action.make({ kind: RestartNodeUnit.KIND, target: nodeRef(node, cluster), params: { node, unit, reason: "t" }, description: "restart" })
const store = Layer.effect(GuardrailStore.GuardrailStore, MemoryStore.make())
const checkAll = <R>(gs: ReadonlyArray<Guardrail.Guardrail<R>>, c: Guardrail.GuardrailContext) =>
  Effect.forEach(gs, (g) => Effect.map(g.check(c), (r) => ({ name: g.name, r })))
const acquireAll = (gs: ReadonlyArray<Guardrail.Guardrail<never>>, c: Guardrail.GuardrailContext) =>
  Effect.gen(function*() {
    const taken: Array<Guardrail.Acquisition> = []
    for (const g of gs) {
      const a = yield* g.acquire(c)
      if (a.result._tag !== "Pass") {
        for (const t of taken) yield* t.release
        return false
      }
      taken.push(a)
    }
    return true
  })
const denied = (rs: ReadonlyArray<{ r: Guardrail.GuardrailResult }>) => rs.some((x) => x.r._tag === "Deny")
const safeName = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/).filter((s) => !/(^|[^a-z])pvc?s?($|[^a-z])|persistentvolume/i.test(s))

describe("k8s.restartNodeUnit guardrails", () => {
  const gs = RestartNodeUnit.guardrails()
  it.effect("never: any unit other than kubelet, containerd, crio is denied (property)", () =>
    Effect.gen(function*() {
      const never = gs.find((g) => g.name === "never_restart_other_units")!
      yield* Effect.promise(() =>
        fc.assert(fc.asyncProperty(safeName, fc.oneof(fc.string(), fc.constantFrom("sshd", "systemd-journald", "docker", "kubelet.service", "Kubelet", " kubelet", "etcd")), async (node, unit) => {
          const r = await Effect.runPromise(never.check(ctx(restart(node, unit))).pipe(Effect.provide(store)))
          return RestartNodeUnit.isAllowedUnit(unit) ? r._tag === "Pass" : r._tag === "Deny"
        }), runs))
      for (const u of RestartNodeUnit.UNITS) assert.strictEqual((yield* never.check(ctx(restart("n1", u))))._tag, "Pass")
    }).pipe(Effect.provide(store)))

  it.effect("1 restart per unit per node per hour: another unit or node is independent, the hour reopens it", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* acquireAll(gs, ctx(restart("n1", "kubelet"), 0)))
      assert.isFalse(yield* acquireAll(gs, ctx(restart("n1", "kubelet"), 59 * 60_000)))
      assert.isTrue(yield* acquireAll(gs, ctx(restart("n1", "containerd"), 60_000)))
      assert.isTrue(yield* acquireAll(gs, ctx(restart("n2", "kubelet"), 60_000)))
      const d = (yield* checkAll(gs, ctx(restart("n1", "kubelet"), 30 * 60_000))).find((x) => x.r._tag === "Deny")!
      assert.match((d.r as { reason: string }).reason, /node_unit_restarts_per_hour: 1 of 1 used/)
      assert.isTrue(yield* acquireAll(gs, ctx(restart("n1", "kubelet"), 60 * 60_000)))
    }).pipe(Effect.provide(store)))

  it.effect("property: in any run of restart attempts, no hour holds two restarts of one unit on one node", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 6 * 3600_000 }), node: fc.constantFrom("a", "b"), unit: fc.constantFrom(...RestartNodeUnit.UNITS) }), { maxLength: 30 }),
        async (attempts) => {
          const sorted = [...attempts].sort((x, y) => x.t - y.t)
          const granted = await Effect.runPromise(Effect.gen(function*() {
            const out: Array<{ t: number; key: string }> = []
            for (const a of sorted) if (yield* acquireAll(gs, ctx(restart(a.node, a.unit), a.t))) out.push({ t: a.t, key: `${a.node}/${a.unit}` })
            return out
          }).pipe(Effect.provide(Layer.effect(GuardrailStore.GuardrailStore, MemoryStore.make()))))
          return granted.every((g, i) => granted.slice(i + 1).every((h) => h.key !== g.key || h.t - g.t >= 3600_000))
        }
      ), { numRuns: 100 })))
})

describe("never delete PersistentVolumes/PVCs (both delete handlers carry it)", () => {
  const holders = [DeleteEvictedPods.make(), RecreateCniPod.make()]
  it("each delete handler lists the never_delete_volumes guardrail", () => {
    for (const h of holders) assert.include(h.guardrails.map((g) => g.name), "never_delete_volumes", h.kind)
  })
  const volumeWord = fc.constantFrom("PersistentVolume", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumes", "pvc", "PV", "pvc/data-db-0", "pv/pvc-3f2a")
  it.effect("property: an action naming a PV/PVC anywhere (target kind, ref, param key or nested value) is denied", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(volumeWord, fc.constantFrom("targetKind", "targetRef", "paramValue", "paramKey", "nested"), safeName, fc.constantFrom(DeleteEvictedPods.KIND, RecreateCniPod.KIND, "k8s.delete"), async (word, where, node, kind) => {
          const action = Action.make({
            kind,
            target: where === "targetKind" ? TargetRef.make(`k8s.${word}`, `c1/${node}`) : where === "targetRef" ? TargetRef.make("k8s.node", `c1/${word}`) : nodeRef(node),
            params: {
              node,
              reason: "t",
              ...(where === "paramValue" ? { object: word } : {}),
              ...(where === "paramKey" ? { [word]: "x" } : {}),
              ...(where === "nested" ? { also: [{ kind: word, name: "data" }] } : {})
            },
            description: "d"
          })
          const r = await Effect.runPromise(DeleteEvictedPods.neverDeleteVolumes.check(ctx(action)).pipe(Effect.provide(store)))
          return r._tag === "Deny" && /never delete PersistentVolumes\/PVCs/.test(r.reason)
        }), runs)))
  it.effect("property: the plans' own delete actions pass it (pods only)", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(safeName, safeName, fc.uuid(), async (node, pod, uid) => {
          const actions = [
            Action.make({ kind: DeleteEvictedPods.KIND, target: nodeRef(node), params: { node, reason: "resource_pressure_disk: DiskPressure is True" }, description: "d" }),
            Action.make({ kind: RecreateCniPod.KIND, target: nodeRef(node), params: { node, plugin: "calico", namespace: "kube-system", pod, uid, daemonSet: "calico-node", reason: "network" }, description: "d" })
          ]
          for (const a of actions) {
            const r = await Effect.runPromise(DeleteEvictedPods.neverDeleteVolumes.check(ctx(a)).pipe(Effect.provide(store)))
            if (r._tag !== "Pass") return false
          }
          return true
        }), runs)))
})

describe("k8s.recreateCniPod and k8s.pruneNodeImages budgets", () => {
  const cni = (node: string, cluster = "c1") =>
    Action.make({ kind: RecreateCniPod.KIND, target: nodeRef(node, cluster), params: { node, plugin: "calico", namespace: "kube-system", pod: `calico-${node}`, uid: `u-${node}`, daemonSet: "calico-node", reason: "t" }, description: "d" })
  // the live "no other node settling" check needs Kube: the store-backed ones are tested here
  const storeOnly = RecreateCniPod.guardrails().filter((g) => g !== RecreateCniPod.noOtherSettling) as unknown as ReadonlyArray<Guardrail.Guardrail<never>>
  it("the kind carries the live one-node-at-a-time check too", () => {
    assert.include(RecreateCniPod.guardrails().map((g) => g.name), "cni_no_other_node_settling")
  })
  it.effect("1 per node per 30 minutes; one node at a time across the cluster (2 minutes)", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* acquireAll(storeOnly, ctx(cni("n1"), 0)))
      assert.isFalse(yield* acquireAll(storeOnly, ctx(cni("n2"), 60_000)), "another node within the one-at-a-time window")
      assert.isTrue(yield* acquireAll(storeOnly, ctx(cni("n2"), 120_000)))
      assert.isTrue(yield* acquireAll(storeOnly, ctx(cni("n1", "c2"), 121_000)), "another cluster is independent")
      assert.isFalse(yield* acquireAll(storeOnly, ctx(cni("n1"), 29 * 60_000)))
      assert.isTrue(yield* acquireAll(storeOnly, ctx(cni("n1"), 30 * 60_000)))
    }).pipe(Effect.provide(store)))
  it.effect("one image prune per node per hour", () =>
    Effect.gen(function*() {
      const prune = (node: string) => Action.make({ kind: PruneNodeImages.KIND, target: nodeRef(node), params: { node, tool: "cri", reason: "t" }, description: "d" })
      const p = PruneNodeImages.guardrails()
      assert.isTrue(yield* acquireAll(p, ctx(prune("n1"), 0)))
      assert.isFalse(yield* acquireAll(p, ctx(prune("n1"), 3599_000)))
      assert.isTrue(yield* acquireAll(p, ctx(prune("n2"), 1)))
      assert.isTrue(yield* acquireAll(p, ctx(prune("n1"), 3600_000)))
    }).pipe(Effect.provide(store)))
})

describe("the runbook's nevers over classifications (properties over the recorded facts)", () => {
  const allFixtures = F.names()
  const hostKeys = ["kubelet", "kernel", "kubeletJournal", "runtime", "disk", "inodes", "fileNr", "images"] as const
  // which facts each rule needs, in the seed's order
  const needs = NodeClassifier.rules().map((r) => ({ cls: r.class, needs: r.needs as ReadonlyArray<string> }))
  it.effect("property: a Classified result never rests on an Unknown fact of its rule or a rule before it; hardware plans never repair", () =>
    Effect.gen(function*() {
      const facts = yield* Effect.forEach(allFixtures, (n) => F.diagnose(n))
      yield* Effect.promise(() =>
        fc.assert(fc.asyncProperty(
          fc.integer({ min: 0, max: facts.length - 1 }),
          fc.subarray([...hostKeys, "node"]),
          fc.boolean(),
          async (i, unknownKeys, autoReplace) => {
            const base = facts[i]!
            const f = { ...base } as Record<string, Fact.Fact<unknown>>
            for (const k of unknownKeys) f[k] = Fact.unknown(k, "timed out")
            const c = NodeClassifier.classify()(f as never)
            if (c._tag !== "Classified") return true
            const upto = needs.slice(0, needs.findIndex((r) => r.cls === c.class) + 1)
            if (upto.some((r) => r.needs.some((k) => f[k]!._tag === "Unknown"))) return false
            const p = Remediator.plan(c, f as never, F.signalOf(F.load(allFixtures[i]!)), { ...Remediator.defaults, autoReplaceNodes: autoReplace })
            const kinds = Plan.actions(p.root).map((a) => a.action.kind)
            if (c.class === "hardware_cloud_failure") return kinds.every((k) => k === "k8s.cordonNode" || k === "k8s.drainNode" || (autoReplace && k === "k8s.requestNodeReplacement"))
            // only the allowed units are ever restarted
            return Plan.actions(p.root).filter((a) => a.action.kind === RestartNodeUnit.KIND).every((a) => RestartNodeUnit.isAllowedUnit(a.action.params["unit"]))
          }
        ), { numRuns: 300 }))
    }))
})
