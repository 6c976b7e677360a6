/**
 * The agent process of the kill -9 test (`../kill9.test.ts`): k8s.oom.six-signal over a FileStore
 * journal, against a kube-sim that lives in the test's process (so the cluster outlives this one),
 * reached through the real client-node. Its Effect clock is a TestClock kept in lockstep with
 * kube-sim's virtual clock over HTTP (`GET /_sim/clock`, `POST /_sim/advance`).
 *
 * Environment:
 * - `KILL9_KUBECONFIG`, `KILL9_SIM_URL`, `KILL9_STORE_DIR`, `KILL9_INCIDENT`, `BYTEPORT_AGENT_ID`;
 * - `KILL9_MODE`: `handle` (the first OOM signal of workload `KILL9_WORKLOAD`) or `resume`
 *   (`Runbook.resume` of the incident);
 * - `KILL9_APPROVAL=1`: the runbook also carries an `approval` guardrail (a pause awaits a human);
 * - `BYTEPORT_KILL9_AT`: the journal boundary to stop at — `intent`, `acquired`, `applied`
 *   (right after that entry is durable), `window` (right after the step's first guardrail took
 *   its window unit, before `acquired` is journaled), `verify` (60 virtual seconds into the verification hold
 *   window after `applied`) or `approval` (paused, polling for the approval). The process prints
 *   `BOUNDARY <name>`, stops its clock and waits for its SIGKILL.
 *
 * It prints `RESULT <json>` per result (status, outcomes, escalation) and exits 0.
 */
import * as fs from "node:fs"
import { ActionRegistry, AgentId, FileStore, Guardrail, GuardrailStore, IncidentBus, Notifier, Runbook } from "@byteport/core"
import { Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import * as OomActions from "../../src/actions/oom"
import * as EventRecorder from "../../src/events/EventRecorder"
import * as Kube from "../../src/Kube"
import * as Metrics from "../../src/metrics/Metrics"
import * as Prometheus from "../../src/metrics/Prometheus"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"

const env = (k: string): string => {
  const v = process.env[k]
  if (v === undefined || v === "") throw new Error(`${k} is not set`)
  return v
}
const simUrl = env("KILL9_SIM_URL")
const incidentId = env("KILL9_INCIDENT")
const mode = env("KILL9_MODE")
const at = process.env["BYTEPORT_KILL9_AT"] ?? ""

let frozen = false
let appliedSeen = false
const boundary = (name: string) =>
  Effect.sync(() => {
    frozen = true
    process.stdout.write(`BOUNDARY ${name}\n`)
  }).pipe(Effect.andThen(Effect.never))

/** The FileStore, stopping right after the boundary's entry is durable. */
const store = Layer.effect(
  GuardrailStore.GuardrailStore,
  Effect.map(FileStore.make({ directory: env("KILL9_STORE_DIR"), fsync: true }), (s) => ({
    ...s,
    acquireWindow: (r: Parameters<typeof s.acquireWindow>[0]) =>
      s.acquireWindow(r).pipe(Effect.tap((res) => (res._tag === "Acquired" && at === "window" ? boundary("window") : Effect.void))),
    appendJournal: (e: Parameters<typeof s.appendJournal>[0]) =>
      s.appendJournal(e).pipe(
        Effect.tap((written) => {
          if (written.type === "applied") appliedSeen = true
          return written.type === at && (at === "intent" || at === "acquired" || at === "applied") ? boundary(at) : Effect.void
        })
      )
  }))
)

const kube = Layer.orDie(Kube.layerFromString(fs.readFileSync(env("KILL9_KUBECONFIG"), "utf8"), { requestTimeout: "30 seconds" }))
const metrics = Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: simUrl, timeout: "30 seconds" })))
const cluster = Layer.mergeAll(kube, metrics, EventRecorder.layer({ instance: "byteport-kill9" }).pipe(Layer.provide(kube)))
const registry = ActionRegistry.layer({ handlers: OomActions.handlers() }).pipe(
  Layer.provide(Layer.mergeAll(cluster, HeapProfiler.unavailable("no heap profiler configured")))
)
const services = Layer.mergeAll(cluster, registry, Layer.orDie(store), IncidentBus.layer(), Notifier.memory, Layer.orDie(AgentId.layerConfig))

const base = OomRunbook.make()
const runbook = process.env["KILL9_APPROVAL"] === "1"
  ? { ...base, guardrails: [...base.guardrails, Guardrail.approval({ reason: "kill -9 test: a human approves every plan" })] }
  : base

const print = (r: Runbook.HandleResult) =>
  Effect.sync(() => {
    const x = r as any
    process.stdout.write(`RESULT ${JSON.stringify({
      tag: x._tag ?? "IncidentReport",
      status: x.status,
      planDigest: x.planDigest,
      outcomes: (x.outcomes ?? []).map((o: any) => ({ kind: o.kind, status: o.status, detail: String(o.detail).slice(0, 300) })),
      escalation: x.escalation?.reason
    })}\n`)
  })

const program = Effect.gen(function*() {
  if (mode === "handle") {
    const workload = env("KILL9_WORKLOAD")
    const first = yield* Stream.runHead(
      runbook.detector!.signals.pipe(Stream.filter((sig: any) => String(sig.evidence?.pod ?? "").startsWith(`${workload}-`)))
    ).pipe(Effect.orDie)
    if (first._tag !== "Some") return yield* Effect.die(new Error("the detector ended without a signal"))
    const r = yield* Runbook.handle(runbook, first.value as any, { incidentId, mode: "auto" })
    yield* print(r)
    if (Runbook.isAwaitingApproval(r)) {
      if (at === "approval") {
        // polling for the approval when it dies
        yield* Effect.forkChild(Runbook.awaitApproval(runbook, r, { pollEvery: "5 seconds" }))
        yield* Effect.sleep("10 seconds")
        yield* boundary("approval")
      }
    }
  } else {
    yield* print(yield* Runbook.resume(runbook, incidentId, { mode: "auto" }))
  }
})

const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))
const sim = (path: string, body?: unknown) =>
  Effect.promise(async () => {
    const res = await fetch(`${simUrl}${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })
    return (await res.json()) as { now: string }
  })

/** Virtual time per step: 2 s (verification polls every 30 s, the rollout wait every 2 s). */
const STEP = 2_000

/** The program on the TestClock, advancing kube-sim and the TestClock by `STEP` whenever it waits. */
const main = Effect.gen(function*() {
  yield* TestClock.setTime(Date.parse((yield* sim("/_sim/clock")).now))
  const fiber = yield* Effect.forkChild(Effect.provide(program, services))
  let appliedAt: number | undefined
  let elapsed = 0
  for (;;) {
    yield* realDelay(4)
    if (fiber.pollUnsafe() !== undefined) break
    if (frozen) continue
    if (appliedSeen && at === "verify") {
      appliedAt ??= elapsed
      if (elapsed - appliedAt >= 60_000) {
        frozen = true
        process.stdout.write("BOUNDARY verify\n")
        continue
      }
    }
    if (elapsed > 2 * 3600_000) return yield* Effect.die(new Error("still running after 2 hours of virtual time"))
    yield* sim("/_sim/advance", { by: STEP })
    yield* TestClock.adjust(STEP)
    elapsed += STEP
  }
  const exit = yield* Fiber.await(fiber)
  if (exit._tag === "Failure") {
    process.stderr.write(`agent failed: ${String(exit.cause)}\n`)
    process.exit(1)
  }
})

Effect.runPromise(Effect.scoped(main).pipe(Effect.provide(TestClock.layer()))).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`agent died: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  }
)
