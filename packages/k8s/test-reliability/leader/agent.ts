/**
 * An agent process of the two-agent leader test (`../leader.test.ts`): a LeaderElection on
 * kube-sim (lease 2 s, renew deadline 1.5 s, retry 250 ms, real time), a LeaseStore on the same
 * kube-sim (shared by both agents, fenced), and the executor with core's `Leadership` from the
 * elector. While it leads it resumes every open incident of the store: one step (`test.event`,
 * which creates a kube-sim Event naming the incident: the mutation the recorder counts) under a
 * rate limit (a fenced window acquire), then closes it.
 *
 * Environment: `LEADER_KUBECONFIG`, `LEADER_ID`; `LEADER_HOLD_AT=intent` (stop right after the
 * `intent` entry is durable, for the SIGKILL) or `LEADER_PAUSE_FILE=<path>` (the first guardrail
 * of a step prints `BOUNDARY acquire` and waits until the file exists: the SIGSTOP point, after
 * the leadership check and before the fenced acquire).
 *
 * Prints `FOLLOWING <holder>` (first saw another leader), `LEADING <epoch>`, `BOUNDARY <name>`, `STEPDOWN <reason>`, `STOPPED <incident>` (a run
 * stopped, not leading) and `RESULT <incident> <status>`.
 */
import * as fs from "node:fs"
import { Action, ActionHandler, ActionRegistry, Classification, Executor, Guardrail, GuardrailStore, IncidentBus, Leadership, Plan, TargetRef } from "@byteport/core"
import { Cause, Effect, Exit, Layer, Option, Schema } from "effect"
import * as Kube from "../../src/Kube"
import * as LeaderElection from "../../src/leader/LeaderElection"
import * as LeaseStore from "../../src/stores/LeaseStore"

const env = (k: string): string => {
  const v = process.env[k]
  if (v === undefined || v === "") throw new Error(`${k} is not set`)
  return v
}
const id = env("LEADER_ID")
const holdAt = process.env["LEADER_HOLD_AT"] ?? ""
const pauseFile = process.env["LEADER_PAUSE_FILE"] ?? ""
const say = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))
const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

const NS = "byteport"
const kube = Layer.orDie(Kube.layerFromString(fs.readFileSync(env("LEADER_KUBECONFIG"), "utf8"), { requestTimeout: "10 seconds" }))

/** The LeaseStore, holding at `intent` when asked. */
const store = Layer.effect(
  GuardrailStore.GuardrailStore,
  Effect.map(LeaseStore.make({ namespace: NS }), (s) => ({
    ...s,
    appendJournal: (e: Parameters<typeof s.appendJournal>[0]) =>
      s.appendJournal(e).pipe(Effect.tap((w) => (w.type === holdAt ? say(`BOUNDARY ${holdAt}`).pipe(Effect.andThen(Effect.never)) : Effect.void)))
  }))
).pipe(Layer.provide(kube))

const eventHandler = ActionHandler.make({
  kind: "test.event",
  params: Schema.Struct({ incident: Schema.String }),
  apply: (p) =>
    Effect.gen(function*() {
      const k = yield* Kube.Kube
      yield* k.createEvent("default", {
        metadata: { generateName: `leader-test-`, namespace: "default" },
        involvedObject: { kind: "ConfigMap", namespace: "default", name: "leader-test" },
        reason: "LeaderTest",
        message: `applied ${p.incident} by ${id}`,
        type: "Normal"
      }).pipe(Effect.mapError((e) => new ActionHandler.ActionFailed({ kind: "test.event", message: e.message })))
      return { detail: `event for ${p.incident} by ${id}`, result: { by: id } }
    })
})

const pause = Guardrail.make({
  name: "pause-point",
  check: () => Effect.succeed(Guardrail.pass),
  acquire: () =>
    Effect.gen(function*() {
      if (pauseFile !== "") {
        yield* say("BOUNDARY acquire")
        while (!fs.existsSync(pauseFile)) yield* realSleep(50)
      }
      return { result: Guardrail.pass, release: Guardrail.noRelease }
    })
})
const budget = Guardrail.rateLimit({ name: "events per hour", key: Guardrail.keys.perTarget("leader-test"), max: 100, window: "1 hour" })

const target = TargetRef.make("svc", "default/leader-test")
const planFor = (incident: string) =>
  Plan.make("test.leader", "leader.broken", "one event", Plan.act(Action.make({ kind: "test.event", target, params: { incident }, description: `event for ${incident}` })))

/** Resumes one open incident through the executor (Leadership provided by the caller). */
const resume = (incidentId: string) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Executor.execute({
      incidentId,
      runbook: "test.leader",
      mode: "auto",
      signal: { type: "leader.broken", target, observedAt: 0, evidence: {} },
      classification: Classification.classified("leader.broken", 0.9, ["test"]),
      facts: {},
      plan: planFor(incidentId),
      baseline: {},
      guardrails: [pause, budget]
    }))
    if (Exit.isFailure(exit)) {
      if (Cause.hasInterruptsOnly(exit.cause)) return yield* say(`STOPPED ${incidentId}`)
      return yield* Effect.die(Cause.squash(exit.cause))
    }
    const st = yield* GuardrailStore.GuardrailStore
    if (exit.value.status === "completed") yield* st.appendJournal({ incidentId, at: Date.now(), type: "closed", data: { status: "recovered" } })
    yield* say(`RESULT ${incidentId} ${exit.value.status}`)
  })

const main = Effect.gen(function*() {
  const le = yield* LeaderElection.LeaderElection
  const leadership: Leadership.LeadershipShape = {
    epoch: Effect.map(le.epoch, Option.map((value) => ({ scope: le.scope, value }))),
    stepDown: (reason) => say(`STEPDOWN ${reason}`).pipe(Effect.andThen(le.stepDown(reason)))
  }
  const st = yield* GuardrailStore.GuardrailStore
  let leading = false
  let following = false
  while (true) {
    const status = yield* le.status
    if (!following && !status.leading && status.holder !== undefined && status.holder !== "" && status.holder !== id) {
      following = true
      yield* say(`FOLLOWING ${status.holder}`)
    }
    const now = yield* le.epoch
    if (Option.isSome(now) && !leading) yield* say(`LEADING ${now.value}`)
    leading = Option.isSome(now)
    if (leading) {
      const open = yield* st.listIncidents()
      for (const i of open) yield* resume(i.incidentId).pipe(Effect.provideService(Leadership.Leadership, leadership))
    }
    yield* realSleep(100)
  }
})

const services = Layer.mergeAll(
  store,
  ActionRegistry.layer({ handlers: [eventHandler] }).pipe(Layer.provide(kube)),
  IncidentBus.layer(),
  LeaderElection.layer({ namespace: NS, identity: id, leaseDuration: "2 seconds", renewDeadline: "1500 millis", retryPeriod: "250 millis" }).pipe(Layer.provide(kube)),
  kube
)

Effect.runPromise(Effect.scoped(Effect.provide(main, services)) as Effect.Effect<never, unknown>).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`agent died: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  }
)
