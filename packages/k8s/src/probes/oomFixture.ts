/**
 * Recorded fixtures → `OomFacts`, through the same pure functions the live probes use. A fixture
 * is a directory of what the API and `kubectl get -o json` return:
 *
 * | file | content |
 * |---|---|
 * | `pod.json` | the Pod |
 * | `node.json` | its Node |
 * | `deployment.json` | the owning Deployment |
 * | `replicasets.json` | the namespace's ReplicaSets (a List) |
 * | `hpas.json` | the namespace's HPAs (a List, autoscaling/v2) |
 * | `podmetrics.json` | metrics.k8s.io PodMetrics of the pod (or the 404 Status when it has no sample) |
 * | `prometheus-memory.json` | `/api/v1/query_range` of the working set, one series per pod |
 * | `prometheus-rps.json` | `/api/v1/query_range` of the workload's request rate |
 * | `previous.log` | the previous container's log |
 * | `meta.json` | `{ container, now }` (epoch ms the recording was made at) |
 *
 * `pod.json` and `meta.json` are required; every other file is optional, and a missing one makes
 * the facts that need it Unknown (as kubectl records a crash-looping pod without PodMetrics, or a
 * user without access to the owner). `null` timestamps decode. A malformed file fails with the
 * core testing kit's `FixtureError`, naming the file and the bad field's path.
 *
 * The stock fixtures ship inside the package: `recorded("undersized_limit")` gives the directory
 * of one (from the repository and from an installed package alike), `names()` lists them, and an
 * unknown name fails with `UnknownFixture`. `record({ server, pod, name })` records your own from
 * a running cluster into `./fixtures/oom/<name>` (never into `node_modules`).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Fact, type Signal } from "@byteport/core"
import { FixtureError, loadFixture } from "@byteport/core/testing"
import { Effect, Schema } from "effect"
import type { OomFacts } from "../classifiers/oom"
import { QueryResponse, type Series } from "../metrics/Prometheus"
import * as Targets from "../targets/Targets"
import { hpaFactsFrom } from "./hpa"
import { deployFactsFrom } from "./lastDeploy"
import * as MemoryTrend from "./memoryTrend"
import { nodeFactsFrom } from "./nodeFacts"
import { markersIn } from "./oomMarkers"
import { podFactsFrom, workloadHint } from "./podFacts"
import { fromEnv, largest } from "./runtimeHeap"
import * as Recorded from "../testing/Recorded"
import * as Wire from "./wire"
import { workingSetFrom } from "./workingSet"

/** A name that is not among the shipped fixtures (lists the available ones). */
export { UnknownFixture } from "../testing/Recorded"
/** Record a fixture from a running cluster into your own directory (`record`, `destination`, `RecordError`). */
export { defaultDir, destination, record, RecordError, type RecordOptions } from "../testing/oomRecorder"

/** The names of the OOM fixtures shipped with `@byteport/k8s` (one per class and each side of every threshold). */
export const names = (): ReadonlyArray<string> => Recorded.names("oom")

/**
 * The directory of a shipped OOM fixture, for `decode`, `signal` and golden plans
 * (`plan.golden` next to it); an unknown name fails with `UnknownFixture`.
 */
export const recorded = (name: string): Effect.Effect<string, Recorded.UnknownFixture> => Recorded.resolve("oom", name)

const Meta = Schema.Struct({ container: Schema.String, now: Schema.Number })
const MetricsOrStatus = Schema.Union([Wire.PodMetrics, Schema.Struct({ kind: Schema.Literal("Status"), code: Schema.Number })])

/** The series of a query_range response (an error response is a FixtureError). */
const seriesOf = (file: string, r: typeof QueryResponse.Type): Effect.Effect<ReadonlyArray<Series>, FixtureError> => {
  if (r.status !== "success") return Effect.fail(new FixtureError({ file, path: ["status"], message: `${file}: a Prometheus error response: ${r.error}` }))
  if (r.data.resultType !== "matrix") return Effect.fail(new FixtureError({ file, path: ["data", "resultType"], message: `${file}: expected a matrix, got ${r.data.resultType}` }))
  return Effect.succeed(r.data.result.map((s) => ({ labels: s.metric, points: s.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as const).filter(([, v]) => Number.isFinite(v)) })))
}

/**
 * The raw, decoded files of a fixture directory. `pod.json` and `meta.json` are required; every
 * other file is optional (a recording made with less access, or of a pod metrics-server has no
 * sample of): absent → `undefined`, and the facts that need it become Unknown.
 */
export const load = (dir: string) =>
  Effect.gen(function*() {
    const f = (name: string) => path.join(dir, name)
    const optional = <A>(schema: Schema.Codec<A, unknown>, name: string): Effect.Effect<A | undefined, FixtureError> =>
      fs.existsSync(f(name)) ? loadFixture(schema, f(name)) : Effect.succeed(undefined)
    const series = (name: string) =>
      fs.existsSync(f(name)) ? Effect.flatMap(loadFixture(QueryResponse, f(name)), (r) => seriesOf(f(name), r)) : Effect.succeed(undefined)
    const pod = yield* loadFixture(Wire.Pod, f("pod.json"))
    const node = yield* optional(Wire.Node, "node.json")
    const deployment = yield* optional(Wire.Workload, "deployment.json")
    const replicaSets = yield* optional(Wire.List(Wire.ReplicaSet), "replicasets.json")
    const hpas = yield* optional(Wire.List(Wire.Hpa), "hpas.json")
    const metrics = yield* optional(MetricsOrStatus, "podmetrics.json")
    const memory = yield* series("prometheus-memory.json")
    const rps = yield* series("prometheus-rps.json")
    const meta = yield* loadFixture(Meta, f("meta.json"))
    const log = fs.existsSync(f("previous.log")) ? fs.readFileSync(f("previous.log"), "utf8") : ""
    return {
      pod,
      node,
      deployment,
      replicaSets: replicaSets?.items,
      hpas: hpas?.items,
      metrics: metrics === undefined ? undefined : "containers" in metrics ? metrics : null,
      memory,
      rps,
      meta,
      log
    }
  })

