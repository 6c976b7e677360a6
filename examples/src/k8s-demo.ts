/**
 * `npm start`: BytePort's k8s.oom.six-signal runbook, live, against kube-sim.
 *
 * kube-sim (a Kubernetes API simulator with controllers that follow cause and effect: a
 * container is OOM-killed when its memory demand exceeds its limit) runs in-process on
 * 127.0.0.1; the runbook talks to it through the real @kubernetes/client-node, reads
 * metrics.k8s.io and the Prometheus API it serves, and acts through the Kubernetes API.
 *
 * Two incidents: an undersized limit (auto mode: the limit is bumped ×1.5, rolled out, verified)
 * and a memory leak (never bumped: a heap profile is captured and the incident escalated with a
 * ticket). Time is virtual: the runbook's clock and the simulator's clock advance together, so
 * minutes of cluster life take a second or two. It prints a timeline and the Markdown
 * postmortem of each incident, then ends by itself.
 */
import { ActionRegistry, Guardrail, IncidentBus, MemoryStore, Notifier, Plan, Runbook, type IncidentReport } from "@byteport/core"
import { EventRecorder, HeapProfiler, Kube, Metrics, OomActions, OomSixSignal, Prometheus } from "@byteport/k8s"
import { Report } from "@byteport/core"
import { Duration, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import { gzipSync } from "node:zlib"
import { Scenario, type ScenarioSpec, startSim, type Sim } from "@byteport/kube-sim"

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s)
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s)
const clock = (sim: Sim) => new Date(sim.now()).toISOString().slice(11, 19)

/** A loopback pprof endpoint standing in for the leaking pod's /debug/pprof/heap. */
const pprof = () =>
  new Promise<{ url: string; close: () => void }>((resolve) => {
    const body = gzipSync(Buffer.from("heap profile: 42: 188743680 [42: 188743680] @ heap/1048576\n40: 188743680 [40: 188743680] @ 0x4b2e10 0x4b1f7c # cache.(*Store).Put\n"))
    const server = http.createServer((req, res) => (req.url?.startsWith("/debug/pprof/heap") ? res.writeHead(200, { "content-type": "application/octet-stream" }).end(body) : res.writeHead(404).end()))
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() }))
  })

const services = (sim: Sim, profilerUrl: string) => {
  const kube = Layer.orDie(Kube.layerFromString(sim.kubeconfig()))
  const metrics = Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: sim.prometheusUrl })))
  const events = EventRecorder.layer({ instance: "byteport-demo" }).pipe(Layer.provide(kube))
  const profiler = HeapProfiler.pprofHttp({ urlFor: (t) => Effect.succeed(`${profilerUrl}/debug/pprof/heap?pod=${t.pod}`) })
  const cluster = Layer.mergeAll(kube, metrics, events)
  return Layer.mergeAll(
    cluster,
    ActionRegistry.layer({ handlers: OomActions.handlers() }).pipe(Layer.provide(Layer.mergeAll(cluster, profiler))),
    MemoryStore.layer,
    IncidentBus.layer(),
    Notifier.memory
  )
}

/** Runs `effect` while the simulator and the runbook's clock advance together, 1 s per step. */
const live = <A, E, R>(sim: Sim, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(sim.now())
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 3600 && fiber.pollUnsafe() === undefined; i++) {
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 3)))
      if (fiber.pollUnsafe() !== undefined) break
      sim.advance(1000)
      yield* TestClock.adjust(Duration.seconds(1))
    }
    return yield* Fiber.join(fiber)
  })

const podsLine = (sim: Sim) =>
  (sim.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>)
    .filter((p) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp)
    .map((p) => {
      const cs = p.status?.containerStatuses?.[0]
      return `${p.metadata.name} restarts=${cs?.restartCount ?? 0} last=${cs?.lastState?.terminated?.reason ?? "-"} limit=${p.spec.containers[0].resources?.limits?.memory}`
    })
    .join("\n    ")

const incident = (title: string, scenario: ScenarioSpec, warmup: string) =>
  Effect.gen(function*() {
    console.log(`\n${bold(`━━ ${title} ━━`)}`)
    // a fixed start: the same run every time (an unpinned simulator starts at the wall clock)
    const sim = yield* Effect.promise(() => startSim({ scenario, seed: 7, now: "2026-01-01T00:00:00Z" }))
    const prof = yield* Effect.promise(pprof)
    try {
      console.log(dim(`kube-sim on ${sim.url} (Prometheus API at ${sim.prometheusUrl})`))
      sim.advance(warmup)
      console.log(`${clock(sim)}  the cluster after ${warmup}:\n    ${podsLine(sim)}`)
      const runbook = OomSixSignal.make({ defaultMode: "auto" })
      const report = yield* live(sim, Effect.gen(function*() {
        const signal = yield* Stream.runHead(runbook.detector!.signals).pipe(Effect.flatMap(Effect.fromOption), Effect.orDie)
        return (yield* Runbook.handle(runbook, signal as any, { mode: "auto" })) as IncidentReport.IncidentReport
      }).pipe(Effect.provide(services(sim, prof.url)))).pipe(Effect.provide(TestClock.layer()))
      console.log(`\n${bold("timeline")}`)
      for (const t of report.timeline) console.log(`  ${new Date(t.at).toISOString().slice(11, 19)}  ${t.phase.padEnd(10)} ${t.message}`)
      if (report.plan) console.log(`\n${bold("plan")}\n${Plan.render(report.plan).replace(/^/gm, "  ")}`)
      for (const d of report.decisions) console.log(`  guardrails ${d.phase} ${d.actionKind}: ${d.decision}${d.guardrail ? ` by ${Guardrail.denialDetail(d.guardrail, d.reason)}` : d.reason ? ` — ${d.reason}` : ""}`)
      if (report.escalation) console.log(`  escalation: ${report.escalation.severity}, ${report.escalation.attachments.length} attachment(s): ${report.escalation.attachments.map((a) => `${a.name} (${a.sizeBytes ?? a.content.length} bytes)`).join(", ") || "none"}`)
      console.log(`\n${clock(sim)}  the cluster now:\n    ${podsLine(sim)}`)
      console.log(`\n${bold("postmortem")}\n`)
      console.log(Report.toMarkdown(report))
    } finally {
      prof.close()
      yield* Effect.promise(() => sim.close())
    }
  })

const main = Effect.gen(function*() {
  console.log(bold("BytePort — k8s.oom.six-signal on kube-sim"))
  yield* incident("1. undersized memory limit (auto mode)", Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build(), "6m")
  yield* incident("2. a memory leak (never bumped: heap profile + escalation)", Scenario.cluster({ nodes: 3 }).with(Scenario.oom.leak({ name: "api", limit: "512Mi", minutesToLimit: 8 })).build(), "40m")
  console.log(bold("\ndone: two incidents, one bump (verified), one escalation with a heap profile and no bump."))
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
