/**
 * `k8s.restoreConfigMap`: re-creates a deleted ConfigMap from BytePort's snapshot of it
 * (`ConfigMapSnapshots`, opt-in, off by default) — exact `data`/`binaryData`, the origin's
 * labels plus `byteport.io/restored-from: <snapshot namespace>/<snapshot name>`. Create only: a
 * ConfigMap that exists again is never overwritten (a conflict). Never invents data: no
 * snapshot, nothing restored. Never touches Secrets: the kind restores ConfigMaps only, from
 * objects labelled as snapshots. `dryRun=All` in dry_run; a `ConfigMapRestored` Event on the
 * restored ConfigMap otherwise.
 *
 * Target: the workload whose pods need it (`k8s.workload`); params name the ConfigMap.
 * `observe`: it exists with `restored-from` → applied; absent → not applied; exists without
 * the label (someone else re-created it) → unknown.
 *
 * Guardrails (on the kind): `never_restore_without_snapshot` — the snapshots are off, or there
 * is no snapshot of exactly this ConfigMap (read live; unreadable denies).
 *
 * @since 0.3.0
 */
import { ActionHandler, Guardrail } from "@byteport/core"
import { CoreV1Api, type V1ConfigMap } from "@kubernetes/client-node"
import { Effect, Option, Schema } from "effect"
import * as EventRecorder from "../events/EventRecorder"
import { Kube } from "../Kube"
import * as KubeError from "../KubeError"
import { ConfigMapSnapshots, ORIGIN_LABELS } from "./configMapSnapshots"

/** The action kind. */
export const KIND = "k8s.restoreConfigMap"

/** The label on a restored ConfigMap. */
export const RESTORED_FROM = "byteport.io/restored-from"

/** The params. */
export const Params = Schema.Struct({
  namespace: Schema.String,
  name: Schema.String,
  reason: Schema.String
})

/** The params. */
export type Params = typeof Params.Type

/** Never without a snapshot of exactly this ConfigMap (snapshots off → deny). */
export const neverWithoutSnapshot: Guardrail.Guardrail<ConfigMapSnapshots> = Guardrail.make<ConfigMapSnapshots>({
  name: "never_restore_without_snapshot",
  recheckOnResume: true,
  check: (ctx) =>
    Effect.gen(function*() {
      const snaps = yield* ConfigMapSnapshots
      const ns = String(ctx.action.params["namespace"] ?? "")
      const name = String(ctx.action.params["name"] ?? "")
      if (!snaps.enabled) return Guardrail.deny(`never_restore_without_snapshot: ConfigMap snapshots are off (configMapSnapshots, BYTEPORT_CONFIGMAP_SNAPSHOTS)`)
      const s = yield* Effect.result(snaps.latest(ns, name))
      if (s._tag === "Failure") return Guardrail.deny(`never_restore_without_snapshot: could not read the snapshot of ${ns}/${name} (${s.failure._tag})`)
      return Option.isSome(s.success) ? Guardrail.pass : Guardrail.deny(`never_restore_without_snapshot: BytePort has no snapshot of ConfigMap ${ns}/${name}`)
    })
})

const label = (snaps: ConfigMapSnapshots["Service"], snap: V1ConfigMap) => `${snaps.namespace}.${snap.metadata?.name ?? ""}`.slice(0, 63).replace(/[^A-Za-z0-9._-]/g, "_").replace(/[^A-Za-z0-9]+$/, "")

const originLabels = (snap: V1ConfigMap): Record<string, string> => {
  try {
    const v = JSON.parse(snap.metadata?.annotations?.[ORIGIN_LABELS] ?? "{}")
    return typeof v === "object" && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === "string")) as Record<string, string> : {}
  } catch {
    return {}
  }
}

