/**
 * The ConfigMaps, Secrets and pull-secret sources a container depends on — `env[].valueFrom`
 * (`configMapKeyRef`, `secretKeyRef`), `envFrom`, the pod's ConfigMap/Secret/projected volumes
 * the container mounts, the pod's `imagePullSecrets` and its ServiceAccount (whose
 * `imagePullSecrets` the kubelet uses when the pod names none) — and their state in the cluster:
 * resourceVersion (null: missing) and whether the referenced key is there. Secret values are
 * never kept: only the key names are looked at, and dropped at once.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import type { Ref } from "../classifiers/exitCode"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"

/** A reference before its state is read. */
export type Wanted = Omit<Ref, "resourceVersion" | "hasKey">

type Obj = { readonly [k: string]: unknown }
const obj = (v: unknown): Obj | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined)
const arr = (v: unknown): ReadonlyArray<unknown> => (Array.isArray(v) ? v : [])
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

/**
 * The references of `container` in a pod object (the raw JSON or a client-node V1Pod; optional
 * references are left out: a missing optional source never fails a container).
 */
export const refsOf = (pod: unknown, container: string): ReadonlyArray<Wanted> => {
  const spec = obj(obj(pod)?.["spec"])
  const out: Array<Wanted> = []
  const add = (w: Wanted) => {
    if (!out.some((x) => x.kind === w.kind && x.name === w.name && x.key === w.key && x.use === w.use)) out.push(w)
  }
  const c = [...arr(spec?.["containers"]), ...arr(spec?.["initContainers"])].map(obj).find((x) => x?.["name"] === container)
  for (const e of arr(c?.["env"]).map(obj)) {
    const vf = obj(e?.["valueFrom"])
    for (const [field, kind] of [["configMapKeyRef", "ConfigMap"], ["secretKeyRef", "Secret"]] as const) {
      const r = obj(vf?.[field])
      const name = str(r?.["name"])
      if (name && r?.["optional"] !== true) add({ kind, name, key: str(r?.["key"]) ?? null, use: "env" })
    }
  }
  for (const e of arr(c?.["envFrom"]).map(obj)) {
    for (const [field, kind] of [["configMapRef", "ConfigMap"], ["secretRef", "Secret"]] as const) {
      const r = obj(e?.[field])
      const name = str(r?.["name"])
      if (name && r?.["optional"] !== true) add({ kind, name, key: null, use: "envFrom" })
    }
  }
  const mounted = new Set(arr(c?.["volumeMounts"]).map((m) => str(obj(m)?.["name"])).filter((x): x is string => x !== undefined))
  for (const v of arr(spec?.["volumes"]).map(obj)) {
    if (!v || !mounted.has(String(v["name"]))) continue
    const cm = obj(v["configMap"])
    const sec = obj(v["secret"])
    if (cm && str(cm["name"]) && cm["optional"] !== true) add({ kind: "ConfigMap", name: str(cm["name"])!, key: null, use: "volume" })
    if (sec && str(sec["secretName"]) && sec["optional"] !== true) add({ kind: "Secret", name: str(sec["secretName"])!, key: null, use: "volume" })
    for (const s of arr(obj(v["projected"])?.["sources"]).map(obj)) {
      const pcm = obj(s?.["configMap"])
      const ps = obj(s?.["secret"])
      if (pcm && str(pcm["name"]) && pcm["optional"] !== true) add({ kind: "ConfigMap", name: str(pcm["name"])!, key: null, use: "volume" })
      if (ps && str(ps["name"]) && ps["optional"] !== true) add({ kind: "Secret", name: str(ps["name"])!, key: null, use: "volume" })
    }
  }
  for (const s of arr(spec?.["imagePullSecrets"]).map(obj)) {
    const name = str(s?.["name"])
    if (name) add({ kind: "Secret", name, key: null, use: "imagePullSecret" })
  }
  add({ kind: "ServiceAccount", name: str(spec?.["serviceAccountName"]) ?? "default", key: null, use: "serviceAccount" })
  return out
}

const keysOf = (o: Obj | undefined): ReadonlySet<string> =>
  new Set([...Object.keys(obj(o?.["data"]) ?? {}), ...Object.keys(obj(o?.["binaryData"]) ?? {}), ...Object.keys(obj(o?.["stringData"]) ?? {})])

/** Reads one reference's state: resourceVersion (null when 404) and whether its key is there. */
export const read = (namespace: string, w: Wanted): Effect.Effect<Ref, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const got = yield* kube.read(`get ${w.kind} ${namespace}/${w.name}`, async (a) => {
      const o = w.kind === "ConfigMap"
        ? await a.core.readNamespacedConfigMap({ namespace, name: w.name })
        : w.kind === "Secret"
        ? await a.core.readNamespacedSecret({ namespace, name: w.name })
        : await a.core.readNamespacedServiceAccount({ namespace, name: w.name })
      // only the resourceVersion and the key names leave this function: never a value
      return { resourceVersion: o.metadata?.resourceVersion ?? "", keys: keysOf(o as unknown as Obj) }
    }).pipe(Effect.map((x): { resourceVersion: string; keys: ReadonlySet<string> } | null => x), Effect.catchTag("KubeNotFound", () => Effect.succeed(null)))
    if (got === null) return { ...w, resourceVersion: null, hasKey: w.key === null ? null : false }
    return { ...w, resourceVersion: got.resourceVersion, hasKey: w.key === null ? null : got.keys.has(w.key) }
  })

/** Reads the state of every reference of `container` in `pod`. */
export const probe = (namespace: string, pod: unknown, container: string): Effect.Effect<ReadonlyArray<Ref>, KubeError, Kube> =>
  Effect.forEach(refsOf(pod, container), (w) => read(namespace, w), { concurrency: 4 })

/**
 * The references state from recorded objects (`kubectl get configmaps,secrets,serviceaccounts -o
 * json`, Secrets with their values stripped): what {@link probe} reads live.
 */
export const fromObjects = (pod: unknown, container: string, objects: ReadonlyArray<unknown>): ReadonlyArray<Ref> =>
  refsOf(pod, container).map((w) => {
    const o = objects.map(obj).find((x) => x?.["kind"] === w.kind && obj(x?.["metadata"])?.["name"] === w.name)
    if (!o) return { ...w, resourceVersion: null, hasKey: w.key === null ? null : false }
    return { ...w, resourceVersion: String(obj(o["metadata"])?.["resourceVersion"] ?? ""), hasKey: w.key === null ? null : keysOf(o).has(w.key) }
  })
