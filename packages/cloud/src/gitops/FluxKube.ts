/**
 * `FluxKube`: the Kubernetes API calls the Flux actions make (through `@kubernetes/client-node`),
 * as a `Context.Service`: read a Flux object (Kustomization, HelmRelease, GitRepository) and
 * merge-patch it, with server-side `dryRun=All` for dry_run. RBAC the service account needs:
 * `get`, `patch` on `kustomizations.kustomize.toolkit.fluxcd.io`,
 * `helmreleases.helm.toolkit.fluxcd.io` and `get` on `gitrepositories.source.toolkit.fluxcd.io`.
 *
 * @since 0.1.0
 */
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { Context, Effect, Layer, Schema } from "effect"
import * as R from "./Resources"

/** A Kubernetes API call for a Flux object failed. */
export class FluxKubeError extends Schema.TaggedError<FluxKubeError>()("FluxKubeError", {
  operation: Schema.String,
  /** HTTP status (0: no response). */
  status: Schema.Number,
  message: Schema.String
}) {}

/** The service's operations. */
export interface Shape {
  readonly get: (type: R.ResourceType, namespace: string, name: string) => Effect.Effect<R.Obj, FluxKubeError>
  /** A JSON merge patch (`dryRun`: server-side `dryRun=All`, nothing persisted). */
  readonly patch: (type: R.ResourceType, namespace: string, name: string, patch: R.Obj, o?: { readonly dryRun?: boolean }) => Effect.Effect<R.Obj, FluxKubeError>
}

/** The service. */
export class FluxKube extends Context.Service<FluxKube, Shape>()("@byteport/cloud/FluxKube") {}

const statusOf = (e: unknown): number => {
  const c = (e as { code?: unknown }).code
  return typeof c === "number" ? c : 0
}
const messageOf = (e: unknown): string => {
  const body = (e as { body?: unknown }).body
  if (typeof body === "string") {
    try {
      const m = (JSON.parse(body) as { message?: unknown }).message
      if (typeof m === "string") return m
    } catch {
      // not JSON
    }
  }
  return e instanceof Error ? e.message : String(e)
}

/** Builds the service over a kubeconfig. */
export const make = (kc: KubeConfig): Shape => {
  const api = kc.makeApiClient(CustomObjectsApi)
  const call = <A>(operation: string, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (e) => new FluxKubeError({ operation, status: statusOf(e), message: messageOf(e) }) })
  return {
    get: (t, namespace, name) => Effect.map(call(`get ${t.kind} ${namespace}/${name}`, () => api.getNamespacedCustomObject({ group: t.group, version: t.version, plural: t.plural, namespace, name })), R.obj),
    patch: (t, namespace, name, patch, o = {}) =>
      Effect.map(
        call(`patch ${t.kind} ${namespace}/${name}`, () =>
          api.patchNamespacedCustomObject(
            { group: t.group, version: t.version, plural: t.plural, namespace, name, body: patch, ...(o.dryRun === true ? { dryRun: "All" } : {}) },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
          )),
        R.obj
      )
  }
}

/** A layer over a kubeconfig. */
export const layer = (kc: KubeConfig): Layer.Layer<FluxKube> => Layer.sync(FluxKube, () => make(kc))

/** A layer over the default kubeconfig (`KUBECONFIG`, `~/.kube/config`, or the in-cluster service account). */
export const layerDefault: Layer.Layer<FluxKube> = Layer.sync(FluxKube, () => {
  const kc = new KubeConfig()
  kc.loadFromDefault()
  return make(kc)
})
