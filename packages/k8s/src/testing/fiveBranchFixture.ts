/**
 * Recorded k8s.crashloop.five-branch fixtures → the runbook's facts and signal, through the same
 * pure `CrashloopFiveBranch.factsFrom` the live diagnoser uses. A fixture directory holds what
 * `kubectl` prints: the pod-family files (`pod.json`, `events.json`, `previous.log`, `nodes.json`,
 * `replicasets.json`, read by `PodFixture.load`) plus `deployments.json` (`kubectl get deploy -o
 * json`), `services.json` (`kubectl get svc -o json`), `endpointslices.json` (`kubectl get
 * endpointslices -o json`) and `meta.json` (`{ container, now, signal }`). A malformed file fails
 * with core's `FixtureError` naming the file and the field's path.
 *
 * The fixtures shipped with the package, one per class, are under `fixtures/five-branch/<class>`
 * (`recorded(name)`, `names()`), each with its reviewed `plan.golden`.
 *
 * @example
 * ```ts
 * import { FiveBranchFixture } from "@byteport/k8s/testing"
 * const { facts, signal } = yield* FiveBranchFixture.decode(yield* FiveBranchFixture.recorded("oom_at_startup"))
 * ```
 *
 * @since 0.3.0
 */
import * as path from "node:path"
import { type Fact, Signal } from "@byteport/core"
import { FixtureError, loadFixture } from "@byteport/core/testing"
import { Effect, Schema } from "effect"
import type { FiveBranchFacts } from "../classifiers/fiveBranch"
import type * as Dependency from "../probes/dependency"
import type * as LastDeploy from "../probes/lastDeploy"
import * as FiveBranchRunbook from "../runbooks/k8s.crashloop.five-branch"
import * as Targets from "../targets/Targets"
import * as PodFixture from "./podFixture"
import * as Recorded from "./Recorded"

/** The family directory of the five-branch fixtures (`fixtures/five-branch`). */
export const FAMILY = "five-branch"

/** The names of the five-branch fixtures shipped with `@byteport/k8s`. */
export const names = (): ReadonlyArray<string> => Recorded.names(FAMILY)

/** The directory of a shipped five-branch fixture; an unknown name fails with `UnknownFixture`. */
export const recorded = (name: string): Effect.Effect<string, Recorded.UnknownFixture> => Recorded.resolve(FAMILY, name)

const Str = Schema.String
const opt = Schema.optionalKey
const Labels = opt(Schema.NullOr(Schema.Record(Str, Str)))
const Owner = Schema.Struct({ kind: Str, name: Str, uid: opt(Str), controller: opt(Schema.Boolean) })
const Meta = Schema.Struct({ name: Str, namespace: opt(Str), uid: opt(Str), resourceVersion: opt(Str), creationTimestamp: opt(Schema.NullOr(Str)), labels: Labels, annotations: Labels, ownerReferences: opt(Schema.Array(Owner)) })
const Anything = Schema.Record(Str, Schema.Unknown)

/** `deployments.json` / `replicasets.json`: objects with their metadata (the spec is kept as it is). */
export const Objects = Schema.Struct({ items: Schema.Array(Schema.Struct({ metadata: Meta, spec: opt(Anything), status: opt(Anything) })) })

/** `services.json`. */
export const Services = Schema.Struct({
  items: Schema.Array(Schema.Struct({ metadata: Meta, spec: opt(Schema.Struct({ clusterIP: opt(Str), selector: opt(Schema.NullOr(Schema.Record(Str, Str))) })) }))
})

/** `endpointslices.json`. */
export const EndpointSlices = Schema.Struct({
  items: Schema.Array(Schema.Struct({
    metadata: Meta,
    endpoints: opt(Schema.NullOr(Schema.Array(Schema.Struct({ conditions: opt(Schema.NullOr(Schema.Struct({ ready: opt(Schema.NullOr(Schema.Boolean)) }))) }))))
  }))
})

/** `meta.json`. */
const FixtureMeta = Schema.Struct({ container: Str, now: Schema.Number, signal: Signal.Signal })

/** The facts and the signal of a fixture directory. */
export const decode = (dir: string): Effect.Effect<{ readonly facts: Fact.Facts<FiveBranchFacts>; readonly signal: Signal.Signal }, FixtureError> =>
  Effect.gen(function*() {
    const f = (n: string) => path.join(dir, n)
    const base = yield* PodFixture.load(dir)
    const meta = yield* loadFixture(FixtureMeta as unknown as Schema.Codec<typeof FixtureMeta.Type, unknown>, f("meta.json"))
    const deployments = yield* loadFixture(Objects as unknown as Schema.Codec<typeof Objects.Type, unknown>, f("deployments.json"))
    const replicaSets = yield* loadFixture(Objects as unknown as Schema.Codec<typeof Objects.Type, unknown>, f("replicasets.json"))
    const services = yield* loadFixture(Services as unknown as Schema.Codec<typeof Services.Type, unknown>, f("services.json"))
    const slices = yield* loadFixture(EndpointSlices as unknown as Schema.Codec<typeof EndpointSlices.Type, unknown>, f("endpointslices.json"))
    const rsName = base.pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "ReplicaSet")?.name
    const rs = replicaSets.items.find((x) => x.metadata.name === rsName)
    const dName = rs?.metadata.ownerReferences?.find((o) => o.kind === "Deployment")?.name
    const deployment = deployments.items.find((x) => x.metadata.name === dName)
    // a name the API would never hold (empty, not a DNS name) fails the decode naming the file, not the caller
    yield* Effect.try({
      try: () => Targets.pod({ cluster: "fixture", namespace: base.pod.metadata.namespace ?? "default", name: base.pod.metadata.name }),
      catch: (e) => new FixtureError({ file: f("pod.json"), path: ["metadata"], message: `pod.json: not a pod target: ${(e as Error).message}` })
    })
    const previousLog = PodFixture.previousLogFact(base.previousLog, meta.container)
    const facts = FiveBranchRunbook.factsFrom({
      pod: base.pod,
      container: meta.container,
      workload: deployment ? { kind: "Deployment", name: deployment.metadata.name, resourceVersion: deployment.metadata.resourceVersion ?? "" } : null,
      events: base.events ?? [],
      previousLog,
      history: deployment ? { deployment: deployment as unknown as LastDeploy.HistoryDeployment, replicaSets: replicaSets.items as unknown as ReadonlyArray<LastDeploy.HistoryReplicaSet> } : undefined,
      node: base.nodes?.find((n) => n.metadata.name === base.pod.spec.nodeName) ?? null,
      services: services.items as unknown as ReadonlyArray<Dependency.ServiceLike>,
      endpointSlices: slices.items as unknown as ReadonlyArray<Dependency.EndpointSliceLike>
    })
    return { facts, signal: meta.signal }
  })
