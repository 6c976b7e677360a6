/**
 * "Never delete PersistentVolumes": a `Guardrail.never` that denies every delete handler's
 * action that names a PersistentVolume or PersistentVolumeClaim — in its target, or anywhere in
 * its params (a `kind`, a `resource`, a name such as `persistentvolumeclaim/data`). A delete
 * handler is any kind whose name says it deletes (`delete`, `remove`, `prune`, `purge`,
 * `cleanup`, `destroy`, `evict`, `drain`, `gc`) plus `k8s.restartPod`, and any kind listed in
 * `deleteKinds`.
 *
 * It is enforced in the registry, not per handler: `registry(...)` (and `Agent.layer({ guardrails })`)
 * put it in front of every registered handler's own guardrails, so a custom runbook's handler
 * registered without it gets it all the same, and the executor never mints that handler a
 * permit for such an action.
 *
 * And below the registry, for handlers whose action does not say what they delete: `layerKube`
 * guards the Kube service's KubeConfig so that every client made from it (Kube's own, and any
 * a handler makes with `kube.kubeConfig.makeApiClient`) refuses a DELETE of
 * `persistentvolumes`/`persistentvolumeclaims` (one object or a collection) before it is sent:
 * even a handler holding a genuine permit cannot delete one through BytePort's credentials.
 *
 * @example
 * ```ts
 * import { NeverDeleteVolumes } from "@byteport/k8s"
 * const registry = NeverDeleteVolumes.registry({ handlers: [...myHandlers] })
 * ```
 *
 * @since 0.3.0
 */
import { type ActionHandler, ActionRegistry, type Check, Guardrail } from "@byteport/core"
import type { Json } from "@byteport/core"
import type { KubeConfig } from "@kubernetes/client-node"
import { Effect, Layer } from "effect"
import { Kube } from "../Kube"

/** The guardrail's name. */
export const NAME = "never_delete_persistent_volumes"

const DELETE_WORDS = /(delete|remove|prune|purge|clean|destroy|evict|drain|(^|[.:_-])gc($|[.:_-])|wipe|reclaim)/i

const VOLUME = /(persistent[\s_-]*volume(claim)?s?\b|\bpvcs?\b|\bpvs?\b|k8s\.(pv|pvc)\b)/i

/** Whether an action kind deletes (by its name, or listed). */
export const isDeleteKind = (kind: string, extra: ReadonlyArray<string> = []): boolean => kind === "k8s.restartPod" || extra.includes(kind) || DELETE_WORDS.test(kind)

const mentionsVolume = (v: Json.Json | undefined, depth = 0): boolean => {
  if (depth > 20 || v === null || v === undefined) return false
  if (typeof v === "string") return VOLUME.test(v)
  if (Array.isArray(v)) return v.some((x) => mentionsVolume(x, depth + 1))
  if (typeof v === "object") return Object.entries(v).some(([k, x]) => VOLUME.test(k) || mentionsVolume(x as Json.Json, depth + 1))
  return false
}

/** Options of the guardrail. */
export interface Options {
  /** More action kinds that delete (their names need not say so). */
  readonly deleteKinds?: ReadonlyArray<string> | undefined
}

/** The guardrail. */
export const guardrail = (options: Options = {}): Guardrail.Guardrail<never> =>
  Guardrail.never(
    (c) => isDeleteKind(c.action.kind, options.deleteKinds) && (VOLUME.test(c.action.target.kind) || VOLUME.test(c.action.target.ref) || mentionsVolume(c.action.params) || mentionsVolume(c.action.precondition)),
    (c) => `${NAME}: ${c.action.kind} on ${c.action.target.kind} ${c.action.target.ref} would delete a PersistentVolume or PersistentVolumeClaim`,
    { name: NAME }
  )

/** `ActionRegistry.layer` with the guardrail in front of every handler's own. */
export const registry = <R = never>(parts: {
  readonly handlers: ReadonlyArray<ActionHandler.ActionHandler<R>>
  readonly checks?: ReadonlyArray<Check.Check<R>>
  readonly guardrails?: ReadonlyArray<Guardrail.Guardrail<R>>
  readonly options?: Options
}): Layer.Layer<ActionRegistry.ActionRegistry, never, R> =>
  ActionRegistry.layer<R>({ handlers: parts.handlers, checks: parts.checks ?? [], guardrails: [guardrail(parts.options), ...(parts.guardrails ?? [])] })

/** Whether an API request deletes PersistentVolumes or PersistentVolumeClaims (one or a collection). */
export const isVolumeDelete = (method: string, url: string): boolean => {
  if (method.toUpperCase() !== "DELETE") return false
  let path: string
  try {
    path = new URL(url).pathname
  } catch {
    path = url
  }
  return /\/api\/v1\/(namespaces\/[^/]+\/)?persistentvolume(claim)?s(\/|$)/i.test(decodeURIComponent(path))
}

const guarded = new WeakSet<KubeConfig>()

/**
 * Guards a KubeConfig in place: every API client made from it (before or after) refuses to
 * send a DELETE of PersistentVolumes or PersistentVolumeClaims. Idempotent.
 */
export const guardKubeConfig = (kc: KubeConfig): KubeConfig => {
  if (guarded.has(kc)) return kc
  const original = kc.applySecurityAuthentication.bind(kc)
  kc.applySecurityAuthentication = async (context) => {
    if (isVolumeDelete(String(context.getHttpMethod()), context.getUrl())) {
      throw new Error(`${NAME}: BytePort never deletes PersistentVolumes or PersistentVolumeClaims (refused ${context.getHttpMethod()} ${context.getUrl()})`)
    }
    return original(context)
  }
  guarded.add(kc)
  return kc
}

/** Guards the provided Kube service's KubeConfig (see `guardKubeConfig`); provide it with the Kube layer. */
export const layerKube: Layer.Layer<never, never, Kube> = Layer.effectDiscard(Effect.map(Kube, (k) => void guardKubeConfig(k.kubeConfig)))
