/**
 * Recorded k8s.crashloop.seven-class fixtures → the runbook's facts and signal, through the same
 * pure function the live diagnoser uses (`CrashloopSevenClass.factsFrom`). A fixture is a
 * directory of what `kubectl` prints:
 *
 * | file | content | command |
 * |---|---|---|
 * | `pod.json`, `events.json`, `previous.log`, `nodes.json`, `replicasets.json` | as `PodFixture` | |
 * | `meta.json` | `{ container, now, signal }` (required) | |
 * | `deployment.json` | the owning Deployment (absent: a bare pod or another owner) | `kubectl get deploy <d> -o json` |
 * | `pods.json` | the namespace's pods (a List) | `kubectl get pods -o json` |
 * | `configmaps.json` | the namespace's ConfigMaps (a List) | `kubectl get cm -o json` |
 * | `secrets.txt` | Secret names only (`secret/<name>` per line) | `kubectl get secrets -o name` |
 *
 * A malformed file fails with core's `FixtureError` naming the file and the field's path. The
 * shipped ones are under `fixtures/sevenclass/<class>` (`recorded(name)`, `names()`).
 *
 * @since 0.4.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Fact, type Signal } from "@byteport/core"
import { type FixtureError, loadFixture } from "@byteport/core/testing"
import { Effect, Schema } from "effect"
import type { SevenClassFacts } from "../classifiers/sevenClass"
import type * as LastDeploy from "../probes/lastDeploy"
import type * as RolloutFacts from "../probes/rolloutFacts"
import * as Wire from "../probes/wire"
import * as Quantity from "../Quantity"
import type { RestartLoopFacts } from "../classifiers/restartLoop"
import type * as PodWire from "../probes/podWire"
import { factsFrom } from "../runbooks/k8s.crashloop.seven-class"
import { siblingsOf } from "../runbooks/k8s.restart-loop.container"
import * as PodFixture from "./podFixture"
import * as Recorded from "./Recorded"

/** The family directory (`fixtures/sevenclass`). */
export const FAMILY = "sevenclass"

/** The family directory of the k8s.restart-loop.container fixtures (`fixtures/restartloop`). */
export const RESTART_LOOP = "restartloop"

/** The names of the shipped fixtures (one per class; `restartloop` for k8s.restart-loop.container's). */
export const names = (family: string = FAMILY): ReadonlyArray<string> => Recorded.names(family)

/** The directory of a shipped fixture; an unknown name fails with `UnknownFixture`. */
export const recorded = (name: string, family: string = FAMILY): Effect.Effect<string, Recorded.UnknownFixture> => Recorded.resolve(family, name)

const Named = Schema.Struct({ metadata: Schema.Struct({ name: Schema.String }) })
const SignalJson = Schema.Struct({
  type: Schema.String,
  target: Schema.Struct({ kind: Schema.String, ref: Schema.String }),
  observedAt: Schema.Number,
  evidence: Schema.Record(Schema.String, Schema.Unknown)
})
const Meta = Schema.Struct({ container: Schema.String, now: Schema.Number, signal: SignalJson })
const Deployment = Schema.Struct({
  metadata: Schema.Struct({ name: Schema.String, namespace: Schema.optionalKey(Schema.String), resourceVersion: Schema.String, uid: Schema.optionalKey(Schema.String) }),
  spec: Schema.Struct({ paused: Schema.optionalKey(Schema.Boolean) })
})

const nodeFacts = (name: string, n: Wire.Node | undefined) => ({
  name,
  pressure: (n?.status?.conditions ?? []).filter((c) => ["MemoryPressure", "DiskPressure", "PIDPressure"].includes(c.type) && c.status === "True").map((c) => c.type),
  allocatableMemoryBytes: Quantity.parse(n?.status?.allocatable?.["memory"] as string | number | undefined) ?? null
})

const codec = <A>(s: Schema.Top): Schema.Codec<A, unknown> => s as unknown as Schema.Codec<A, unknown>