const notRecorded = (probe: string, ...files: ReadonlyArray<string>) => Fact.unknown(probe, `not recorded: ${files.join(", ")} missing from the fixture`)

/**
 * Decodes a fixture directory into Facts: Known from every recorded file; a missing optional
 * file makes the facts that need it Unknown (the owner, hpa and last deploy without
 * `deployment.json`; the trend without a Prometheus series; the working set without PodMetrics
 * and without a Prometheus value of the pod), exactly as a failed probe does live. The trend is
 * `MemoryTrend.trendAt` at the capture time `meta.now`: the live probe's windows (60 min, widened
 * ×4 to 24 h until one decides) answered from the recorded series — one decision path with the
 * runbook, never the whole recording at once.
 */
export const decode = (dir: string, trend: MemoryTrend.TrendSettings = MemoryTrend.defaults): Effect.Effect<Fact.Facts<OomFacts>, FixtureError> =>
  Effect.map(load(dir), (x): Fact.Facts<OomFacts> => {
    const workload = x.deployment ? { kind: "Deployment", name: x.deployment.metadata.name, resourceVersion: x.deployment.metadata.resourceVersion ?? "" } : null
    const pod = podFactsFrom(x.pod, x.meta.container, workload)
    // as the runbook does: metrics-server has no sample (404 Status, or no PodMetrics recorded) → the last Prometheus value of the pod
    let ws = x.metrics ? workingSetFrom(x.metrics, pod.container) : { bytes: null }
    if (ws.bytes === null && x.memory) {
      const mine = x.memory.filter((s) => s.labels["pod"] === pod.pod).flatMap((s) => s.points).sort((a, b) => a[0] - b[0])
      const last = mine[mine.length - 1]
      ws = { bytes: last ? last[1] : null }
    }
    const workingSet = ws.bytes === null && x.metrics === undefined
      ? notRecorded("metrics-server working set", "podmetrics.json", ...(x.memory ? [] : ["prometheus-memory.json"]))
      : Fact.known(ws)
    return {
      pod: Fact.known(pod),
      owner: workload ? Fact.known(workload) : notRecorded("owning workload", "deployment.json"),
      runtimeHeap: Fact.known(largest(fromEnv(pod.env))),
      node: x.node ? Fact.known(nodeFactsFrom(x.node)) : pod.node === null ? Fact.known(null) : notRecorded("describe node", "node.json"),
      workingSet,
      trend: x.memory && x.rps
        ? Fact.known(MemoryTrend.trendAt({ workingSet: x.memory, requestRate: x.rps, limitBytes: pod.memoryLimitBytes }, x.meta.now, trend))
        : notRecorded("prometheus memory trend", ...(x.memory ? [] : ["prometheus-memory.json"]), ...(x.rps ? [] : ["prometheus-rps.json"])),
      hpa: workload && x.hpas ? Fact.known(hpaFactsFrom(x.hpas, workload)) : notRecorded("hpa discovery", ...(workload ? [] : ["deployment.json"]), ...(x.hpas ? [] : ["hpas.json"])),
      lastDeploy: x.deployment && x.replicaSets
        ? Fact.known(deployFactsFrom(x.deployment, x.replicaSets, x.meta.now))
        : notRecorded("last deploy", ...(x.deployment ? [] : ["deployment.json"]), ...(x.replicaSets ? [] : ["replicasets.json"])),
      oomMarkers: Fact.known(markersIn(x.log))
    }
  })

/** The workload a fixture's pod belongs to: the recorded Deployment, else what the pod's metadata names, else the pod. */
const ownerOf = (x: { readonly pod: Wire.Pod; readonly deployment: Wire.Workload | undefined }): { readonly kind: "Deployment" | "StatefulSet" | "Pod"; readonly name: string } => {
  if (x.deployment) return { kind: "Deployment", name: x.deployment.metadata.name }
  const hint = workloadHint(x.pod)
  return hint && (hint.kind === "Deployment" || hint.kind === "StatefulSet") ? { kind: hint.kind, name: hint.name } : { kind: "Pod", name: x.pod.metadata.name }
}

/** The OOMKilled signal a fixture's pod would have raised (cluster `fixture`). */
export const signal = (dir: string): Effect.Effect<Signal.Signal, FixtureError> =>
  Effect.flatMap(load(dir), (x) => Effect.try({ try: () => {
    const cs = x.pod.status?.containerStatuses?.find((c) => c.name === x.meta.container)
    const t = cs?.lastState?.terminated
    return {
      type: "k8s.pod.oom_killed",
      target: Targets.workload({ cluster: "fixture", namespace: x.pod.metadata.namespace ?? "default", ...ownerOf(x), container: x.meta.container }),
      observedAt: x.meta.now,
      source: "fixture",
      evidence: {
        namespace: x.pod.metadata.namespace ?? "default",
        pod: x.pod.metadata.name,
        container: x.meta.container,
        node: x.pod.spec.nodeName ?? null,
        reason: t?.reason ?? null,
        exitCode: t?.exitCode ?? null,
        finishedAt: t?.finishedAt ?? null,
        restartCount: cs?.restartCount ?? 0
      }
    }
    // a name the API would never hold (empty, not a DNS name) fails naming the file, not the caller
  }, catch: (e) => new FixtureError({ file: path.join(dir, "pod.json"), path: ["metadata"], message: `not a workload target: ${(e as Error).message}` }) }))
