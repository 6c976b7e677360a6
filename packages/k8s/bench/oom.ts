/**
 * Benchmark of k8s.oom.six-signal at scale (not a test): a kube-sim cluster of 500 nodes and
 * 10,000 running pods (1,000 Deployments × 10 replicas, steady memory) in this process, the
 * runbook in dry_run consuming its informer detector (`Runbook.run`).
 *
 * Measured:
 * - the API requests made while idle (informers synced, nothing happening) over a quiet window;
 * - for each injected OOMKill (a new Deployment whose working set outgrows its limit, advanced
 *   in simulated seconds until the kernel kills it): wall time from the kill to the detector's
 *   signal, and to the first action (the runbook's `dryRun=All` PATCH reaching the apiserver);
 *   p50 / p99 over the injections;
 * - RSS and heap of the process (which also holds kube-sim and its 10,000 pods).
 *
 *   npm run bench -w @byteport/k8s          # BENCH_PODS, BENCH_NODES, BENCH_INJECTIONS to resize
 */
import { ActionRegistry, IncidentBus, MemoryStore, Notifier, Runbook } from "@byteport/core"
import { Clock, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { performance } from "node:perf_hooks"
import { Scenario, startSim } from "../../kube-sim/src/scenario/index"
import * as OomActions from "../src/actions/oom"
import * as HeapProfiler from "../src/actions/heapProfiler"
import * as OomKilled from "../src/detectors/oomKilled"
import * as EventRecorder from "../src/events/EventRecorder"
import * as Kube from "../src/Kube"
import * as Metrics from "../src/metrics/Metrics"
import * as Prometheus from "../src/metrics/Prometheus"
import * as OomRunbook from "../src/runbooks/k8s.oom.six-signal"

const PODS = Number(process.env["BENCH_PODS"] ?? 10_000)
const NODES = Number(process.env["BENCH_NODES"] ?? 500)
const INJECTIONS = Number(process.env["BENCH_INJECTIONS"] ?? 20)
const REPLICAS = 10

const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`
const pct = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const t0 = performance.now()
const workloads = Array.from({ length: Math.ceil(PODS / REPLICAS) }, (_, i) => ({
  name: `svc-${i}`,
  replicas: REPLICAS,
  image: `registry.example.com/bench/svc:${i % 7}`,
  memoryLimit: "256Mi",
  memoryRequest: "64Mi",
  cpuRequest: "10m",
  memory: { kind: "steady" as const, bytes: 64 * 2 ** 20 }
}))
console.log(`building ${PODS} pods on ${NODES} nodes in kube-sim …`)
const sim = await startSim({ scenario: Scenario.cluster({ nodes: NODES, nodeDefaults: { cpu: "64", memory: "256Gi", pods: 110 }, warmup: "0s", workloads }).build(), seed: 7 })
console.log(`  scenario applied in ${((performance.now() - t0) / 1000).toFixed(1)} s; running the controllers for 1 simulated minute …`)
sim.advance("1m")
const running = (sim.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.status?.phase === "Running").length
console.log(`cluster: ${NODES} nodes, ${running} running pods, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

const kube = Layer.orDie(Kube.layerFromString(sim.kubeconfig(), { requestTimeout: "60 seconds" }))
const cluster = Layer.mergeAll(kube, Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: sim.prometheusUrl, timeout: "60 seconds" }))), EventRecorder.layer().pipe(Layer.provide(kube)))
const services = Layer.mergeAll(
  cluster,
  ActionRegistry.layer({ handlers: OomActions.handlers() }).pipe(Layer.provide(Layer.mergeAll(cluster, HeapProfiler.unavailable("bench")))),
  MemoryStore.layer,
  IncidentBus.layer(),
  Notifier.memory
)

/**
 * The runbook reads time from the simulator (its Prometheus windows and event times are in
 * simulated time) and sleeps in real time: the bench drives simulated time itself.
 */
const simClock: Clock.Clock = {
  currentTimeMillisUnsafe: () => sim.now(),
  currentTimeMillis: Effect.sync(() => sim.now()),
  currentTimeNanosUnsafe: () => BigInt(sim.now()) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(sim.now()) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => process.hrtime.bigint(),
  monotonicTimeNanos: Effect.sync(() => process.hrtime.bigint()),
  sleep: (d) => Effect.promise(() => sleep(Duration.toMillis(d)))
}

