/**
 * k8s.oom.six-signal holds its checks for 5 minutes (polled every 30 s) on kube-sim, in virtual
 * time: a bump too small for the demand is caught inside the window and escalated with the
 * bundle — where a check at the instant the rollout completes (the schedule before hold windows)
 * reports it recovered — and a healthy bump is Recovered only once the whole window passed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Notifier, Report, Runbook, Verifier } from "@byteport/core"
import { ConfigProvider, Effect } from "effect"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { advance, firstSignal, runWithSim, Scenario, servicesLayer, sim, type Sim } from "./harness"

const MI = 2 ** 20
const limitOf = (s: Sim) => (s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", "api") as any).spec.template.spec.containers[0].resources.limits.memory
const podsOf = (s: Sim) => s.api.store.list({ group: "", version: "v1", resource: "pods" }).filter((p: any) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp) as Array<any>
const undersized = () => Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build()

/**
 * Containers started from now on (those of the bump's rollout) ramp from 256Mi to 1Gi over 270 s:
 * the 768Mi of the ×1.5 bump is crossed 180 s after they start — an OOM 3 minutes after the bump.
 */
const demandOutgrowsTheBump = (s: Sim) =>
  s.setMemoryModel({ namespace: "default", workload: "api", container: "api" }, { kind: "plateau", plateauBytes: 1024 * MI, startBytes: 256 * MI, rampSeconds: 270 })

const handle = (runbook: Runbook.Runbook<any, any>) =>
  Effect.gen(function*() {
    const report: any = yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
    const recorded = yield* (yield* Notifier.NotifierRecording).get
    return { report, recorded }
  })

const oomKilledSince = (s: Sim, since: number) =>
  podsOf(s).filter((p) =>
    (p.status.containerStatuses ?? []).some((c: any) => {
      const t = c.lastState?.terminated ?? c.state?.terminated
      return t?.reason === "OOMKilled" && Date.parse(t.finishedAt) >= since
    })
  ).length

