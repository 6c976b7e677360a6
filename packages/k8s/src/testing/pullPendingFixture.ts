/**
 * Recorded fixtures of k8s.image-pull and k8s.pending → their facts, through the same pure
 * functions the live probes use (`ImagePullClassifier.factsFrom`, `PendingClassifier.factsFrom`).
 * A fixture is a directory of what `kubectl` prints:
 *
 * | file | content | command |
 * |---|---|---|
 * | `meta.json` | `{ runbook, container, now, signal }` (required) | |
 * | `pod.json` | the Pod (required) | `kubectl get pod <p> -o json` |
 * | `events.json` | the pod's Events (either API) | `kubectl get events --field-selector involvedObject.name=<p> -o json` |
 * | `nodes.json` | the Nodes | `kubectl get nodes -o json` |
 * | `pods.json` | every pod (their requests, nodes and images) | `kubectl get pods -A -o json` |
 * | `replicasets.json` | the namespace's ReplicaSets | `kubectl get rs -o json` |
 * | `deployment.json` | the pod's Deployment (absent for other owners) | `kubectl get deploy <d> -o json` |
 * | `secrets.json` | image-pull: the offered pull secrets, credential values replaced by `REDACTED` (the `auths` keys kept); pending: the referenced Secrets' metadata | `kubectl get secret <s> -o json` |
 * | `serviceaccount.json` | image-pull: the pod's ServiceAccount | `kubectl get sa <sa> -o json` |
 * | `pvcs.json`, `configmaps.json` | pending: the namespace's claims and ConfigMaps (metadata) | `kubectl get pvc,cm -o json` |
 *
 * A malformed file fails with core's `FixtureError` naming the file and the field's path. The
 * shipped ones are under `fixtures/pullpending/<name>` (recorded from kube-sim by
 * `fixtures/record-pullpending.ts`), one per class and the near misses.
 *
 * @example
 * ```ts
 * import { PullPendingFixture } from "@byteport/k8s/testing"
 * const facts = yield* PullPendingFixture.decodePending("fixtures/pullpending/pending_resource_exhaustion")
 * ```
 *
 * @since 0.3.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Fact, Signal } from "@byteport/core"
import { decodeFixture, FixtureError, parseFixture } from "@byteport/core/testing"
import { Effect, Schema } from "effect"
import * as ImagePullClassifier from "../classifiers/imagePull"
import * as PendingClassifier from "../classifiers/pending"
import * as PodEvents from "../probes/events"
import type * as Fit from "../probes/fit"
import type * as LastDeploy from "../probes/lastDeploy"
import * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"
import * as Recorded from "./Recorded"

const Str = Schema.String
const opt = Schema.optionalKey

/** `meta.json`. */
export const Meta = Schema.Struct({
  runbook: Schema.Literals(["k8s.image-pull", "k8s.pending"]),
  container: Schema.NullOr(Str),
  now: Schema.Number,
  signal: Schema.Struct({ type: Str, target: Schema.Struct({ kind: Str, ref: Str }), observedAt: Schema.Number, evidence: Schema.Record(Str, Schema.Unknown) })
})

const Secret = Schema.Struct({ metadata: Wire.ObjectMeta, type: opt(Str), data: opt(Schema.Record(Str, Str)) })
const ServiceAccount = Schema.Struct({ metadata: Wire.ObjectMeta, imagePullSecrets: opt(Schema.Array(Schema.Struct({ name: opt(Str) }))) })
const Claim = Schema.Struct({ metadata: Wire.ObjectMeta, spec: opt(Schema.Struct({ storageClassName: opt(Schema.NullOr(Str)) })), status: opt(Schema.Struct({ phase: opt(Str) })) })
const Named = Schema.Struct({ metadata: Wire.ObjectMeta })

/** A decoded file: validated against its schema, the raw JSON kept (fields the schema does not name included). */
const read = <A>(dir: string, file: string, schema: Schema.Codec<A, unknown>, required: boolean): Effect.Effect<unknown, FixtureError> =>
  Effect.gen(function*() {
    const f = path.join(dir, file)
    if (!fs.existsSync(f)) {
      if (!required) return undefined
      return yield* Effect.fail(new FixtureError({ file: f, path: [], message: `${f}: missing (required)` }))
    }
    const raw = yield* parseFixture(f, fs.readFileSync(f, "utf8"))
    yield* decodeFixture(schema, f, raw)
    return raw
  })

