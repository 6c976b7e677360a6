/**
 * Benchmark of k8s.oom.six-signal (not a test), in two parts.
 *
 * **Part A — the detector alone at scale** (default 500 nodes, 10,000 pods in 100 Deployments ×
 * `BENCH_REPLICAS` 100): kube-sim's API server alone, the objects written straight into its
 * store, the OOMKilled informer detector over all pods, nothing else in the process. Measured:
 * time to list and watch, API requests made while idle (10 s), RSS/heap, and for each injected
 * OOMKill (the status update a kubelet writes) the wall time until the detector's signal, p50 / p99.
 * `BENCH_SKIP_A=1` skips it.
 *
 * **Part B — end to end with the controllers at full scale** (default `BENCH_FULL_PODS` 10,000
 * pods on `BENCH_FULL_NODES` 500 nodes, built and settled by kube-sim's scheduler, kubelet and
 * workload controllers): the runbook in dry_run consuming its detector (`Runbook.run`); each
 * injected OOMKill is a new Deployment whose working set outgrows its limit, advanced in simulated
 * seconds until the kernel kills it. Measured: wall time from the kill to the signal and to the
 * first action (the runbook's `dryRun=All` PATCH reaching the apiserver), p50 / p99, idle
 * requests, RSS (kube-sim shares the process).
 *
 * Part A also times the baseline, the loop an operator would script: `kubectl get pods -A -o json |
 * jq` against the same API server (`BENCH_KUBECTL_RUNS`, default 3), CPU seconds of kubectl + jq
 * summed; the loop's detection latency is modelled from it (a poll every 10 s: the kill lands
 * uniformly in the interval, then one list + jq).
 *
 * Every figure of the combined table is printed as one `BENCH {json}` line (metric, byteport,
 * baseline, unit, runs, spread), read by `scripts/bench.ts` (`npm run bench`).
 *
 *   npm run bench -w @byteport/k8s     # BENCH_PODS, BENCH_NODES, BENCH_INJECTIONS, BENCH_FULL_PODS …
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
/** Injections of part B (each waits for a first action): `BENCH_INJECTIONS_FULL`, default `BENCH_INJECTIONS`. */
const B_INJECTIONS = Number(process.env["BENCH_INJECTIONS_FULL"] ?? INJECTIONS)
const REPLICAS = Number(process.env["BENCH_REPLICAS"] ?? 100)

