/**
 * Issue 9 item 10 (k8s.oom.six-signal): the replay corpus. Every incident under
 * `fixtures/corpus/oom/<name>/` is a recorded-shape incident NOT made by kube-sim's recorder
 * (kubectl/Prometheus shapes from real clusters, sources in its meta.json). Each replays:
 *
 * 1. **decode → classify → plan** (`OomFixture.decode`, the runbook's classifier, the
 *    remediator): the expected class, 100%; no action the seed forbids for that class (the plan's
 *    action kinds), the required ones present; Unclassified / Indeterminate plan nothing.
 * 2. **detector → diagnose → classify → plan** through the real client: the recording loads
 *    verbatim into kube-sim (`KubeSim.start({ recording })`, the clock at the capture time, the
 *    previous log appended as the container's previous log, the PodMetrics served as
 *    metrics-server would), Prometheus answers with the recorded `query_range` series; the
 *    runbook's own detector must raise the expected signal (or none), and `Runbook.handle` in
 *    dry_run must classify it as expected and plan nothing forbidden.
 */
import { assert, describe, it } from "@effect/vitest"
import { ActionRegistry, type Classification, Fact, IncidentBus, MemoryStore, Notifier, type Plan, Runbook, type Signal } from "@byteport/core"
import { Duration, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { Keys, KubeSim } from "../../../kube-sim/src/index"
import type { KubeSimInstance } from "../../../kube-sim/src/index"
import * as OomActions from "../../src/actions/oom"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import * as OomClassifier from "../../src/classifiers/oom"
import { SignalTypes } from "../../src/detectors/signals"
import * as EventRecorder from "../../src/events/EventRecorder"
import * as Kube from "../../src/Kube"
import * as Metrics from "../../src/metrics/Metrics"
import type * as Prometheus from "../../src/metrics/Prometheus"
import * as MemoryTrend from "../../src/probes/memoryTrend"
import * as OomFixture from "../../src/probes/oomFixture"
import * as Remediator from "../../src/remediators/oom"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { incidents, type Expect } from "./corpus"

const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

/** Every action kind a plan contains (any branch: a fallback's alternative counts). */
export const actionKinds = (plan: Plan.Plan): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk)
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>
      if (o["_tag"] === "Act" && o["action"] && typeof o["action"] === "object") out.push(String((o["action"] as Record<string, unknown>)["kind"]))
      for (const x of Object.values(o)) walk(x)
    }
  }
  walk(plan)
  return out
}

const checkPlan = (name: string, expect: Expect, kinds: ReadonlyArray<string>) => {
  for (const k of expect.forbidden) assert.notInclude(kinds, k, `${name}: the plan must not contain ${k} (${kinds.join(", ")})`)
  for (const k of expect.required ?? []) assert.include(kinds, k, `${name}: the plan must contain ${k}`)
}

/**
 * The trend the runbook's live probe (`MemoryTrend.probe`) reads at the recording's capture time:
 * the recorded series served as Prometheus would answer each of its windows.
 */
const probedTrend = (dir: string, now: number) =>
  Effect.gen(function*() {
    const facts = yield* OomFixture.decode(dir)
    const pod = Fact.value(facts.pod)
    if (!pod) return undefined
    const workload = (readJson(dir, "pod.json")!["metadata"]["labels"]?.["app"] as string | undefined) ?? pod.pod
    yield* TestClock.setTime(now)
    return yield* MemoryTrend.probe({ namespace: pod.namespace, workload, container: pod.container, limitBytes: pod.memoryLimitBytes }).pipe(
      Effect.provide(Layer.succeed(Metrics.Metrics, recordedMetrics(dir))),
      Effect.option
    )
  })