const list = <S extends Schema.Top>(item: S) => Wire.List(item) as unknown as Schema.Codec<unknown, unknown>
const items = (x: unknown): ReadonlyArray<unknown> => ((x as { items?: ReadonlyArray<unknown> } | undefined)?.items ?? [])

/** The common files of a fixture. */
export const load = (dir: string) =>
  Effect.gen(function*() {
    const meta = (yield* read(dir, "meta.json", Meta as unknown as Schema.Codec<unknown, unknown>, true)) as typeof Meta.Type
    const pod = yield* read(dir, "pod.json", PodWire.Pod as unknown as Schema.Codec<unknown, unknown>, true)
    const events = yield* read(dir, "events.json", list(PodEvents.AnyEvent), false)
    const decodedEvents = PodEvents.chronological(items(events).map((e) => PodEvents.normalize(Schema.decodeUnknownSync(PodEvents.AnyEvent)(e))))
    return {
      meta,
      pod,
      events: decodedEvents,
      nodes: items(yield* read(dir, "nodes.json", list(Wire.Node), false)),
      pods: items(yield* read(dir, "pods.json", list(PodWire.Pod), false)),
      replicaSets: items(yield* read(dir, "replicasets.json", list(Wire.ReplicaSet), false)),
      deployment: (yield* read(dir, "deployment.json", Wire.Workload as unknown as Schema.Codec<unknown, unknown>, false)) ?? null,
      secrets: items(yield* read(dir, "secrets.json", list(Secret), false)) as ReadonlyArray<typeof Secret.Type>,
      serviceAccount: (yield* read(dir, "serviceaccount.json", ServiceAccount as unknown as Schema.Codec<unknown, unknown>, false)) as typeof ServiceAccount.Type | undefined,
      claims: items(yield* read(dir, "pvcs.json", list(Claim), false)),
      configMaps: items(yield* read(dir, "configmaps.json", list(Named), false)) as ReadonlyArray<typeof Named.Type>
    }
  })

/** The signal the runbook received when the fixture was recorded. */
export const signal = (dir: string): Effect.Effect<Signal.Signal, FixtureError> => Effect.map(load(dir), (x) => x.meta.signal as Signal.Signal)

/** An image-pull fixture → `ImagePullFacts`. */
export const decodeImagePull = (dir: string): Effect.Effect<Fact.Facts<ImagePullClassifier.ImagePullFacts>, FixtureError> =>
  Effect.map(load(dir), (x) => {
    const pod = x.pod as ImagePullClassifier.ObjPod
    const offered = ImagePullClassifier.offeredSecretNames(pod, x.serviceAccount ?? null)
    const secrets = new Map(offered.names.map((n) => {
      const s = x.secrets.find((y) => y.metadata.name === n)
      return [n, s ? { type: s.type, data: s.data } : null] as const
    }))
    return ImagePullClassifier.factsFrom({
      pod,
      container: x.meta.container ?? pod.spec.containers[0]?.name ?? "",
      events: x.events,
      secrets,
      serviceAccount: x.serviceAccount ?? null,
      deployment: x.deployment as LastDeploy.HistoryDeployment | null,
      replicaSets: x.replicaSets as ReadonlyArray<LastDeploy.HistoryReplicaSet>,
      pods: (x.pods.length > 0 ? x.pods : [x.pod]) as ReadonlyArray<ImagePullClassifier.ObjPod>,
      nodes: x.nodes.length
    })
  })

/** A pending fixture → `PendingFacts`. */
export const decodePending = (dir: string): Effect.Effect<Fact.Facts<PendingClassifier.PendingFacts>, FixtureError> =>
  Effect.map(load(dir), (x) =>
    PendingClassifier.factsFrom({
      pod: x.pod,
      events: x.events,
      nodes: x.nodes as ReadonlyArray<Fit.FitNode>,
      pods: x.pods.filter((p) => (p as { spec?: { nodeName?: string } }).spec?.nodeName),
      claims: x.claims,
      configMaps: x.configMaps.map((c) => c.metadata.name),
      secrets: x.secrets.map((c) => c.metadata.name),
      deployment: x.deployment,
      replicaSets: x.replicaSets
    }))

/** The family directory of these fixtures (`fixtures/pullpending`). */
export const FAMILY = "pullpending"

/** The names of the shipped fixtures. */
export const names = (): ReadonlyArray<string> => Recorded.names(FAMILY)

/** The directory of a shipped fixture; an unknown name fails with `UnknownFixture`. */
export const recorded = (name: string): Effect.Effect<string, Recorded.UnknownFixture> => Recorded.resolve(FAMILY, name)