/** The ConfigMap a snapshot restores to (exact data, origin labels plus `restored-from`). */
export const restoredObject = (snaps: ConfigMapSnapshots["Service"], snap: V1ConfigMap, p: Params): V1ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: p.name, namespace: p.namespace, labels: { ...originLabels(snap), [RESTORED_FROM]: label(snaps, snap) } },
  ...(snap.data ? { data: snap.data } : {}),
  ...(snap.binaryData ? { binaryData: snap.binaryData } : {}),
  ...(snap.immutable !== undefined ? { immutable: snap.immutable } : {})
})

/** The handler. */
export const make = (): ActionHandler.ActionHandler<Kube | EventRecorder.EventRecorder | ConfigMapSnapshots> =>
  ActionHandler.make<Params, Kube | EventRecorder.EventRecorder | ConfigMapSnapshots>({
    kind: KIND,
    params: Params,
    guardrails: [neverWithoutSnapshot],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const snaps = yield* ConfigMapSnapshots
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, ...(conflict ? { conflict } : {}) })
        if (!snaps.enabled) return yield* fail("ConfigMap snapshots are off: nothing to restore from")
        const snap = yield* snaps.latest(p.namespace, p.name).pipe(Effect.mapError((e) => fail(`read the snapshot of ${p.namespace}/${p.name}: ${e.message}`)))
        if (Option.isNone(snap)) return yield* fail(`BytePort has no snapshot of ConfigMap ${p.namespace}/${p.name}`)
        const body = restoredObject(snaps, snap.value, p)
        const core = kube.kubeConfig.makeApiClient(CoreV1Api)
        const op = `create ConfigMap ${p.namespace}/${p.name}`
        const created = yield* Effect.tryPromise({
          try: () => core.createNamespacedConfigMap({ namespace: p.namespace, body, fieldManager: "byteport", ...(ctx.dryRun ? { dryRun: "All" } : {}) }),
          catch: (e) => KubeError.fromUnknown(op, e)
        }).pipe(Effect.mapError((e) => fail(`${op}: ${e._tag}: ${e.message}${e._tag === "KubeConflict" ? " (it exists again: never overwritten)" : ""}`, e._tag === "KubeConflict")))
        yield* EventRecorder.recordEvent(created, "ConfigMapRestored", `BytePort re-created ConfigMap ${p.namespace}/${p.name} from its snapshot ${snaps.namespace}/${snap.value.metadata?.name} (${p.reason}; incident ${ctx.incidentId})`, {
          dryRun: ctx.dryRun,
          kind: "ConfigMap",
          apiVersion: "v1",
          action: "Create"
        })
        const keys = Object.keys(snap.value.data ?? {}).length + Object.keys(snap.value.binaryData ?? {}).length
        return {
          detail: `${ctx.dryRun ? "would re-create" : "re-created"} ConfigMap ${p.namespace}/${p.name} (${keys} key(s)) from snapshot ${snaps.namespace}/${snap.value.metadata?.name}${ctx.dryRun ? " (dryRun=All accepted)" : ""}`,
          result: { namespace: p.namespace, name: p.name, snapshot: `${snaps.namespace}/${snap.value.metadata?.name ?? ""}`, keys, dryRun: ctx.dryRun }
        }
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const cm = yield* kube.read(`get ConfigMap ${p.namespace}/${p.name}`, (a) => a.core.readNamespacedConfigMap({ namespace: p.namespace, name: p.name })).pipe(
          Effect.map(Option.some),
          Effect.catchTag("KubeNotFound", () => Effect.succeed(Option.none<V1ConfigMap>()))
        )
        if (Option.isNone(cm)) return ActionHandler.notApplied(`ConfigMap ${p.namespace}/${p.name} does not exist`)
        const from = cm.value.metadata?.labels?.[RESTORED_FROM]
        return from !== undefined ? ActionHandler.applied(`ConfigMap ${p.namespace}/${p.name} exists, ${RESTORED_FROM}=${from}`) : ActionHandler.unknown(`ConfigMap ${p.namespace}/${p.name} exists without ${RESTORED_FROM} (re-created by someone else)`)
      })
  })

/** The handler. */
export const handler = make()