/** The facts and the signal of a fixture directory. */
export const decode = (dir: string): Effect.Effect<{ readonly facts: Fact.Facts<SevenClassFacts>; readonly signal: Signal.Signal }, FixtureError> =>
  Effect.gen(function*() {
    const f = (n: string) => path.join(dir, n)
    const base = yield* PodFixture.load(dir)
    const meta = yield* loadFixture(codec<typeof Meta.Type>(Meta), f("meta.json"))
    const has = (n: string) => fs.existsSync(f(n))
    const deployment = has("deployment.json") ? yield* loadFixture(codec<typeof Deployment.Type>(Deployment), f("deployment.json")) : undefined
    const rawDeployment = has("deployment.json") ? JSON.parse(fs.readFileSync(f("deployment.json"), "utf8")) as RolloutFacts.DeploymentObject : undefined
    const pods = has("pods.json") ? (yield* loadFixture(codec<{ items: ReadonlyArray<unknown> }>(Wire.List(Schema.Unknown)), f("pods.json"))).items : undefined
    const cms = has("configmaps.json") ? (yield* loadFixture(codec<{ items: ReadonlyArray<typeof Named.Type> }>(Wire.List(Named)), f("configmaps.json"))).items : undefined
    const secrets = has("secrets.txt") ? fs.readFileSync(f("secrets.txt"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l.startsWith("secret/")).map((l) => l.slice(7)) : undefined
    const ns = base.pod.metadata.namespace ?? "default"
    const owner = deployment
      ? Fact.known({ kind: "Deployment", name: deployment.metadata.name, namespace: deployment.metadata.namespace ?? ns, resourceVersion: deployment.metadata.resourceVersion, paused: deployment.spec.paused === true })
      : Fact.known(null)
    // the rollout history reads the ReplicaSets' templates and status: the raw JSON (validated by PodFixture.load)
    const rawReplicaSets = base.replicaSets !== undefined ? (JSON.parse(fs.readFileSync(f("replicasets.json"), "utf8")) as { items: ReadonlyArray<LastDeploy.HistoryReplicaSet> }).items : undefined
    const rollout = rawDeployment && rawReplicaSets !== undefined && pods !== undefined
      ? Fact.known({ deployment: rawDeployment, replicaSets: rawReplicaSets, pods: pods as ReadonlyArray<RolloutFacts.PodObject>, services: [], events: [] })
      : rawDeployment ? Fact.unknown("rollout history", "not recorded: replicasets.json or pods.json missing from the fixture") : Fact.known(null)
    const existing = cms !== undefined && secrets !== undefined
      ? Fact.known(new Set([...cms.map((c) => `ConfigMap/${c.metadata.name}`), ...secrets.map((s) => `Secret/${s}`)]) as ReadonlySet<string>)
      : Fact.unknown("referenced objects", "not recorded: configmaps.json or secrets.txt missing from the fixture")
    const nodeName = base.pod.spec.nodeName
    const node = base.nodes === undefined
      ? Fact.unknown("describe node", "not recorded: nodes.json missing from the fixture")
      : Fact.known(nodeName ? nodeFacts(nodeName, base.nodes.find((n) => n.metadata.name === nodeName)) : null)
    const facts = factsFrom({
      pod: base.pod,
      container: meta.container,
      now: meta.now,
      events: base.events,
      previousLog: PodFixture.previousLogFact(base.previousLog, meta.container),
      owner,
      rollout,
      existing,
      snapshot: Fact.known(false),
      node
    })
    return { facts, signal: { ...meta.signal, target: { kind: meta.signal.target.kind, ref: meta.signal.target.ref }, evidence: meta.signal.evidence as Signal.Signal["evidence"] } as Signal.Signal }
  })

/** The k8s.restart-loop.container facts of a fixture directory: `decode` plus the workload's pods (`pods.json`) and their digests. */
export const decodeRestartLoop = (dir: string): Effect.Effect<{ readonly facts: Fact.Facts<RestartLoopFacts>; readonly signal: Signal.Signal }, FixtureError> =>
  Effect.map(decode(dir), ({ facts, signal }) => {
    const h = Fact.value(facts.history)
    const container = Fact.value(facts.container) ?? ""
    const pods = fs.existsSync(path.join(dir, "pods.json")) ? (JSON.parse(fs.readFileSync(path.join(dir, "pods.json"), "utf8")) as { items: ReadonlyArray<PodWire.Pod> }).items : undefined
    const siblings = pods === undefined
      ? Fact.unknown("workload pods", "not recorded: pods.json missing from the fixture")
      : Fact.known(h ? siblingsOf(pods, h.revisions.map((r) => r.replicaSet), container) : [])
    return { facts: { ...facts, siblings }, signal }
  })
