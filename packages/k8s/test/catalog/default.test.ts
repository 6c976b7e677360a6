import { assert, describe, expect, it } from "@effect/vitest"
import { Catalog, Runbook, Classification } from "@byteport/core"
import { Effect } from "effect"
import * as K8sCatalog from "../../src/catalog"
import * as Families from "../../src/runbooks/families"
import { SignalTypes } from "../../src/detectors/signals"
import { PodSignalTypes } from "../../src/detectors/podSignals"
import * as NotReadyDetector from "../../src/detectors/nodeNotReady"
import { Signal } from "@byteport/core"

const custom = (id: string, family: string, precedence: number, signals: ReadonlyArray<string>) =>
  Runbook.make<{}>({
    id,
    family,
    signals,
    precedence,
    diagnose: () => Effect.succeed({}),
    classify: () => Classification.unclassified(["custom"]),
    remediate: () => Effect.die("unused")
  })

describe("K8sCatalog: the default catalog", () => {
  it("pins families, precedence, ranking and the enabled defaults (Catalog.describe)", () => {
    const catalog = K8sCatalog.make()
    expect(K8sCatalog.describe(catalog)).toMatchInlineSnapshot(`
      "| rank | runbook | family | precedence | enabled |
      |---|---|---|---|---|
      | 1 | k8s.oom.six-signal | k8s.oom | 10 | yes |
      | 2 | k8s.oom.exit-137 | k8s.oom | 11 | no |
      | 3 | k8s.node.not-ready | k8s.node | 20 | yes |
      | 4 | k8s.image-pull | k8s.image-pull | 20 | yes |
      | 5 | k8s.pending | k8s.pending | 20 | yes |
      | 6 | k8s.crashloop.five-branch | k8s.crashloop | 30 | yes |
      | 7 | k8s.deploy.failed-rollout | k8s.deploy | 30 | yes |
      | 8 | k8s.crashloop.seven-class | k8s.crashloop | 31 | no |
      | 9 | k8s.crashloop.exit-code | k8s.crashloop | 32 | no |
      | 10 | k8s.restart-loop.container | k8s.crashloop | 33 | no |
      | 11 | k8s.node.pressure-drain | k8s.node | 40 | no |"
    `)
    // the core table, signals included: a runbook that gains or loses a signal shows here
    expect(Catalog.describe(catalog)).toMatchInlineSnapshot(`
      "| rank | runbook | family | enabled | signals |
      |---|---|---|---|---|
      | 1 | k8s.oom.six-signal | k8s.oom | yes | k8s.pod.oom_killed, k8s.node.memory_pressure, k8s.pod.working_set_high, k8s.pod.runtime_oom_marker, k8s.pod.restart_growth, k8s.pod.memory_trend, oom.observed |
      | 2 | k8s.oom.exit-137 | k8s.oom | no | k8s.pod.oom_killed, k8s.pod.restart_growth, oom.observed |
      | 3 | k8s.node.not-ready | k8s.node | yes | k8s.node.not_ready |
      | 4 | k8s.image-pull | k8s.image-pull | yes | k8s.pod.image_pull_failed |
      | 5 | k8s.pending | k8s.pending | yes | k8s.pod.pending_too_long |
      | 6 | k8s.crashloop.five-branch | k8s.crashloop | yes | k8s.pod.crash_loop_back_off, k8s.pod.restart_loop, k8s.pod.image_pull_failed, k8s.pod.create_container_config_error |
      | 7 | k8s.deploy.failed-rollout | k8s.deploy | yes | k8s.deploy.rollout_stuck, k8s.deploy.readiness_probe_failure_post_deploy, k8s.deploy.deploy_5xx_spike, k8s.deploy.canary_slo_burn, k8s.deploy.deploy_health_regression, deployment.regression |
      | 8 | k8s.crashloop.seven-class | k8s.crashloop | no | k8s.pod.crash_loop_back_off, k8s.pod.restart_loop, k8s.pod.image_pull_failed, k8s.pod.create_container_config_error, k8s.pod.init_failed, k8s.pod.evicted |
      | 9 | k8s.crashloop.exit-code | k8s.crashloop | no | k8s.pod.crash_loop_back_off, k8s.pod.create_container_config_error, k8s.pod.image_pull_failed |
      | 10 | k8s.restart-loop.container | k8s.crashloop | no | k8s.pod.restart_loop, k8s.pod.crash_loop_back_off, k8s.pod.image_pull_failed, k8s.pod.create_container_config_error |
      | 11 | k8s.node.pressure-drain | k8s.node | no | k8s.node.not_ready, k8s.node.memory_pressure, k8s.node.disk_pressure, k8s.node.pid_pressure |"
    `)
    assert.deepStrictEqual(K8sCatalog.enabledIds(catalog), [
      "k8s.oom.six-signal",
      "k8s.node.not-ready",
      "k8s.image-pull",
      "k8s.pending",
      "k8s.crashloop.five-branch",
      "k8s.deploy.failed-rollout"
    ])
  })

  it("uses families.ts for every pod runbook: family and precedence, the family default first", () => {
    const catalog = K8sCatalog.make()
    for (const e of catalog.entries) {
      const id = e.runbook.id as Families.Id
      if (!(id in Families.familyOf)) continue
      assert.strictEqual(e.runbook.family, Families.familyOf[id], id)
      assert.strictEqual(e.runbook.precedence, Families.precedenceOf(id), id)
    }
    for (const family of [Families.Family.oom, Families.Family.crashloop]) {
      const first = catalog.entries.find((e) => e.runbook.family === family && e.enabled)!
      assert.strictEqual(first.runbook.id, Families.members(family)[0], family)
    }
    // every pod runbook of families.ts is in the catalog or explicitly pending (the seven-class join point)
    const inCatalog = new Set(catalog.entries.map((e) => e.runbook.id))
    for (const id of Object.values(Families.Ids)) assert.isTrue(inCatalog.has(id) !== K8sCatalog.pending.includes(id), id)
  })

  it("routes overlapping signals by precedence: OOMKilled + CrashLoopBackOff → six-signal; MemoryPressure → six-signal; NotReady → not-ready", () => {
    const catalog = K8sCatalog.make()
    const pod = { kind: "k8s.workload", ref: "default/ns/Deployment/api/app" } as const
    const observedAt = 0
    const oom = Signal.make({ type: SignalTypes.oomKilled, target: pod, evidence: {}, observedAt })
    const loop = Signal.make({ type: PodSignalTypes.crashLoopBackOff, target: pod, evidence: {}, observedAt })
    assert.strictEqual(Catalog.route(catalog, [loop, oom])!.runbook.id, "k8s.oom.six-signal")
    assert.strictEqual(Catalog.route(catalog, [loop])!.runbook.id, "k8s.crashloop.five-branch")
    assert.deepStrictEqual(Catalog.owners(catalog, SignalTypes.memoryPressure).map((r) => r.id), ["k8s.oom.six-signal"])
    assert.deepStrictEqual(Catalog.owners(catalog, NotReadyDetector.SIGNAL).map((r) => r.id), ["k8s.node.not-ready"])
  })

  it("adds user runbooks, reorders, enables on top of the defaults, disables, replaces with only", () => {
    const mine = custom("acme.oom.jvm", "acme.oom", 5, [SignalTypes.oomKilled])
    const c1 = K8sCatalog.make({ extra: [mine], enable: ["k8s.oom.exit-137"], disable: ["k8s.pending"] })
    assert.strictEqual(c1.entries[0]!.runbook.id, "acme.oom.jvm", "precedence 5 ranks first")
    assert.deepStrictEqual(Catalog.owners(c1, SignalTypes.oomKilled).map((r) => r.id), ["acme.oom.jvm", "k8s.oom.six-signal", "k8s.oom.exit-137"])
    assert.notInclude(K8sCatalog.enabledIds(c1), "k8s.pending")
    assert.include(K8sCatalog.enabledIds(c1), "k8s.crashloop.five-branch", "enable adds, the other defaults stay")
    // reordering exit-137 first makes it k8s.oom's default
    const c2 = K8sCatalog.make({ order: ["k8s.oom.exit-137"] })
    assert.strictEqual(c2.entries[0]!.runbook.id, "k8s.oom.exit-137")
    assert.include(K8sCatalog.enabledIds(c2), "k8s.oom.exit-137")
    assert.notInclude(K8sCatalog.enabledIds(c2), "k8s.oom.six-signal")
    const c3 = K8sCatalog.make({ only: ["k8s.crashloop.exit-code"] })
    assert.deepStrictEqual(K8sCatalog.enabledIds(c3), ["k8s.crashloop.exit-code"])
    assert.throws(() => K8sCatalog.make({ enable: ["k8s.nope"] }), /unknown runbook id k8s.nope/)
    assert.throws(() => K8sCatalog.make({ extra: [custom("k8s.pending", "x", 1, [])] }), /listed twice/)
    // per-runbook options reach the runbook
    const c4 = K8sCatalog.make({ runbooks: { "k8s.node.pressure-drain": { precedence: 5 } } })
    assert.strictEqual(c4.entries.find((e) => e.runbook.id === "k8s.node.pressure-drain")!.runbook.precedence, 5)
  })
})