describe("k8s.oom.six-signal e2e: verification holds its checks for 5 minutes", () => {
  it.effect("a bump too small for the demand (OOM 3 min after it) ends NotRecovered inside the window — the working set caught climbing at minute 2 — and escalates with the bundle", () =>
    Effect.gen(function*() {
      const s = yield* sim(undersized())
      s.advance("6m")
      demandOutgrowsTheBump(s)
      const runbook = OomRunbook.make()
      const { report, recorded } = yield* runWithSim(s, handle(runbook).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "undersized_limit")
      assert.strictEqual(limitOf(s), "768Mi")
      const bump = report.outcomes.find((o: any) => o.kind === "k8s.patchMemoryLimit" && o.status === "applied")
      assert.isDefined(bump)
      const since = report.verdicts[0].at - report.verdicts[0].poll.offsetMs
      // the first polls pass: the new pods start well below the limit
      assert.strictEqual(report.verdicts[0]._tag, "Recovered", JSON.stringify(report.verdicts[0]))
      // window 1 ends at the first failing poll, before its 5 minutes are up
      const w1 = report.verdicts.filter((v: any) => v.poll.attempt === 1)
      const failed = w1[w1.length - 1]
      assert.strictEqual(failed._tag, "NotRecovered")
      assert.isTrue(w1.slice(0, -1).every((v: any) => v._tag === "Recovered"))
      assert.isAtLeast(failed.poll.offsetMs, 60_000)
      assert.isBelow(failed.poll.offsetMs, 180_000, JSON.stringify(w1.map((v: any) => [v.poll.offsetMs, v._tag])))
      assert.match(failed.reason, /working set < 80% of the new limit/)
      // the retry window starts 15 s after the failing poll and fails too
      const w2 = report.verdicts.filter((v: any) => v.poll.attempt === 2)
      assert.isAtLeast(w2.length, 1)
      assert.strictEqual(w2[0].poll.offsetMs - failed.poll.offsetMs, 15_000)
      assert.strictEqual(report.verdicts[report.verdicts.length - 1]._tag, "NotRecovered")
      assert.strictEqual(report.status, "escalated")
      assert.isBelow(report.endedAt - since, 300_000, "escalated at the failing poll, not after the window")
      // the bundle: the escalation names the failure and carries every poll, the plan and the decisions
      assert.match(report.escalation.reason, /not recovered after \d+ checks/)
      assert.strictEqual(report.escalation.severity, "critical")
      assert.strictEqual(report.escalation.verdicts.length, report.verdicts.length)
      assert.strictEqual(report.escalation.plan.class, "undersized_limit")
      assert.isAbove(report.escalation.decisions.length, 0)
      assert.strictEqual(recorded.escalations.length, 1)
      const md = Report.toMarkdown(report)
      assert.match(md, /### Window 1: every 30s for 5m from .* — NotRecovered at poll \d+\/11/)
      assert.match(md, /### Window 2: every 30s for 5m from .* — NotRecovered at poll 1\/11/)
      // the demand really outgrows the bump: the new pods are OOM-killed within 3½ minutes of it
      yield* advance(s, "2 minutes")
      assert.isAbove(oomKilledSince(s, since), 0, "the replacement pods OOM")
    }).pipe(Effect.scoped), 120_000)

  it.effect("configured (BYTEPORT_OOM_VERIFY_*: every 20 s for 4 min, working-set bar 100%): the OOM 3 min after the bump ends the window", () =>
    Effect.gen(function*() {
      const s = yield* sim(undersized())
      s.advance("6m")
      demandOutgrowsTheBump(s)
      const env = { BYTEPORT_OOM_VERIFY_WORKING_SET_RATIO: "1", BYTEPORT_OOM_VERIFY_POLL_SECONDS: "20", BYTEPORT_OOM_VERIFY_WINDOW_SECONDS: "240" }
      const runbook = yield* OomRunbook.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))
      const { report } = yield* runWithSim(s, handle(runbook).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "undersized_limit")
      const w1 = report.verdicts.filter((v: any) => v.poll.attempt === 1)
      assert.deepStrictEqual(w1[0].poll.window, { everyMs: 20_000, forMs: 240_000, startedAt: w1[0].at })
      const failed = w1[w1.length - 1]
      assert.strictEqual(failed._tag, "NotRecovered")
      assert.isTrue(w1.slice(0, -1).every((v: any) => v._tag === "Recovered"))
      // the kill comes 180 s after the new pods start (a few seconds before the bump completed)
      assert.isAtLeast(failed.poll.offsetMs, 160_000)
      assert.isAtMost(failed.poll.offsetMs, 200_000, JSON.stringify(w1.map((v: any) => [v.poll.offsetMs, v._tag, v.reason])))
      const oom = failed.checks.find((c: any) => c.name === "0 OOMKilled since the action")
      assert.isFalse(oom.ok, JSON.stringify(failed.checks))
      assert.isAbove(oom.observed.oomKills, 0)
      for (const v of w1.slice(0, -1)) assert.deepStrictEqual(v.checks.find((c: any) => c.name === "0 OOMKilled since the action").observed, { oomKills: 0 })
      assert.strictEqual(report.status, "escalated")
      assert.match(report.escalation.reason, /0 OOMKilled since the action/)
    }).pipe(Effect.scoped), 120_000)

  it.effect("the same bump checked at the instant the rollout completes (no hold window) reports recovered", () =>
    Effect.gen(function*() {
      const s = yield* sim(undersized())
      s.advance("6m")
      demandOutgrowsTheBump(s)
      const made = OomRunbook.make()
      const instant: Runbook.Runbook<any, any> = { ...made, verifySchedule: () => Verifier.schedules.retryOnceAt15s }
      const { report } = yield* runWithSim(s, handle(instant).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "undersized_limit")
      assert.strictEqual(report.status, "recovered", "what the hold window prevents")
      assert.strictEqual(report.verdicts.length, 1)
      const since = report.verdicts[0].at
      yield* advance(s, "4 minutes")
      assert.isAbove(oomKilledSince(s, since), 0, "…while the pods OOM again minutes later")
    }).pipe(Effect.scoped), 120_000)

  it.effect("a healthy bump is Recovered only after the full 5 minutes, every poll listed", () =>
    Effect.gen(function*() {
      const s = yield* sim(undersized())
      s.advance("6m")
      const runbook = OomRunbook.make()
      const { report } = yield* runWithSim(s, handle(runbook).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "undersized_limit")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts.map((v: any) => [v._tag, v.poll])))
      assert.strictEqual(report.verdicts.length, 11)
      assert.isTrue(report.verdicts.every((v: any) => v._tag === "Recovered" && v.poll.attempt === 1))
      assert.deepStrictEqual(report.verdicts.map((v: any) => v.poll.offsetMs), [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300].map((x) => x * 1000))
      const since = report.verdicts[0].at
      assert.strictEqual(report.verdicts[10].at - since, 300_000)
      assert.isAtLeast(report.endedAt - since, 300_000, "not closed before the window ended")
      for (const v of report.verdicts) {
        const oom = v.checks.find((c: any) => c.name === "0 OOMKilled since the action")
        assert.deepStrictEqual(oom.observed, { oomKills: 0 })
      }
      const md = Report.toMarkdown(report)
      assert.match(md, /### Window 1: every 30s for 5m from .* — Recovered, 11\/11 polls passed/)
      assert.strictEqual((md.match(/\| 0 OOMKilled since the action \| yes \| none \|/g) ?? []).length, 11)
      assert.include(md, "| +5m |")
    }).pipe(Effect.scoped), 120_000)
})
