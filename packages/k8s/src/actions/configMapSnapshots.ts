/**
 * ConfigMap snapshots: exact copies of the ConfigMaps workloads use, kept as ConfigMaps in
 * BytePort's own namespace, so `k8s.restoreConfigMap` can put back a deleted one without
 * inventing data. Opt-in (`configMapSnapshots`, `BYTEPORT_CONFIGMAP_SNAPSHOTS=true`; off by
 * default: then nothing is copied and there is nothing to restore from). These are not the
 * redacted store: `data` and `binaryData` are copied byte for byte. Secrets are never copied.
 *
 * A snapshot of `ns/name` is the ConfigMap `byteport-snap-<ns>.<name>` (hashed when too long)
 * in `namespace` (`BYTEPORT_SNAPSHOT_NAMESPACE`, default `byteport`), labelled
 * `byteport.io/snapshot: "true"` and annotated with its origin (`byteport.io/snapshot-of:
 * ns/name`, origin uid, resourceVersion and labels, time taken). Taking one again replaces it.
 *
 * @example
 * ```ts
 * import { ConfigMapSnapshots } from "@byteport/k8s"
 * const layer = ConfigMapSnapshots.layer({ enabled: true, namespace: "byteport" })
 * // ConfigMapSnapshots.takeReferenced("shop", deployment.spec.template) after each rollout
 * ```
 *
 * @since 0.3.0
 */
import { CoreV1Api, type V1ConfigMap, type V1PodTemplateSpec } from "@kubernetes/client-node"
import { createHash } from "node:crypto"
import { Clock, Config, Context, Effect, Layer, Option } from "effect"
import { Kube } from "../Kube"
import * as KubeError from "../KubeError"

/** Label on every snapshot. */
export const SNAPSHOT_LABEL = "byteport.io/snapshot"

/** Annotation naming the snapshot's origin (`namespace/name`). */
export const SNAPSHOT_OF = "byteport.io/snapshot-of"

/** Annotation holding the origin's labels (JSON). */
export const ORIGIN_LABELS = "byteport.io/snapshot-origin-labels"

/** Options of the service. */
export interface Options {
  /** Take and keep snapshots (default false). */
  readonly enabled?: boolean | undefined
  /** BytePort's namespace, where snapshots live (default `byteport`). */
  readonly namespace?: string | undefined
}

/** What `take` did. */
export type TakeResult =
  | { readonly _tag: "Disabled" }
  | { readonly _tag: "Missing"; readonly namespace: string; readonly name: string }
  | { readonly _tag: "Taken"; readonly snapshot: string; readonly resourceVersion: string }

/** The service. */
export class ConfigMapSnapshots extends Context.Service<
  ConfigMapSnapshots,
  {
    readonly enabled: boolean
    /** BytePort's namespace. */
    readonly namespace: string
    /** Copies the ConfigMap `namespace/name` (Disabled when off; Missing when it does not exist). */
    readonly take: (namespace: string, name: string) => Effect.Effect<TakeResult, KubeError.KubeError>
    /** The snapshot of `namespace/name` (None when off or none was taken). */
    readonly latest: (namespace: string, name: string) => Effect.Effect<Option.Option<V1ConfigMap>, KubeError.KubeError>
  }
>()("@byteport/k8s/ConfigMapSnapshots") {}

/** The snapshot object name of `namespace/name` (≤ 253 chars, DNS-1123). */
export const snapshotName = (namespace: string, name: string): string => {
  const plain = `byteport-snap-${namespace}.${name}`
  return plain.length <= 253 ? plain : `byteport-snap-${createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 40)}`
}

/** The ConfigMaps a pod template references (env, envFrom, volumes, projected volumes), never Secrets. */
export const referencedBy = (template: V1PodTemplateSpec | undefined): ReadonlyArray<string> => {
  const out = new Set<string>()
  const spec = template?.spec
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef?.name) out.add(e.valueFrom.configMapKeyRef.name)
    for (const e of c.envFrom ?? []) if (e.configMapRef?.name) out.add(e.configMapRef.name)
  }
  for (const v of spec?.volumes ?? []) {
    if (v.configMap?.name) out.add(v.configMap.name)
    for (const s of v.projected?.sources ?? []) if (s.configMap?.name) out.add(s.configMap.name)
  }
  return [...out].sort()
}

