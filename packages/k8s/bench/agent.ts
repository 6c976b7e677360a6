/**
 * BytePort's shipped OOM detector, or the whole k8s.oom.six-signal runbook, as its own process
 * for `bench/processes.ts` (not a test): nothing of kube-sim lives in this process, so its RSS and
 * CPU are the agent's alone.
 *
 *   BENCH_KUBECONFIG   the kubeconfig of the kube-sim process
 *   BENCH_AGENT_MODE   `detector` (OomKilled.make(), default config) or `runbook` (the runbook in
 *                      dry_run through `Runbook.run`, its detector timed too)
 *   BENCH_PROM_URL     kube-sim's Prometheus API (runbook mode)
 *   BENCH_SIM_URL      kube-sim's URL: the runbook's clock follows `/_sim/clock` (runbook mode)
 *
 * stdout (epoch ms, `performance.timeOrigin + now()`): `loaded <t>` once the modules are loaded,
 * `signal <pod>/<finishedAt> <t>` per OOMKilled signal; on stdin `stats` → `stats {"rss","maxRss",
 * "heapUsed","cpuUser","cpuSystem"}` (seconds; `maxRss` the process's peak, bytes).
 */
import { performance } from "node:perf_hooks"
import { createInterface } from "node:readline"

const now = () => performance.timeOrigin + performance.now()
const out = (line: string) => process.stdout.write(`${line}\n`)
const MODE = process.env["BENCH_AGENT_MODE"] ?? "detector"
const kubeconfig = process.env["BENCH_KUBECONFIG"] ?? ""

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "stats") {
    const m = process.memoryUsage()
    const c = process.cpuUsage()
    out(`stats ${JSON.stringify({ rss: m.rss, maxRss: process.resourceUsage().maxRSS * 1024, heapUsed: m.heapUsed, cpuUser: c.user / 1e6, cpuSystem: c.system / 1e6 })}`)
  }
}).on("close", () => process.exit(0))

const { Effect, Layer, Stream, Clock, Duration } = await import("effect")
const { readFileSync } = await import("node:fs")
const OomKilled = await import("../src/detectors/oomKilled")
const Kube = await import("../src/Kube")
const kube = Layer.orDie(Kube.layerFromString(readFileSync(kubeconfig, "utf8"), { requestTimeout: "60 seconds" }))

const onSignal = (s: any) => Effect.sync(() => out(`signal ${s.evidence.pod}/${s.evidence.finishedAt} ${now()}`))

if (MODE === "detector") {
  out(`loaded ${now()}`)
  await Effect.runPromise(OomKilled.make().signals.pipe(Stream.runForEach(onSignal), Effect.provide(kube)))
} else {
  const { ActionRegistry, IncidentBus, MemoryStore, Notifier, Runbook } = await import("@byteport/core")
  const OomActions = await import("../src/actions/oom")
  const HeapProfiler = await import("../src/actions/heapProfiler")
  const EventRecorder = await import("../src/events/EventRecorder")
  const Metrics = await import("../src/metrics/Metrics")
  const Prometheus = await import("../src/metrics/Prometheus")
  const OomRunbook = await import("../src/runbooks/k8s.oom.six-signal")
  out(`loaded ${now()}`)
  const simUrl = process.env["BENCH_SIM_URL"] ?? ""
  // the runbook's time is the simulator's (its Prometheus windows and event times are virtual):
  // the offset of kube-sim's clock to this process's, refreshed every 250 ms
  let offset = 0
  const refresh = async () => {
    try {
      const r = (await (await fetch(`${simUrl}/_sim/clock`)).json()) as { now: string }
      offset = Date.parse(r.now) - Date.now()
    } catch {
      // keep the last offset
    }
  }
  await refresh()
  setInterval(refresh, 250).unref()
  const simNow = () => Date.now() + offset
  const simClock: import("effect").Clock.Clock = {
    currentTimeMillisUnsafe: simNow,
    currentTimeMillis: Effect.sync(simNow),
    currentTimeNanosUnsafe: () => BigInt(Math.round(simNow())) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(simNow())) * 1_000_000n),
    monotonicTimeNanosUnsafe: () => process.hrtime.bigint(),
    monotonicTimeNanos: Effect.sync(() => process.hrtime.bigint()),
    sleep: (d) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, Duration.toMillis(d))))
  }
  const cluster = Layer.mergeAll(kube, Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: process.env["BENCH_PROM_URL"] ?? "", timeout: "60 seconds" }))), EventRecorder.layer().pipe(Layer.provide(kube)))
  const services = Layer.mergeAll(
    cluster,
    ActionRegistry.layer({ handlers: OomActions.handlers() }).pipe(Layer.provide(Layer.mergeAll(cluster, HeapProfiler.unavailable("bench")))),
    MemoryStore.layer,
    IncidentBus.layer(),
    Notifier.memory
  )
  const program = Effect.gen(function*() {
    yield* Effect.forkChild(OomKilled.make().signals.pipe(Stream.runForEach(onSignal)))
    yield* Runbook.run(OomRunbook.make({ defaultMode: "dry_run" }), {
      concurrency: 64,
      resumeOpen: false,
      onResult: (r: any) =>
        Effect.sync(() => out(`result ${r.signal?.evidence?.pod} ${r.status} ${r.classification?._tag === "Classified" ? r.classification.class : JSON.stringify(r.classification?.reasons ?? r.classification?._tag ?? "").slice(0, 200)} ${now()}`))
    })
  }).pipe(Effect.provide(services), Effect.provideService(Clock.Clock, simClock))
  await Effect.runPromise(program as import("effect").Effect.Effect<unknown>)
}
