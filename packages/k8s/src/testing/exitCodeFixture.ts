/**
 * Recorded pod fixtures → the facts of `k8s.crashloop.exit-code` and `k8s.oom.exit-137`, through
 * the same pure functions the live probes use, plus the signal the detector would have raised.
 * A fixture is a `PodFixture` directory (`pod.json`, `meta.json`, `events.json`, `nodes.json`,
 * `replicasets.json`, `previous.log`) with two more `kubectl get -o json` Lists:
 *
 * | file | content | command |
 * |---|---|---|
 * | `workloads.json` | the namespace's Deployments and StatefulSets | `kubectl get deploy,sts -o json` |
 * | `objects.json` | ConfigMaps, Secrets (values blanked), ServiceAccounts | `kubectl get cm,secrets,sa -o json` |
 *
 * Both are optional: without `workloads.json` the owner is Unknown; without `objects.json` every
 * reference reads as missing. A malformed file fails naming the file and the field's path. The
 * shipped ones are `fixtures/pod/exitcode_*` (recorded by `fixtures/record-exitcode.ts`).
 *
 * @example
 * ```ts
 * import { ExitCodeFixture } from "@byteport/k8s/testing"
 * const { exitCode, signal } = yield* ExitCodeFixture.decode(yield* ExitCodeFixture.recorded("exitcode_config_error_78"))
 * ```
 *
 * @since 0.3.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Fact, type Signal } from "@byteport/core"
import { FixtureError, loadFixture } from "@byteport/core/testing"
import { Effect, Schema } from "effect"
import * as SetDebugLogging from "../actions/setDebugLogging"
import type { ExitCodeFacts, Owner } from "../classifiers/exitCode"
import { PodSignalTypes } from "../detectors/podSignals"
import * as NodeProbe from "../probes/nodeFacts"
import * as PodProbe from "../probes/podFacts"
import * as PodRefs from "../probes/podRefs"
import * as RuntimeHeap from "../probes/runtimeHeap"
import type { Exit137Facts, WorkloadFacts } from "../runbooks/k8s.oom.exit-137"
import * as Targets from "../targets/Targets"
import * as PodFixture from "./podFixture"
import type * as Recorded from "./Recorded"

/** The directory of a shipped fixture (`exitcode_*` among the pod fixtures). */
export const recorded = (name: string): Effect.Effect<string, Recorded.UnknownFixture> => PodFixture.recorded(name)

/** The names of the shipped exit-code fixtures. */
export const names = (): ReadonlyArray<string> => PodFixture.names().filter((n) => n.startsWith("exitcode_"))

const Obj = Schema.Struct({
  kind: Schema.String,
  metadata: Schema.Struct({ name: Schema.String, resourceVersion: Schema.optionalKey(Schema.String), annotations: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)) }),
  // what decode reads of a workload's template (a malformed one fails naming its path, never a TypeError)
  spec: Schema.optionalKey(Schema.NullOr(Schema.Struct({
    updateStrategy: Schema.optionalKey(Schema.NullOr(Schema.Struct({ type: Schema.optionalKey(Schema.NullOr(Schema.String)) }))),
    template: Schema.optionalKey(Schema.NullOr(Schema.Struct({
      spec: Schema.optionalKey(Schema.NullOr(Schema.Struct({
        containers: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({
          name: Schema.String,
          env: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({ name: Schema.String, value: Schema.optionalKey(Schema.NullOr(Schema.String)) }))))
        }))))
      })))
    })))
  })))
})
const ObjList = Schema.Struct({ items: Schema.Array(Obj) })

/** What a fixture decodes to. */
export interface Decoded {
  readonly exitCode: Fact.Facts<ExitCodeFacts>
  readonly exit137: Fact.Facts<Exit137Facts>
  /** The signal the detector would have raised for the pod (crash loop, config error or image pull; OOMKilled for exit-137). */
  readonly signal: Signal.Signal
  readonly oomSignal: Signal.Signal
}

/** A List file: checked against its schema (a bad field fails naming the file and path), then read whole (the schema keeps only what it checks). */
const readList = (dir: string, file: string): Effect.Effect<ReadonlyArray<unknown> | undefined, FixtureError> =>
  fs.existsSync(path.join(dir, file))
    ? Effect.map(
      loadFixture(ObjList as unknown as Schema.Codec<typeof ObjList.Type, unknown>, path.join(dir, file)),
      () => (JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { readonly items: ReadonlyArray<unknown> }).items
    )
    : Effect.succeed(undefined)

