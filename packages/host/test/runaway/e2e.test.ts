/**
 * host.memory.runaway end to end through core on a real leaking process under LocalSupervisor:
 * the detector fires on the leaker (not on a steady unit); observe and dry_run change nothing;
 * auto restarts the unit through the ServiceManager (the new process starts small: the restart
 * cures, for a while), three times; the fourth runaway within the hour is the crash loop: no
 * restart, an escalation. The hand-off paths run against test runbooks owning the hand-offs:
 * a Kubernetes workload gets the awaited `rollout restart requested` (the owner decides), a recent
 * deploy gets the awaited `deployment regression` and the unit is not restarted.
 */
import { Action, ActionHandler, Classification, Diagnoser, HandOffs, Plan, Runbook, Signal, TargetRef, Verifier } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema, Scope } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { DeploySource, HostMemoryRunaway, LocalSupervisor, ServiceManager } from "../../src/index"

const LEAKER = "bp-leaker.service"
const STEADY = "bp-steady.service"
const MiB = 1024 * 1024
const rss = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024
const starttime = (pid: number) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[19])
}
const pause = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))
const until = <A>(f: () => A | undefined, ms = 10_000): Effect.Effect<A> =>
  Effect.gen(function*() {
    const end = Date.now() + ms
    for (;;) {
      const v = f()
      if (v !== undefined) return v
      if (Date.now() > end) return yield* Effect.die(new Error(`not within ${ms} ms`))
      yield* pause(50)
    }
  })

/** A test runbook owning a hand-off type: records what it was asked and recovers. */
const owner = (def: HandOffs.HandOff<unknown, unknown>, seen: Array<Signal.Signal>) => {
  const kind = `test.owner.${def.type}`
  const runbook = Runbook.make<{ readonly ok: boolean }>({
    id: `test.owner.${def.type}`,
    family: "test.owner",
    signals: [def.type],
    diagnose: Diagnoser.make({ ok: Diagnoser.probe("request", (s) => Effect.as(HandOffs.decode(def, s), true)) }),
    classify: () => Classification.classified("owned", 0.9),
    remediate: (_c, _f, signal) =>
      Effect.succeed(Plan.make(`test.owner.${def.type}`, "owned", "the owner acts", Plan.act(Action.make({ kind, target: signal.target, params: { type: signal.type }, idempotencyKey: `${kind}:${signal.observedAt}`, description: "owner acts" })))),
    verify: Verifier.fromChecks(() => Effect.succeed([{ name: "owner done", ok: true, detail: "done" }])),
    verifySchedule: Verifier.once("0 seconds"),
    defaultMode: "auto"
  })
  const handler = ActionHandler.make({
    kind,
    params: Schema.Struct({ type: Schema.String }),
    apply: (_p, ctx) => Effect.sync(() => ({ detail: "owner acted", result: { dryRun: ctx.dryRun } })),
    observe: () => Effect.succeed(ActionHandler.applied("acted"))
  })
  return { runbook, handler, seen }
}