/** Builds the service over Kube (creates and replaces ConfigMaps only in `namespace`). */
export const make = (options: Options = {}): Effect.Effect<ConfigMapSnapshots["Service"], never, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const enabled = options.enabled ?? false
    const home = options.namespace ?? "byteport"
    const core = kube.kubeConfig.makeApiClient(CoreV1Api)
    const call = <A>(operation: string, f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => KubeError.fromUnknown(operation, e) })
    const read = (namespace: string, name: string) =>
      kube.read(`get ConfigMap ${namespace}/${name}`, (a) => a.core.readNamespacedConfigMap({ namespace, name })).pipe(
        Effect.map(Option.some),
        Effect.catchTag("KubeNotFound", () => Effect.succeed(Option.none<V1ConfigMap>()))
      )
    return ConfigMapSnapshots.of({
      enabled,
      namespace: home,
      take: (namespace, name) =>
        Effect.gen(function*() {
          if (!enabled) return { _tag: "Disabled" } as const
          const origin = yield* read(namespace, name)
          if (Option.isNone(origin)) return { _tag: "Missing", namespace, name } as const
          const cm = origin.value
          const now = yield* Clock.currentTimeMillis
          const snap = snapshotName(namespace, name)
          const body: V1ConfigMap = {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
              name: snap,
              namespace: home,
              labels: { [SNAPSHOT_LABEL]: "true", "app.kubernetes.io/managed-by": "byteport" },
              annotations: {
                [SNAPSHOT_OF]: `${namespace}/${name}`,
                "byteport.io/snapshot-origin-uid": cm.metadata?.uid ?? "",
                "byteport.io/snapshot-origin-resource-version": cm.metadata?.resourceVersion ?? "",
                [ORIGIN_LABELS]: JSON.stringify(cm.metadata?.labels ?? {}),
                "byteport.io/snapshot-taken-at": new Date(now).toISOString()
              }
            },
            ...(cm.data ? { data: cm.data } : {}),
            ...(cm.binaryData ? { binaryData: cm.binaryData } : {}),
            ...(cm.immutable !== undefined ? { immutable: cm.immutable } : {})
          }
          const existing = yield* read(home, snap)
          const written = Option.isSome(existing)
            ? yield* call(`replace ConfigMap ${home}/${snap}`, () =>
              core.replaceNamespacedConfigMap({ namespace: home, name: snap, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.value.metadata?.resourceVersion ?? "" } }, fieldManager: "byteport" }))
            : yield* call(`create ConfigMap ${home}/${snap}`, () => core.createNamespacedConfigMap({ namespace: home, body, fieldManager: "byteport" }))
          return { _tag: "Taken", snapshot: snap, resourceVersion: written.metadata?.resourceVersion ?? "" } as const
        }),
      latest: (namespace, name) =>
        enabled
          ? Effect.map(read(home, snapshotName(namespace, name)), (o) =>
            Option.filter(o, (cm) => cm.metadata?.labels?.[SNAPSHOT_LABEL] === "true" && cm.metadata?.annotations?.[SNAPSHOT_OF] === `${namespace}/${name}`))
          : Effect.succeed(Option.none())
    })
  })

/** The service layer. */
export const layer = (options: Options = {}): Layer.Layer<ConfigMapSnapshots, never, Kube> => Layer.effect(ConfigMapSnapshots, make(options))

/** `BYTEPORT_CONFIGMAP_SNAPSHOTS` (boolean, default false) and `BYTEPORT_SNAPSHOT_NAMESPACE` (default `byteport`). */
export const config: Config.Config<Options> = Config.all({
  enabled: Config.Boolean("BYTEPORT_CONFIGMAP_SNAPSHOTS").pipe(Config.withDefault(false)),
  namespace: Config.String("BYTEPORT_SNAPSHOT_NAMESPACE").pipe(Config.withDefault("byteport"))
})

/** The service layer from configuration. */
export const layerConfig: Layer.Layer<ConfigMapSnapshots, Config.ConfigError, Kube> = Layer.unwrap(Effect.map(config, layer))

/** Snapshots every ConfigMap a pod template references (no-op when off); returns what each came to. */
export const takeReferenced = (namespace: string, template: V1PodTemplateSpec | undefined) =>
  Effect.flatMap(ConfigMapSnapshots, (s) => Effect.forEach(referencedBy(template), (name) => s.take(namespace, name)))