const signals = new Map<string, number>()
const program = Effect.gen(function*() {
  const runbook = OomRunbook.make({ defaultMode: "dry_run" })
  // the detector on its own (to time signals) and the runbook consuming its own informer
  const watch = yield* Effect.forkChild(
    OomKilled.make().signals.pipe(Stream.runForEach((s: any) => Effect.sync(() => void (signals.has(s.evidence.pod.split("-").slice(0, 2).join("-")) || signals.set(s.evidence.pod.split("-").slice(0, 2).join("-"), performance.now())))))
  )
  const outcomes: Array<string> = []
  const run = yield* Effect.forkChild(Runbook.run(runbook, {
    concurrency: 64,
    resumeOpen: false,
    onResult: (r: any) => Effect.sync(() => void outcomes.push(`${r.signal?.evidence?.pod}: ${r.status} ${r.classification?._tag === "Classified" ? r.classification.class : r.classification?.reasons?.[0] ?? ""}`))
  }))
  yield* Effect.promise(() => sleep(5000)) // informers list and start watching

  const idleFrom = sim.api.recorder.requests().length
  const rssIdle = process.memoryUsage()
  yield* Effect.promise(() => sleep(10_000))
  const idleRequests = sim.api.recorder.requests().slice(idleFrom)
  console.log(`idle: ${idleRequests.length} API requests in 10 s (${idleRequests.filter((r) => r.watch).length} watch reconnects); RSS ${mb(rssIdle.rss)}, heap ${mb(rssIdle.heapUsed)}`)

  const toSignal: Array<number> = []
  const toAction: Array<number> = []
  for (let i = 0; i < INJECTIONS; i++) {
    const name = `oom-${i}`
    sim.apply({ workloads: [{ name, replicas: 1, memoryLimit: "128Mi", memoryRequest: "128Mi", memory: { kind: "plateau", plateauBytes: Math.round(1.02 * 128 * 2 ** 20), startBytes: Math.round(0.8 * 128 * 2 ** 20), rampSeconds: 60 } }] })
    let killedAt = 0
    for (let s = 0; s < 120 && !killedAt; s++) {
      sim.advance("1s")
      const pod = (sim.api.store.list({ group: "", version: "v1", resource: "pods" }, { namespace: "default" }) as Array<any>).find((p) => p.metadata.name.startsWith(`${name}-`))
      if (pod?.status?.containerStatuses?.[0]?.lastState?.terminated?.reason === "OOMKilled" || pod?.status?.containerStatuses?.[0]?.state?.terminated?.reason === "OOMKilled") killedAt = performance.now()
      yield* Effect.promise(() => sleep(1))
    }
    const wallKill = Date.now()
    let actionAt = 0
    for (let w = 0; w < 6000 && !(signals.has(name) && actionAt); w++) {
      yield* Effect.promise(() => sleep(5))
      const patch = sim.api.recorder.requests({ method: "PATCH", dryRun: true }).find((r) => r.path.endsWith(`/deployments/${name}`) && r.time >= wallKill - 5)
      if (patch && !actionAt) actionAt = killedAt + (patch.time - wallKill)
    }
    if (signals.has(name)) toSignal.push(signals.get(name)! - killedAt)
    if (actionAt) toAction.push(actionAt - killedAt)
    process.stdout.write(`  injection ${i + 1}/${INJECTIONS}: signal ${signals.has(name) ? `${(signals.get(name)! - killedAt).toFixed(0)} ms` : "none"}, first action ${actionAt ? `${(actionAt - killedAt).toFixed(0)} ms` : "none"}\n`)
  }
  if (process.env["BENCH_VERBOSE"]) console.log(outcomes.join("\n"))
  const rss = process.memoryUsage()
  console.log(`\nOOMKill → signal:       p50 ${pct(toSignal, 50).toFixed(0)} ms, p99 ${pct(toSignal, 99).toFixed(0)} ms (${toSignal.length}/${INJECTIONS})`)
  console.log(`OOMKill → first action: p50 ${pct(toAction, 50).toFixed(0)} ms, p99 ${pct(toAction, 99).toFixed(0)} ms (${toAction.length}/${INJECTIONS})`)
  console.log(`RSS after: ${mb(rss.rss)}, heap ${mb(rss.heapUsed)} (kube-sim and its ${running} pods share this process)`)
  yield* Fiber.interrupt(run)
  yield* Fiber.interrupt(watch)
}).pipe(Effect.provide(services), Effect.provideService(Clock.Clock, simClock))

await Effect.runPromise(program)
await sim.close()
process.exit(0)