describe("k8s.oom.six-signal replay corpus: decode → classify → plan", () => {
  it("has at least 12 incidents, none from kube-sim's recorder, each with sources, every class and both outcomes of escalation", () => {
    assert.isAtLeast(incidents.length, 12)
    for (const x of incidents) {
      assert.isAtLeast(x.meta.source.length, 1, `${x.name}: sources`)
      // kube-sim's recorder leaves its marks (behaviour annotations, kube-sim:// provider ids, sim.* instance types)
      for (const f of fs.readdirSync(x.dir).filter((f) => f.endsWith(".json"))) {
        const text = fs.readFileSync(path.join(x.dir, f), "utf8")
        assert.notMatch(text, /kube-sim|sim\.large|byteport\.io\/behavior/, `${x.name}/${f} must not come from kube-sim`)
      }
    }
    const expected = new Set(incidents.map((x) => x.meta.expect.class))
    for (const c of [...OomClassifier.classes, "Unclassified", "Indeterminate"]) assert.isTrue(expected.has(c), `no incident of ${c}`)
  })

  for (const x of incidents) {
    it.effect(`${x.name} → ${x.meta.expect.class}`, () =>
      Effect.gen(function*() {
        const facts = yield* OomFixture.decode(x.dir)
        const c = OomClassifier.classify()(facts)
        assert.strictEqual(classOf(c), x.meta.expect.class, JSON.stringify({ c, trend: Fact.value(facts.trend), ws: Fact.value(facts.workingSet), unknown: Fact.unknownKeys(facts) }))
        if (c._tag !== "Classified") {
          // the runbook plans nothing for Unclassified / Indeterminate: it escalates
          checkPlan(x.name, { ...x.meta.expect, required: [] }, [])
          return
        }
        const plan = Remediator.plan(c, facts, yield* OomFixture.signal(x.dir))
        checkPlan(x.name, x.meta.expect, actionKinds(plan))
        if (x.meta.expect.escalates) assert.deepStrictEqual(actionKinds(plan), [], `${x.name}: escalation only`)
      }))
  }

  // OomFixture.decode and the runbook's live probe decide the trend on one path
  // (MemoryTrend.widening: 60 min widened ×4 to 24 h, the first window that decides): on every
  // recorded series — the corpus and the stock fixtures — they give the same trend facts, and so
  // the same class. Any divergence fails here.
  const recordings = [
    ...incidents.map((x) => ({ name: `corpus/${x.name}`, dir: x.dir })),
    ...OomFixture.names().map((n) => ({ name: `fixtures/${n}`, dir: path.join(import.meta.dirname, "../../fixtures/oom", n) }))
  ]
  it.effect("OomFixture.decode and the live trend probe agree on every recorded series (corpus + fixtures)", () =>
    Effect.gen(function*() {
      let compared = 0
      for (const r of recordings) {
        const now = (readJson(r.dir, "meta.json")!["now"]) as number
        const decoded = yield* OomFixture.decode(r.dir)
        const probed = yield* probedTrend(r.dir, now)
        if (decoded.trend._tag === "Unknown") {
          // not recorded: the probe's queries fail as an unreachable Prometheus does → Unknown on both paths
          assert.isTrue(probed === undefined || probed._tag === "None", `${r.name}: the probe reads no trend either`)
          continue
        }
        assert.isTrue(probed !== undefined && probed._tag === "Some", `${r.name}: the probe reads the trend`)
        const trend = (probed as { readonly value: OomClassifier.TrendFacts }).value
        assert.deepStrictEqual(decoded.trend.value, trend, `${r.name}: decode and the probe read the same trend`)
        assert.strictEqual(classOf(OomClassifier.classify()(decoded)), classOf(OomClassifier.classify()({ ...decoded, trend: Fact.known(trend) })), `${r.name}: same class`)
        compared++
      }
      assert.isAtLeast(compared, 35)
    }))
})

// ---------------------------------------------------------------- replay through the real client

type Json = Record<string, any>
const readJson = (dir: string, f: string): Json | undefined => (fs.existsSync(path.join(dir, f)) ? JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) : undefined)

/** The recording as one `kubectl get … -o json` List: pod, node, deployment, ReplicaSets, HPAs (whatever was recorded). */
const recordingOf = (dir: string) => {
  const items: Array<Json> = []
  for (const f of ["pod.json", "node.json", "deployment.json"]) {
    const o = readJson(dir, f)
    if (o) items.push(o)
  }
  for (const f of ["replicasets.json", "hpas.json"]) items.push(...(readJson(dir, f)?.["items"] ?? []))
  return { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items }
}

/** metrics.k8s.io as metrics-server answers for the recording: the recorded PodMetrics, else none (404 / empty list). */
const metricsServerRoute = (dir: string) => {
  const pm = readJson(dir, "podmetrics.json")
  const item = pm && pm["kind"] === "PodMetrics" ? pm : undefined
  return (req: { readonly method?: string | undefined }, res: { writeHead: (s: number, h: Record<string, string>) => void; end: (b: string) => void }, url: URL): boolean => {
    if (!url.pathname.startsWith("/apis/metrics.k8s.io/v1beta1/")) return false
    const one = /\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname)
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    if (one) {
      if (item && item["metadata"]["namespace"] === one[1] && item["metadata"]["name"] === one[2]) send(200, item)
      else send(404, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "NotFound", code: 404, message: `pods.metrics.k8s.io "${one[1]}/${one[2]}" not found` })
      return true
    }
    const ns = /\/namespaces\/([^/]+)\/pods$/.exec(url.pathname)?.[1]
    if (url.pathname.endsWith("/pods")) {
      send(200, { kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items: item && (!ns || item["metadata"]["namespace"] === ns) ? [item] : [] })
      return true
    }
    if (url.pathname.endsWith("/nodes")) {
      send(200, { kind: "NodeMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items: [] })
      return true
    }
    void req
    return false
  }
}