/** Decodes a fixture directory. */
export const decode = (dir: string): Effect.Effect<Decoded, FixtureError> =>
  Effect.gen(function*() {
    const x = yield* PodFixture.load(dir)
    const rawPod = JSON.parse(fs.readFileSync(path.join(dir, "pod.json"), "utf8")) as unknown
    const workloads = yield* readList(dir, "workloads.json")
    const objects = yield* readList(dir, "objects.json")
    const pod = x.pod
    const container = x.meta.container
    const ns = pod.metadata.namespace ?? "default"
    const ctl = pod.metadata.ownerReferences?.find((o) => o.controller === true)
    const rs = ctl?.kind === "ReplicaSet" ? x.replicaSets?.find((r) => r.metadata.name === ctl.name) : undefined
    const top = rs ? rs.metadata.ownerReferences?.find((o) => o.controller === true) : ctl
    const workload = top ? workloads?.find((w) => (w as { kind?: string }).kind === top.kind && (w as { metadata?: { name?: string } }).metadata?.name === top.name) as
      | { readonly kind: string; readonly metadata: { readonly name: string; readonly resourceVersion?: string; readonly annotations?: { readonly [k: string]: string } }; readonly spec?: { readonly updateStrategy?: { readonly type?: string }; readonly template?: { readonly spec?: { readonly containers?: ReadonlyArray<{ readonly name: string; readonly env?: ReadonlyArray<{ readonly name: string; readonly value?: string }> }> } } } }
      | undefined : undefined
    const owner: Fact.Fact<Owner | null> = !top
      ? Fact.known(null)
      : workload
      ? Fact.known({ kind: top.kind, name: top.name, resourceVersion: workload.metadata.resourceVersion ?? "" })
      : Fact.unknown("owning workload", workloads === undefined ? "not recorded: workloads.json missing from the fixture" : `${top.kind} ${top.name} is not in workloads.json`)
    const refs = objects === undefined ? Fact.unknown("configmaps, secrets and pull secrets", "not recorded: objects.json missing from the fixture") : Fact.known(PodRefs.fromObjects(rawPod, container, objects))
    const exitCode: Fact.Facts<ExitCodeFacts> = { subject: Fact.known({ pod, container }), owner, refs }
    const ownerValue = Fact.value(owner)
    const podFacts = PodProbe.podFactsFrom(pod, container, ownerValue ?? null)
    const debug = workload ? SetDebugLogging.declaredOn(workload) ?? null : null
    const env = workload?.spec?.template?.spec?.containers?.find((c) => c.name === container)?.env?.find((e) => e.name === debug?.env)
    const wf: WorkloadFacts | null = workload && top
      ? { kind: top.kind, name: top.name, updateStrategy: top.kind === "StatefulSet" ? workload.spec?.updateStrategy?.type ?? "RollingUpdate" : null, debug, debugPrevious: env === undefined ? null : env.value ?? "" }
      : null
    const node = x.nodes?.find((n) => n.metadata.name === pod.spec.nodeName)
    const exit137: Fact.Facts<Exit137Facts> = {
      pod: Fact.known(podFacts),
      podUid: Fact.known(pod.metadata.uid ?? ""),
      owner,
      workload: owner._tag === "Known" ? Fact.known(wf) : Fact.unknown("workload", "the owner is unknown"),
      runtimeHeap: Fact.known(RuntimeHeap.largest(RuntimeHeap.fromEnv(podFacts.env))),
      node: node ? Fact.known(NodeProbe.nodeFactsFrom(node)) : Fact.unknown("describe node", "not recorded: nodes.json missing or without the pod's node")
    }
    // a name the API would never hold (empty, not a DNS name) fails the decode naming the file, not the caller
    const target = yield* Effect.try({
      try: () => {
        Targets.pod({ cluster: "fixture", namespace: ns, name: pod.metadata.name })
        return Targets.workload({ cluster: "fixture", namespace: ns, kind: (top?.kind ?? "Pod") as Targets.WorkloadKind, name: top?.name ?? pod.metadata.name, container })
      },
      catch: (e) => new FixtureError({ file: path.join(dir, "pod.json"), path: ["metadata"], message: `pod.json: not a workload target: ${(e as Error).message}` })
    })
    const cs = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((c) => c.name === container)
    const reason = cs?.state?.waiting?.reason
    const type = reason === "CreateContainerConfigError" ? PodSignalTypes.configError : reason === "ErrImagePull" || reason === "ImagePullBackOff" ? PodSignalTypes.imagePull : PodSignalTypes.crashLoopBackOff
    const evidence = { namespace: ns, pod: pod.metadata.name, container, node: pod.spec.nodeName ?? null }
    return {
      exitCode,
      exit137,
      signal: { type, target, observedAt: x.meta.now, source: "fixture", evidence },
      oomSignal: { type: "k8s.pod.oom_killed", target, observedAt: x.meta.now, source: "fixture", evidence: { ...evidence, reason: "OOMKilled" } }
    }
  })
