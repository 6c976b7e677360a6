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
 * A malformed file fails with the core testing kit's `FixtureError`, naming the file and the bad
 * field's path. Every fact is Known; a test makes one Unknown by replacing it.
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
import { podFactsFrom } from "./podFacts"
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

/** The raw, decoded files of a fixture directory. */
export const load = (dir: string) =>
  Effect.gen(function*() {
    const f = (name: string) => path.join(dir, name)
    const pod = yield* loadFixture(Wire.Pod, f("pod.json"))
    const node = yield* loadFixture(Wire.Node, f("node.json"))
    const deployment = yield* loadFixture(Wire.Workload, f("deployment.json"))
    const replicaSets = yield* loadFixture(Wire.List(Wire.ReplicaSet), f("replicasets.json"))
    const hpas = yield* loadFixture(Wire.List(Wire.Hpa), f("hpas.json"))
    const metrics = yield* loadFixture(MetricsOrStatus, f("podmetrics.json"))
    const memory = yield* Effect.flatMap(loadFixture(QueryResponse, f("prometheus-memory.json")), (r) => seriesOf(f("prometheus-memory.json"), r))
    const rps = yield* Effect.flatMap(loadFixture(QueryResponse, f("prometheus-rps.json")), (r) => seriesOf(f("prometheus-rps.json"), r))
    const meta = yield* loadFixture(Meta, f("meta.json"))
    const log = fs.existsSync(f("previous.log")) ? fs.readFileSync(f("previous.log"), "utf8") : ""
    return { pod, node, deployment, replicaSets: replicaSets.items, hpas: hpas.items, metrics: "containers" in metrics ? metrics : undefined, memory, rps, meta, log }
  })

/** Decodes a fixture directory into Facts (all Known). */
export const decode = (dir: string, trend: MemoryTrend.TrendSettings = MemoryTrend.defaults): Effect.Effect<Fact.Facts<OomFacts>, FixtureError> =>
  Effect.map(load(dir), (x) => {
    const workload = { kind: "Deployment", name: x.deployment.metadata.name, resourceVersion: x.deployment.metadata.resourceVersion ?? "" }
    const pod = podFactsFrom(x.pod, x.meta.container, workload)
    let ws = workingSetFrom(x.metrics, pod.container)
    if (ws.bytes === null) {
      // as the runbook does: metrics-server has no sample in back-off → the last Prometheus value of the pod
      const mine = x.memory.filter((s) => s.labels["pod"] === pod.pod).flatMap((s) => s.points).sort((a, b) => a[0] - b[0])
      const last = mine[mine.length - 1]
      ws = { bytes: last ? last[1] : null }
    }
    return {
      pod: Fact.known(pod),
      runtimeHeap: Fact.known(largest(fromEnv(pod.env))),
      node: Fact.known(nodeFactsFrom(x.node)),
      workingSet: Fact.known(ws),
      trend: Fact.known(MemoryTrend.trendFrom({ workingSet: x.memory, requestRate: x.rps }, trend)),
      hpa: Fact.known(hpaFactsFrom(x.hpas, workload)),
      lastDeploy: Fact.known(deployFactsFrom(x.deployment, x.replicaSets, x.meta.now)),
      oomMarkers: Fact.known(markersIn(x.log))
    }
  })

/** The OOMKilled signal a fixture's pod would have raised (cluster `fixture`). */
export const signal = (dir: string): Effect.Effect<Signal.Signal, FixtureError> =>
  Effect.map(load(dir), (x) => {
    const cs = x.pod.status?.containerStatuses?.find((c) => c.name === x.meta.container)
    const t = cs?.lastState?.terminated
    return {
      type: "k8s.pod.oom_killed",
      target: Targets.workload({ cluster: "fixture", namespace: x.pod.metadata.namespace ?? "default", kind: "Deployment", name: x.deployment.metadata.name, container: x.meta.container }),
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
  })