describe("host.memory.runaway on a real leaking process (LocalSupervisor)", () => {
  let scope: Scope.Closeable
  let sup: LocalSupervisor.LocalSupervisorShape
  let manager: ServiceManager.ServiceManagerShape
  let tag: string
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    sup = await Effect.runPromise(Scope.provide(scope)(LocalSupervisor.make({
      units: [
        // leaks 2 MiB every 50 ms (≈ 2400 MiB/min) up to 240 MiB, in its own cgroup limited to 512 MiB
        { name: LEAKER, argv: [process.execPath, "-e", "const a=[];setInterval(()=>{if(a.length<120)a.push(Buffer.alloc(2<<20,1))},50)"], memoryMax: 512 * MiB },
        { name: STEADY, argv: [process.execPath, "-e", "const b=Buffer.alloc(40<<20,1);setInterval(()=>b[0]++,1000)"] }
      ]
    })))
    manager = ServiceManager.systemd(sup.shell)
    tag = nodePath.basename(nodePath.dirname(sup.snapshot(LEAKER)!.cgroup))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  const mainPid = (unit: string) => sup.snapshot(unit)?.mainPid
  const signalFor = (unit: string) => {
    const pid = mainPid(unit)!
    return Signal.make({ type: HostMemoryRunaway.SIGNAL_TYPE, target: HostMemoryRunaway.unitTarget(unit, "test-host"), observedAt: Date.now(), source: "test", evidence: { platform: "systemd", unit, pid, starttime: starttime(pid), rssBytes: rss(pid) } })
  }
  const cls = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : JSON.stringify(r.classification))
  const runbook = (o: HostMemoryRunaway.Options = {}) => HostMemoryRunaway.make({ manager, verifyAfterSeconds: 0, cooldown: "0 seconds", filter: (p) => p.cgroup.includes(tag), ...o })
  const handle = (rb: ReturnType<typeof runbook>, signal: Signal.Signal, mode: "auto" | "dry_run" | "observe") =>
    Effect.gen(function*() {
      const r = yield* Runbook.handle(rb, signal, { mode })
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return r as IncidentReport.IncidentReport
    })
  const layer = (extra: ReadonlyArray<ActionHandler.ActionHandler> = []) => Testing.layer({ handlers: [...HostMemoryRunaway.handlers(manager), ...extra], checks: [] })
  const grown = () => until(() => (rss(mainPid(LEAKER)!) > 64 * MiB ? true : undefined))

  it.live("the detector fires on the leaking unit once it grew over the rate for the window; the steady unit never", () =>
    Effect.gen(function*() {
      const poll = HostMemoryRunaway.sampler({ growthMiBPerMinute: 20, windowSeconds: 1, filter: (p) => p.cgroup.includes(tag), host: "test-host" })
      const fired: Array<Signal.Signal> = []
      for (let i = 0; i < 40 && fired.length === 0; i++) {
        fired.push(...(yield* poll))
        yield* pause(250)
      }
      assert.strictEqual(fired.length, 1)
      assert.deepStrictEqual(fired[0]!.target, HostMemoryRunaway.unitTarget(LEAKER, "test-host"))
      assert.strictEqual(fired[0]!.evidence["pid"], mainPid(LEAKER))
      assert.isAbove(fired[0]!.evidence["rateMiBPerMinute"] as number, 20)
    }), 30_000)

  it.live("observe and dry_run change nothing: same MainPID, no budget taken", () =>
    Effect.gen(function*() {
      yield* grown()
      const pid = mainPid(LEAKER)
      for (const mode of ["observe", "dry_run"] as const) {
        const r = yield* handle(runbook(), signalFor(LEAKER), mode)
        assert.strictEqual(cls(r), "runaway_service", `${mode}: ${r.status} ${JSON.stringify(r.escalation)}`)
        assert.strictEqual(mainPid(LEAKER), pid, mode)
        assert.isUndefined(r.outcomes.find((o) => o.status === "applied"), mode)
      }
      // a later auto run still sees 0 restarts in the hour
      const again = yield* handle(runbook(), signalFor(LEAKER), "dry_run")
      assert.deepStrictEqual(again.facts?.["restarts"], { _tag: "Known", value: 0 } as never)
    }).pipe(Effect.provide(layer())), 30_000)

  it.live("auto: three restarts cure the leak for a while; the fourth runaway in the hour is a crash loop: no restart, escalation", () =>
    Effect.gen(function*() {
      const steady = mainPid(STEADY)
      // the signals come from the detector itself (20 MiB/min over 1 s here)
      const poll = HostMemoryRunaway.sampler({ growthMiBPerMinute: 20, windowSeconds: 1, filter: (p) => p.cgroup.includes(tag), host: "test-host" })
      const detect = Effect.gen(function*() {
        for (let i = 0; i < 60; i++) {
          const s = (yield* poll).find((x) => x.target.ref === LEAKER)
          if (s !== undefined) return s
          yield* pause(250)
        }
        return assert.fail("the leaker was not detected")
      })
      for (let i = 1; i <= 3; i++) {
        const signal = yield* detect
        const pid = mainPid(LEAKER)!
        assert.strictEqual(signal.evidence["pid"], pid)
        const before = rss(pid)
        const r = yield* handle(runbook(), signal, "auto")
        assert.strictEqual(cls(r), "runaway_service", `restart ${i}`)
        assert.strictEqual(r.outcomes.find((o) => o.kind === "host.service.restart")?.status, "applied", `restart ${i}`)
        assert.strictEqual(r.status, "recovered", `restart ${i}`)
        const fresh = yield* until(() => (mainPid(LEAKER) !== undefined && mainPid(LEAKER) !== pid ? mainPid(LEAKER) : undefined))
        assert.isBelow(rss(fresh), before, "the restart cured it (for now)")
      }
      const fourth = yield* detect
      const pid = mainPid(LEAKER)
      const r = yield* handle(runbook(), fourth, "auto")
      assert.strictEqual(cls(r), "crash_loop")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /3 restart\(s\) in the last hour/)
      assert.isUndefined(r.outcomes.find((o) => o.kind === "host.service.restart"))
      assert.strictEqual(mainPid(LEAKER), pid)
      assert.strictEqual(mainPid(STEADY), steady)
    }).pipe(Effect.provide(layer())), 60_000)

  it.live("a Kubernetes workload: the awaited rollout restart hand-off goes to its owner, which decides; the budget counts it", () =>
    Effect.gen(function*() {
      const seen: Array<Signal.Signal> = []
      const o = owner(HandOffs.RolloutRestartRequested as HandOffs.HandOff<unknown, unknown>, seen)
      const fiber = yield* Effect.forkChild(Runbook.run(o.runbook, { resumeOpen: false }))
      yield* pause(300)
      const target = TargetRef.make("k8s.workload", "shop/deployment/checkout")
      const signal = Signal.make({ type: HostMemoryRunaway.SIGNAL_TYPE, target, observedAt: Date.now(), source: "test", evidence: { rssBytes: 900 * MiB, rateMiBPerMinute: 25 } })
      const r = yield* handle(runbook({ handOffAwaitMinutes: 1 }), signal, "auto")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(cls(r), "runaway_service")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation))
      const child = HandOffs.childResults(r.outcomes)[0]!
      assert.strictEqual(child.signalType, "k8s.rollout-restart.requested")
      assert.strictEqual(child.status, "recovered")
      assert.deepStrictEqual(child.target, target)
      assert.strictEqual(r.outcomes.find((o) => o.kind === HostMemoryRunaway.RESTART_REQUESTED)?.status, "applied")
      const next = yield* handle(runbook(), signal, "dry_run")
      assert.deepStrictEqual(next.facts?.["restarts"], { _tag: "Known", value: 1 } as never)
    }).pipe(Effect.provide(layer([owner(HandOffs.RolloutRestartRequested as HandOffs.HandOff<unknown, unknown>, []).handler]))), 60_000)

  it.live("a deploy 10 min ago: the awaited deployment regression hand-off, the unit is not restarted", () =>
    Effect.gen(function*() {
      yield* grown()
      const o = owner(HandOffs.DeploymentRegression as HandOffs.HandOff<unknown, unknown>, [])
      const fiber = yield* Effect.forkChild(Runbook.run(o.runbook, { resumeOpen: false }))
      yield* pause(300)
      const pid = mainPid(LEAKER)
      const signal = signalFor(LEAKER)
      const deploys = DeploySource.fromRecord({ [TargetRef.key(signal.target)]: [{ revision: "old1", deployedAt: Date.now() - 3 * 3_600_000 }, { revision: "9f3c2ab", previousRevision: "old1", deployedAt: Date.now() - 10 * 60_000 }] })
      const r = yield* handle(runbook({ deploys, handOffAwaitMinutes: 1 }), signal, "auto")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(cls(r), "deploy_regression")
      const child = HandOffs.childResults(r.outcomes)[0]!
      assert.strictEqual(child.signalType, "deployment.regression")
      assert.strictEqual(child.status, "recovered")
      assert.strictEqual(r.status, "recovered")
      assert.isUndefined(r.outcomes.find((x) => x.kind === "host.service.restart"))
      assert.strictEqual(mainPid(LEAKER), pid)
    }).pipe(Effect.provide(layer([owner(HandOffs.DeploymentRegression as HandOffs.HandOff<unknown, unknown>, []).handler]))), 60_000)

  it.live("no ServiceManager: no restart, an escalation naming why", () =>
    Effect.gen(function*() {
      const pid = mainPid(LEAKER)
      const r = yield* handle(HostMemoryRunaway.make({ verifyAfterSeconds: 0, cooldown: "0 seconds" }), signalFor(LEAKER), "auto")
      assert.strictEqual(cls(r), "protected_consumer")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /no ServiceManager/)
      assert.strictEqual(mainPid(LEAKER), pid)
    }).pipe(Effect.provide(layer())), 30_000)

  it.live("a stale signal (the grower is no longer MainPID) or an unknown deploy source: no restart", () =>
    Effect.gen(function*() {
      const pid = mainPid(LEAKER)
      const live = signalFor(LEAKER)
      const stale = Signal.make({ ...live, evidence: { ...live.evidence, pid: pid! + 100000 } })
      const r = yield* handle(runbook(), stale, "auto")
      assert.strictEqual(cls(r), "protected_consumer")
      assert.match(r.escalation!.reason, /not the grower/)
      const failing: DeploySource.DeploySource = { name: "down", latest: () => Effect.fail(new Error("deploy API unreachable")) }
      const u = yield* handle(runbook({ deploys: failing }), signalFor(LEAKER), "auto")
      assert.strictEqual(u.classification?._tag, "Indeterminate")
      assert.isUndefined(u.outcomes.find((o) => o.kind === "host.service.restart"))
      assert.strictEqual(mainPid(LEAKER), pid)
    }).pipe(Effect.provide(layer())), 30_000)
})