/**
 * Prometheus answering from the recorded `query_range` files: the points of each recorded series
 * inside the asked range, at the recorded step (a recording coarser than the asked step is what a
 * downsampled store answers), thinned to the asked step when that is coarser. Not recorded → the
 * query fails as an unreachable Prometheus does.
 */
const recordedMetrics = (dir: string): Metrics.MetricsShape => {
  const load = (f: string) => {
    const r = readJson(dir, f)
    return r ? (r["data"]["result"] as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>) : undefined
  }
  const memory = load("prometheus-memory.json")
  const rps = load("prometheus-rps.json")
  // the recorded samples as Prometheus answers a range: MemoryTrend's own slicing (what decode uses)
  const seriesOf = (values: Array<[number, string]>): ReadonlyArray<readonly [number, number]> => values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as const)
  const inRange = (values: Array<[number, string]>, range: Prometheus.Range) => MemoryTrend.pointsIn(seriesOf(values), range)
  const unreachable = (what: string) => Effect.fail(new Metrics.MetricsUnsupported({ source: "recording", operation: what, message: `${what}: not recorded (Prometheus was not reachable when the incident was recorded)` }))
  return {
    source: "prometheus",
    workingSet: () => unreachable("working set"),
    nodeUsage: () => unreachable("node usage"),
    memorySeries: (selector, range) => {
      if (!memory) return unreachable("memory series") as never
      const match = (pod: string | undefined) => pod !== undefined && (selector.pod !== undefined ? pod === selector.pod : selector.podPrefix !== undefined ? pod.startsWith(selector.podPrefix) : true)
      // max by (pod, container): recorded raw cAdvisor series (one per container id) merge per pod
      const mine = memory.filter((s) => match(s.metric["pod"])).map((s): Prometheus.Series => ({ labels: s.metric, points: seriesOf(s.values) }))
      return Effect.succeed(MemoryTrend.workingSetIn(mine, range, selector.container))
    },
    requestRate: (_w, range) => {
      if (!rps) return unreachable("request rate") as never
      return Effect.succeed({ labels: {}, points: rps[0] ? inRange(rps[0].values, range) : [] })
    }
  } as Metrics.MetricsShape
}

const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

/** Runs `effect` while the TestClock advances 1 s per `settleMs` of real time (real I/O settles in between); None after `maxSeconds` virtual seconds. */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>, maxSeconds: number, settleMs = 15) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < maxSeconds; i++) {
      yield* realDelay(settleMs)
      if (fiber.pollUnsafe() !== undefined) return { done: true as const, value: yield* Fiber.join(fiber) }
      yield* TestClock.adjust("1 second")
    }
    yield* Fiber.interrupt(fiber)
    return { done: false as const }
  })

const ALL_SIGNALS = [SignalTypes.oomKilled, SignalTypes.memoryPressure, SignalTypes.runtimeOomMarker, SignalTypes.restartGrowth, SignalTypes.workingSetHigh]

