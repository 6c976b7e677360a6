/**
 * leak_after_deploy from the connection history, end to end on the real PostgreSQL: the
 * detector's own polls (one per virtual minute, TestClock) record the sessions of the database
 * in the GuardrailStore while one application leaks a session idle in transaction every minute
 * after a deploy marker (pushed to the webhook-fed `DeployMarkers` source, naming the workload).
 * The runbook then classifies leak_after_deploy from the history (three samples a second apart
 * would read flat), terminates the old idle-in-transaction sessions, and hands the rollout
 * restart of the marker's workload off through core's `k8s.rollout-restart.requested`.
 */
import { Clock, Effect } from "effect"
import { HandOffs, IncidentBus, Runbook, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterEach, assert, it } from "@effect/vitest"
import * as PoolExhaustion from "../../src/detectors/PoolExhaustion"
import * as DeployMarkers from "../../src/history/DeployMarkers"
import { closeAll, openSession, type RawSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { alive, pgWorld, reportOf, restarter, runbook, target } from "./world"

describeWithServices(["postgres"], "leak_after_deploy from the connection history (real PostgreSQL, virtual minutes)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())
  const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((res) => setTimeout(res, ms)))
  const open = (name: string) => Effect.promise(() => openSession(appUrl, name))
  const begin = (s: RawSession) => Effect.promise(() => s.q("BEGIN; SELECT 1 FROM pg_class LIMIT 1"))

  /**
   * Ten virtual minutes: a poll of the detector each minute; `leak` opens one session of the
   * application idle in transaction each minute after minute 1 (else the application keeps 3
   * sessions idle in transaction throughout). Returns the sessions and the marker's time.
   */
  const scenario = (app: string, t: ReturnType<typeof target>, leak: boolean) =>
    Effect.gen(function*() {
      const sessions: Array<RawSession> = []
      const detect = PoolExhaustion.pollPostgres({ target: t })
      for (let i = 0; i < 3; i++) {
        const s = yield* open(app)
        if (!leak) yield* begin(s)
        sessions.push(s)
      }
      const noise = yield* open(`${app}-reports`)
      sessions.push(noise)
      const start = yield* Clock.currentTimeMillis
      const deployAt = start + 30_000
      for (let minute = 0; minute <= 10; minute++) {
        if (leak && minute >= 1) {
          const s = yield* open(app)
          yield* begin(s)
          sessions.push(s)
        }
        // another application's transaction comes and goes
        yield* Effect.promise(() => noise.q(minute % 2 === 0 ? "BEGIN; SELECT 1" : "COMMIT"))
        yield* detect
        yield* Testing.advance("1 minute")
      }
      return { sessions: sessions.filter((s) => s !== noise), deployAt }
    })

  const restart = restarter()
  const handle = (t: ReturnType<typeof target>, scope: ReadonlySet<number>, markers: DeployMarkers.Shape) =>
    Effect.gen(function*() {
      const rb = runbook(scope, { thresholds: { idleInTxMs: 2_000 }, verifySchedule: { offsets: [0], description: "check once (test)" } })
      const sig: Signal.Signal = { type: "db.pool.exhaustion", target: t, observedAt: yield* Clock.currentTimeMillis, evidence: {} }
      return reportOf(yield* Runbook.handle(rb, sig, { mode: "auto" }).pipe(Effect.provide(DeployMarkers.layer(markers))))
    })

  it.effect("one application's idle-in-transaction sessions rising over 10 virtual minutes after a deploy marker → leak_after_deploy: old sessions terminated, rollout restart of the marker's workload handed off", () =>
    Effect.gen(function*() {
      const app = uniqueName("checkout")
      const t = target("history-leak")
      const workload = `test/shop/Deployment/checkout-${process.pid}`
      const webhook = yield* DeployMarkers.webhook()
      const { deployAt, sessions } = yield* scenario(app, t, true)
      yield* webhook.push({ sha: "c0ffee1", at: deployAt, workload, application: app })
      // the leaked sessions are old by now (2 s idle in transaction); two more leak just before the diagnosis
      yield* realSleep(2_500)
      const fresh = [yield* open(app), yield* open(app)]
      for (const s of fresh) yield* begin(s)
      const leaked = sessions.slice(3) // the 10 opened after the deploy
      const scope = new Set([...sessions, ...fresh].map((s) => s.pid))
      const r = yield* handle(t, scope, webhook)
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "leak_after_deploy", JSON.stringify(r.facts))
      const trend = (r.facts as any).idleInTxTrend
      assert.strictEqual(trend._tag, "Known")
      assert.strictEqual(trend.value.source, "history")
      assert.strictEqual(trend.value.application, app)
      assert.strictEqual(trend.value.since, deployAt)
      assert.isAtLeast(trend.value.samples.length, 10)
      assert.isAbove(trend.value.slopePerMinute, 0.5)
      // the old idle-in-transaction sessions were terminated, the fresh ones (younger than 2 s) left
      const left = yield* Effect.promise(() => alive(env, [...scope]))
      for (const s of leaked) assert.isFalse(left.has(s.pid), `leaked backend ${s.pid} terminated`)
      for (const s of fresh) assert.isTrue(left.has(s.pid), `fresh backend ${s.pid} left`)
      for (const s of sessions.slice(0, 3)) assert.isTrue(left.has(s.pid), "sessions not in a transaction are left")
      // the rollout restart of the marker's workload, through core's hand-off contract
      const bus = yield* IncidentBus.IncidentBus
      const published = (yield* bus.published).filter((s) => s.type === HandOffs.RolloutRestartRequested.type)
      assert.strictEqual(published.length, 1)
      assert.deepStrictEqual(published[0]!.target, { kind: "k8s.workload", ref: workload })
      assert.match(String(published[0]!.evidence["reason"]), /c0ffee1/)
      const child = reportOf(yield* Runbook.handle(restart.runbook, published[0]!, { mode: "auto" }))
      assert.strictEqual(child.status, "recovered")
      assert.deepStrictEqual(restart.handler.writes.map((w) => w.action.target), [{ kind: "k8s.workload", ref: workload }])
    }).pipe(Effect.provide(pgWorld(env, { extra: [restart.handler] }))), 120_000)

  it.effect("the same rise with no deploy marker is not leak_after_deploy (idle_in_tx_backlog), and no restart is handed off", () =>
    Effect.gen(function*() {
      const app = uniqueName("orders")
      const t = target("history-nomarker")
      const { sessions } = yield* scenario(app, t, true)
      yield* realSleep(2_500)
      const r = yield* handle(t, new Set(sessions.map((s) => s.pid)), DeployMarkers.staticSource([]))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_tx_backlog")
      assert.strictEqual((r.facts as any).idleInTxTrend.value.source, "history")
      assert.isTrue((r.facts as any).idleInTxTrend.value.rising) // rising, but no deploy to blame
      const bus = yield* IncidentBus.IncidentBus
      assert.strictEqual((yield* bus.published).filter((s) => s.type === HandOffs.RolloutRestartRequested.type).length, 0)
    }).pipe(Effect.provide(pgWorld(env))), 120_000)

  it.effect("a deploy marker with a flat idle-in-transaction count over the history is not leak_after_deploy", () =>
    Effect.gen(function*() {
      const app = uniqueName("billing")
      const t = target("history-flat")
      const { deployAt, sessions } = yield* scenario(app, t, false)
      yield* realSleep(2_500)
      const r = yield* handle(t, new Set(sessions.map((s) => s.pid)), DeployMarkers.staticSource([{ sha: "f1a7", at: deployAt, workload: "test/shop/Deployment/billing" }]))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_tx_backlog")
      assert.isFalse((r.facts as any).idleInTxTrend.value.rising)
      assert.strictEqual((r.facts as any).lastDeploy.value.sha, "f1a7")
    }).pipe(Effect.provide(pgWorld(env))), 120_000)
})