const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`
const pct = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** One row of the combined table (`scripts/bench.ts`). */
const emit = (row: { metric: string; byteport?: number | undefined; baseline?: number | undefined; unit: string; runs: number; spread?: string | undefined; note?: string | undefined }) =>
  console.log(`BENCH ${JSON.stringify(row)}`)
const KUBECTL_RUNS = Number(process.env["BENCH_KUBECTL_RUNS"] ?? 3)
/** The idle window in which API requests are counted (`BENCH_IDLE_SECONDS`, default 10). */
const IDLE_MS = Number(process.env["BENCH_IDLE_SECONDS"] ?? 10) * 1000
const IDLE = `${IDLE_MS / 1000} s`
/** `kubectl get pods -A -o json | jq` once: wall ms and CPU seconds of both (bash's `time` of the pipeline's subshell). */
const kubectlPoll = async (kubeconfig: string) => {
  // asynchronous: the API server it asks lives in this process's event loop
  const { spawn } = await import("node:child_process")
  const t = performance.now()
  const child = spawn("bash", ["-c", `TIMEFORMAT='%U %S'; time (kubectl --kubeconfig "$KCFG" get pods -A -o json | jq -c '[.items[] | select(any(.status.containerStatuses[]?; .lastState.terminated.reason == "OOMKilled")) | .metadata.name] | length' > /dev/null)`], { env: { ...process.env, KCFG: kubeconfig }, stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()))
  const status = await new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  const wall = performance.now() - t
  const [u, sy] = (stderr.trim().split("\n").pop() ?? "").split(" ").map(Number)
  if (status !== 0) throw new Error(`kubectl | jq failed: ${stderr.slice(-500)}`)
  return { wall, cpu: (u ?? NaN) + (sy ?? NaN) }
}
const POD_KEY = { group: "", version: "v1", resource: "pods" }

// ── Part A: the detector alone at full scale (API server only; objects written straight into its store) ──
// The informer-side numbers without the simulator's own work in the process: Deployments,
// ReplicaSets and Running pods are written into the store, and an OOMKill is the status update a
// kubelet would write.
if (!process.env["BENCH_SKIP_A"]) {
  const { KubeSim } = await import("@byteport/kube-sim")
  const api = await KubeSim.start({ seed: 7 })
  const K = { nodes: { group: "", version: "v1", resource: "nodes" }, pods: { group: "", version: "v1", resource: "pods" }, deployments: { group: "apps", version: "v1", resource: "deployments" }, replicasets: { group: "apps", version: "v1", resource: "replicasets" } }
  const a0 = performance.now()
  for (let n = 0; n < NODES; n++) api.store.create(K.nodes, { apiVersion: "v1", kind: "Node", metadata: { name: `node-${n}` }, status: { allocatable: { memory: "256Gi", cpu: "64", pods: "110" }, conditions: [{ type: "Ready", status: "True" }, { type: "MemoryPressure", status: "False" }] } } as never)
  const deployments = Math.ceil(PODS / REPLICAS)
  const podsByIndex: Array<any> = []
  for (let d = 0; d < deployments; d++) {
    const labels = { app: `svc-${d}` }
    const dep = api.store.create(K.deployments, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: `svc-${d}`, namespace: "default" }, spec: { replicas: REPLICAS, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "registry.example.com/svc:1", resources: { limits: { memory: "256Mi" } } }] } } } } as never) as any
    api.store.create(K.replicasets, { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: { name: `svc-${d}-rs`, namespace: "default", ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: `svc-${d}`, uid: dep.metadata.uid, controller: true }] }, spec: { replicas: REPLICAS, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "i" }] } } } } as never)
    for (let r = 0; r < REPLICAS && podsByIndex.length < PODS; r++) {
      const name = `svc-${d}-rs-${r}`
      podsByIndex.push(api.store.create(K.pods, {
        apiVersion: "v1", kind: "Pod",
        metadata: { name, namespace: "default", labels, ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: `svc-${d}-rs`, uid: "rs", controller: true }] },
        spec: { nodeName: `node-${podsByIndex.length % NODES}`, containers: [{ name: "app", image: "registry.example.com/svc:1", resources: { limits: { memory: "256Mi" } } }] },
        status: { phase: "Running", containerStatuses: [{ name: "app", ready: true, restartCount: 0, image: "i", imageID: "", state: { running: { startedAt: "2026-01-01T00:00:00Z" } } }] }
      } as never))
    }
  }
  console.log(`part A: API server with ${NODES} nodes, ${podsByIndex.length} pods, ${deployments} Deployments written in ${((performance.now() - a0) / 1000).toFixed(1)} s`)
  const kubeA = Layer.orDie(Kube.layerFromString(api.kubeconfig(), { requestTimeout: "60 seconds" }))
  const seenA = new Map<string, number>()
  const A = Effect.gen(function*() {
    const l0 = performance.now()
    const fiber = yield* Effect.forkChild(OomKilled.make().signals.pipe(Stream.runForEach((s: any) => Effect.sync(() => void seenA.set(`${s.evidence.pod}/${s.evidence.finishedAt}`, performance.now())))))
    while (api.recorder.requests({ watch: true, pathPrefix: "/api/v1/pods" }).length === 0) yield* Effect.promise(() => sleep(20))
    console.log(`  informer listed ${podsByIndex.length} pods and opened its watch in ${(performance.now() - l0).toFixed(0)} ms`)
    yield* Effect.promise(() => sleep(1000))
    const idleFrom = api.recorder.requests().length
    yield* Effect.promise(() => sleep(IDLE_MS))
    const idle = api.recorder.requests().slice(idleFrom)
    const mem = process.memoryUsage()
    console.log(`  idle: ${idle.length} API requests in ${IDLE}; RSS ${mb(mem.rss)}, heap ${mb(mem.heapUsed)} (API server and its objects share this process)`)
    const lat: Array<number> = []
    for (let i = 0; i < INJECTIONS; i++) {
      const pod = podsByIndex[(i * 997) % podsByIndex.length]
      const cur = api.store.get(K.pods, "default", pod.metadata.name) as any
      const finishedAt = new Date(Date.UTC(2026, 0, 1, 0, 10, i)).toISOString().replace(".000", "")
      const cs = cur.status.containerStatuses[0]
      const start = performance.now()
      api.store.update(K.pods, { ...cur, status: { ...cur.status, containerStatuses: [{ ...cs, ready: false, restartCount: cs.restartCount + 1, lastState: { terminated: { reason: "OOMKilled", exitCode: 137, startedAt: "2026-01-01T00:00:00Z", finishedAt } }, state: { waiting: { reason: "CrashLoopBackOff" } } }] } } as never)
      const key = `${pod.metadata.name}/${finishedAt}`
      for (let w = 0; w < 2000 && !seenA.has(key); w++) yield* Effect.promise(() => sleep(2))
      if (seenA.has(key)) lat.push(seenA.get(key)! - start)
    }
    console.log(`  OOMKill → signal at ${podsByIndex.length} pods: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms (${lat.length}/${INJECTIONS})`)
    yield* Fiber.interrupt(fiber)
    // the baseline: the kubectl + jq poll against the same API server
    const fs = yield* Effect.promise(() => import("node:fs"))
    const os = yield* Effect.promise(() => import("node:os"))
    const kcfg = `${os.tmpdir()}/byteport-bench-${process.pid}.kubeconfig`
    fs.writeFileSync(kcfg, api.kubeconfig())
    const polls: Array<{ wall: number; cpu: number }> = []
    for (let i = 0; i < KUBECTL_RUNS; i++) polls.push(yield* Effect.promise(() => kubectlPoll(kcfg)))
    fs.rmSync(kcfg, { force: true })
    const walls = polls.map((p) => p.wall)
    console.log(`  kubectl get pods -A -o json | jq at ${podsByIndex.length} pods: p50 ${pct(walls, 50).toFixed(0)} ms, CPU ${(polls.reduce((a, p) => a + p.cpu, 0) / polls.length).toFixed(2)} s per poll (${polls.length} runs)`)
    const n = podsByIndex.length
    emit({ metric: `OOMKill → Signal p50 (${n} pods)`, byteport: pct(lat, 50), baseline: 5_000 + pct(walls, 50), unit: "ms", runs: lat.length, spread: `${Math.min(...lat).toFixed(1)}–${Math.max(...lat).toFixed(1)} ms`, note: "baseline: 10 s poll, modelled as half the interval + one measured kubectl | jq" })
    emit({ metric: `OOMKill → Signal p99 (${n} pods)`, byteport: pct(lat, 99), baseline: 9_900 + Math.max(...walls), unit: "ms", runs: lat.length })
    emit({ metric: `one poll: kubectl get pods -A -o json | jq (${n} pods)`, baseline: pct(walls, 50), unit: "ms", runs: polls.length, spread: `${Math.min(...walls).toFixed(0)}–${Math.max(...walls).toFixed(0)} ms` })
    emit({ metric: "CPU per idle minute: informer vs 6 polls", baseline: 6 * polls.reduce((a, p) => a + p.cpu, 0) / polls.length, unit: "s", runs: polls.length, note: "BytePort's side shares its process with the API server here: not measured alone" })
    emit({ metric: `idle API requests in ${IDLE} (${n} pods)`, byteport: idle.length, baseline: IDLE_MS / 10_000, unit: "requests", runs: 1, note: "baseline: one list per 10 s poll" })
  })
  await Effect.runPromise(A.pipe(Effect.provide(kubeA)))
  await api.close()
}

// ── Part B: end to end with the controllers at full scale — signal and first action ──
// `npm run bench` skips it (`BENCH_SKIP_B=1`): bench/processes.ts measures the same end to end with
// kube-sim and the agent in separate processes and without a scenario warm-up per injection.
if (process.env["BENCH_SKIP_B"]) process.exit(0)
const FULL_PODS = Number(process.env["BENCH_FULL_PODS"] ?? 10_000)
const FULL_NODES = Number(process.env["BENCH_FULL_NODES"] ?? 500)
/** How long (wall ms) an injection waits for its signal and first action. */
const ACTION_WAIT_MS = Number(process.env["BENCH_ACTION_WAIT_MS"] ?? 30_000)
const t0 = performance.now()
const workloads = Array.from({ length: Math.ceil(FULL_PODS / 10) }, (_, i) => ({
  name: `svc-${i}`,
  replicas: 10,
  image: `registry.example.com/bench/svc:${i % 7}`,
  memoryLimit: "256Mi",
  memoryRequest: "64Mi",
  cpuRequest: "10m",
  memory: { kind: "steady" as const, bytes: 64 * 2 ** 20 }
}))
console.log(`part B: building ${FULL_PODS} pods on ${FULL_NODES} nodes in kube-sim with controllers …`)
const sim = await startSim({ scenario: Scenario.cluster({ nodes: FULL_NODES, nodeDefaults: { cpu: "64", memory: "256Gi", pods: 110 }, warmup: "0s", workloads }).build(), seed: 7 })
const tApplied = performance.now()
console.log(`  scenario applied and settled in ${((tApplied - t0) / 1000).toFixed(1)} s; running the controllers for 1 simulated minute …`)
sim.advance("1m")
const running = (sim.api.store.list(POD_KEY) as Array<any>).filter((p) => p.status?.phase === "Running").length
console.log(`cluster: ${FULL_NODES} nodes, ${running} running pods; 1 simulated minute took ${((performance.now() - tApplied) / 1000).toFixed(1)} s; ${((performance.now() - t0) / 1000).toFixed(1)} s in all`)

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
  yield* Effect.promise(() => sleep(IDLE_MS))
  const idleRequests = sim.api.recorder.requests().slice(idleFrom)
  console.log(`idle: ${idleRequests.length} API requests in ${IDLE} (${idleRequests.filter((r) => r.watch).length} watch reconnects); RSS ${mb(rssIdle.rss)}, heap ${mb(rssIdle.heapUsed)}`)

  const toSignal: Array<number> = []
  const toAction: Array<number> = []
  for (let i = 0; i < B_INJECTIONS; i++) {
    const name = `oom-${i}`
    // kube-sim's undersized_limit incident (a plateau 5 % over the limit, serving requests): what the runbook bumps
    sim.apply({ workloads: Scenario.oom.undersizedLimit({ name, limit: "128Mi", replicas: 1 }).workloads })
    let killedAt = 0
    for (let s = 0; s < 120 && !killedAt; s++) {
      sim.advance("1s")
      const pod = (sim.api.store.list(POD_KEY, { namespace: "default", labelSelector: `app=${name}` }) as Array<any>).find((p) => p.metadata.name.startsWith(`${name}-`))
      if (pod?.status?.containerStatuses?.[0]?.lastState?.terminated?.reason === "OOMKilled" || pod?.status?.containerStatuses?.[0]?.state?.terminated?.reason === "OOMKilled") killedAt = performance.now()
      yield* Effect.promise(() => sleep(1))
    }
    const wallKill = Date.now()
    let actionAt = 0
    for (let w = 0; Date.now() - wallKill < ACTION_WAIT_MS && !(signals.has(name) && actionAt); w++) {
      yield* Effect.promise(() => sleep(5))
      const patch = sim.api.recorder.requests({ method: "PATCH", dryRun: true }).find((r) => r.path.endsWith(`/deployments/${name}`) && r.time >= wallKill - 5)
      if (patch && !actionAt) actionAt = killedAt + (patch.time - wallKill)
    }
    if (signals.has(name)) toSignal.push(signals.get(name)! - killedAt)
    if (actionAt) toAction.push(actionAt - killedAt)
    process.stdout.write(`  injection ${i + 1}/${B_INJECTIONS}: signal ${signals.has(name) ? `${(signals.get(name)! - killedAt).toFixed(0)} ms` : "none"}, first action ${actionAt ? `${(actionAt - killedAt).toFixed(0)} ms` : "none"}\n`)
  }
  if (process.env["BENCH_VERBOSE"]) console.log(outcomes.join("\n"))
  const rss = process.memoryUsage()
  console.log(`\nOOMKill → signal:       p50 ${pct(toSignal, 50).toFixed(0)} ms, p99 ${pct(toSignal, 99).toFixed(0)} ms (${toSignal.length}/${B_INJECTIONS})`)
  console.log(`OOMKill → first action: p50 ${pct(toAction, 50).toFixed(0)} ms, p99 ${pct(toAction, 99).toFixed(0)} ms (${toAction.length}/${B_INJECTIONS})`)
  console.log(`RSS after: ${mb(rss.rss)}, heap ${mb(rss.heapUsed)} (kube-sim and its ${running} pods share this process)`)
  emit({ metric: `end to end: OOMKill → Signal p50 (${running} pods, controllers)`, byteport: pct(toSignal, 50), unit: "ms", runs: toSignal.length, spread: `p99 ${pct(toSignal, 99).toFixed(0)} ms` })
  emit({ metric: `end to end: OOMKill → first action p50 (${running} pods)`, byteport: pct(toAction, 50), unit: "ms", runs: toAction.length, spread: `p99 ${pct(toAction, 99).toFixed(0)} ms` })
  emit({ metric: `end to end: idle API requests in ${IDLE} (${running} pods)`, byteport: idleRequests.length, unit: "requests", runs: 1 })
  emit({ metric: `RSS, agent + kube-sim in one process (${running} pods)`, byteport: rss.rss / 2 ** 20, unit: "MiB", runs: 1, note: "kube-sim shares the process" })
  yield* Fiber.interrupt(run)
  yield* Fiber.interrupt(watch)
}).pipe(Effect.provide(services), Effect.provideService(Clock.Clock, simClock))

await Effect.runPromise(program)
await sim.close()
process.exit(0)