describe("k8s.oom.six-signal replay corpus: detector → diagnose → classify → plan (kube-sim load path, recorded Prometheus)", () => {
  for (const x of incidents) {
    it.effect(`${x.name}: ${x.meta.expect.signal ?? `no OOM signal${x.meta.expect.afterRestart ? `, then ${x.meta.expect.afterRestart}` : ""}`} → ${x.meta.expect.class}`, () =>
      Effect.gen(function*() {
        const pod = readJson(x.dir, "pod.json")!
        const ns = pod["metadata"]["namespace"] as string
        const name = pod["metadata"]["name"] as string
        const sim: KubeSimInstance = yield* Effect.acquireRelease(
          Effect.promise(() => KubeSim.start({ seed: 1, now: () => x.meta.now, recording: { objects: recordingOf(x.dir) as never, capturedAt: x.meta.now }, extraRoutes: [metricsServerRoute(x.dir) as never] })),
          (s) => Effect.promise(() => s.close())
        )
        // what `kubectl logs --previous` printed, as the container's previous log
        const log = fs.existsSync(path.join(x.dir, "previous.log")) ? fs.readFileSync(path.join(x.dir, "previous.log"), "utf8") : ""
        if (log) {
          for (const line of log.replace(/\n$/, "").split("\n")) sim.logs.append(ns, name, x.meta.container, line)
          sim.logs.rotate(ns, name, x.meta.container)
        }
        const kube = Layer.orDie(Kube.layerFromString(sim.kubeconfig(), { requestTimeout: "30 seconds" }))
        const cluster = Layer.mergeAll(kube, Layer.succeed(Metrics.Metrics, recordedMetrics(x.dir)), EventRecorder.layer({ instance: "byteport-corpus" }).pipe(Layer.provide(kube)))
        const registry = ActionRegistry.layer({ handlers: OomActions.handlers() }).pipe(Layer.provide(Layer.mergeAll(cluster, HeapProfiler.unavailable("no heap profiler in a replay"))))
        const services = Layer.mergeAll(cluster, registry, MemoryStore.layer, IncidentBus.layer(), Notifier.memory)
        yield* TestClock.setTime(x.meta.now)
        const runbook = OomRunbook.make()

        // detect: the runbook's own detector on the loaded recording
        const want = x.meta.expect.signal
        const seen: Array<Signal.Signal> = []
        const detect = Stream.runForEach(runbook.detector!.signals, (sig) =>
          Effect.sync(() => {
            seen.push(sig as Signal.Signal)
          })).pipe(Effect.andThen(Effect.never))
        const after = x.meta.expect.afterRestart
        const untilSeen = Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(detect)
          if (want) {
            while (!seen.some((s) => s.type === want)) yield* Effect.sleep("1 second")
          } else {
            // the recording alone: once the detectors have read it (the pods, and the previous log of a
            // termination the marker detector examines), nothing for 10 s more
            const t = pod["status"]["containerStatuses"]?.find((c: Json) => c["name"] === x.meta.container)?.["lastState"]?.["terminated"]
            const examined = t && t["reason"] !== "OOMKilled" && t["reason"] !== "ContainerStatusUnknown" && t["exitCode"] !== 0
            const read = () => sim.recorder.requests().some((q) => q.method === "GET" && (examined ? q.path.endsWith("/log") : /\/pods$/.test(q.path)))
            while (!read()) yield* Effect.sleep("1 second")
            yield* Effect.sleep("10 seconds")
            assert.deepStrictEqual(seen.filter((s) => ALL_SIGNALS.includes(s.type as never)).map((s) => s.type), [], `${x.name}: no OOM signal from the recording`)
            if (after) {
              // the container's next restart, the same way (exit 137, reason Error): the restart-growth detector routes it here
              sim.store.mutate(Keys.pods, ns, name, (p: any) => {
                const cs = p.status.containerStatuses[0]
                cs.restartCount += 1
                cs.lastState = { terminated: { ...cs.lastState.terminated, startedAt: new Date(x.meta.now - 200_000).toISOString(), finishedAt: new Date(x.meta.now).toISOString() } }
              })
              while (!seen.some((s) => s.type === after)) yield* Effect.sleep("1 second")
            }
          }
          yield* Fiber.interrupt(fiber)
        })
        const detected = yield* drive(untilSeen.pipe(Effect.provide(cluster)), 120)
        assert.isTrue(detected.done, `${x.name}: expected ${want ?? after ?? "nothing"}, saw ${JSON.stringify(seen.map((s) => s.type))}`)
        const served = sim.recorder.requests()
        assert.isTrue(served.some((r) => r.path.includes("/pods") && r.method === "GET"), `${x.name}: the detector read the pods`)
        let signal: Signal.Signal
        const hit = seen.find((s) => s.type === (want ?? after))
        if (want ?? after) {
          assert.isDefined(hit, `${x.name}: expected ${want ?? after}, saw ${JSON.stringify(seen.map((s) => s.type))}`)
          signal = hit!
        } else {
          // nothing raises an incident: as if an operator handed the pod in, it is still diagnosed right (never acted on)
          signal = yield* OomFixture.signal(x.dir)
        }

        // diagnose → classify → plan, as the engine runs them (dry_run: nothing is changed)
        const report: any = (yield* drive(Runbook.handle(runbook, signal, { mode: "dry_run" }).pipe(Effect.provide(services)), 600)) as any
        assert.isTrue(report.done, `${x.name}: the incident finished`)
        const r = report.value
        const got = r.classification ? (r.classification._tag === "Classified" ? r.classification.class : r.classification._tag) : "none"
        assert.strictEqual(got, x.meta.expect.class, JSON.stringify({ status: r.status, classification: r.classification, facts: r.facts }).slice(0, 3000))
        const kinds = r.plan ? actionKinds(r.plan) : []
        checkPlan(x.name, x.meta.expect, kinds)
        if (x.meta.expect.escalates || r.classification?._tag !== "Classified") {
          assert.deepStrictEqual(kinds, [], `${x.name}: escalation only`)
          // Unclassified / Indeterminate escalate without a plan; a class whose plan is an escalation (owner unknown) plans one
          assert.isTrue(r.escalation !== undefined || JSON.stringify(r.plan ?? {}).includes('"_tag":"Escalate"'), `${x.name}: escalated`)
        }
        // a replay never changes the recorded cluster
        assert.deepStrictEqual(sim.recorder.requests().filter((q) => q.method !== "GET" && !q.watch && !q.dryRun && !q.path.includes("/events")).map((q) => `${q.method} ${q.path}`), [])
      }).pipe(Effect.scoped), 120_000)
  }
})
