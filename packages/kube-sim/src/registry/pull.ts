/**
 * How the kubelet pulls for a pod: the pod's `imagePullSecrets` (or, when it names none, its
 * ServiceAccount's, as the ServiceAccount admission plugin copies them) feed the keyring; a named
 * secret that does not exist gives the `FailedToRetrieveImagePullSecret` warning and the pull goes
 * on without it; the node's `status.nodeInfo` gives the platform (`operatingSystem/architecture`)
 * and the runtime whose error text a failure carries (`containerRuntimeVersion`: `containerd://`,
 * `docker://`, `cri-o://`).
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "../controllers/context"
import { R, type Json } from "../controllers/util"
import type { PullResult, Runtime } from "./ImageRegistry"
import { entriesOf, lookup, type KeyringEntry } from "./Keyring"
import { parse } from "./Reference"

/** The runtime a node runs, from its `containerRuntimeVersion`. */
export const runtimeOf = (node: KubeObject | undefined): Runtime => {
  const v = String(((node?.["status"] as Json | undefined)?.["nodeInfo"] as Json | undefined)?.["containerRuntimeVersion"] ?? "")
  return v.startsWith("docker://") ? "docker" : v.startsWith("cri-o://") ? "crio" : "containerd"
}

/** The `os/architecture` of a node (default linux/amd64). */
export const platformOf = (node: KubeObject | undefined): string => {
  const info = ((node?.["status"] as Json | undefined)?.["nodeInfo"] as Json | undefined) ?? {}
  return `${info["operatingSystem"] ?? "linux"}/${info["architecture"] ?? "amd64"}`
}

/** The pull secret names the kubelet uses for `pod` (its own, else its ServiceAccount's). */
export const pullSecretNames = (ctx: SimContext, pod: KubeObject): Array<string> => {
  const spec = (pod["spec"] ?? {}) as Json
  const own = ((spec["imagePullSecrets"] ?? []) as Array<Json>).map((r) => String(r["name"] ?? "")).filter((n) => n !== "")
  if (own.length > 0) return own
  const sa = ctx.store.get(R.serviceaccounts, pod.metadata.namespace ?? "default", String(spec["serviceAccountName"] ?? "default"))
  return ((sa?.["imagePullSecrets"] ?? []) as Array<Json>).map((r) => String(r["name"] ?? "")).filter((n) => n !== "")
}

/** Pull `image` for `pod` on `node` through the context's registry, recording the kubelet's secret warning. */
export const pullFor = (ctx: SimContext, pod: KubeObject, nodeName: string, image: string): PullResult => {
  const ns = pod.metadata.namespace ?? "default"
  const entries: Array<KeyringEntry> = []
  const missing: Array<string> = []
  for (const name of pullSecretNames(ctx, pod)) {
    const secret = ctx.store.get(R.secrets, ns, name)
    if (!secret) missing.push(name)
    else entries.push(...entriesOf(secret))
  }
  if (missing.length > 0) {
    ctx.events.record(pod, "Warning", "FailedToRetrieveImagePullSecret", `Unable to retrieve some image pull secrets (${missing.join(", ")}); attempting to pull the image may not succeed.`, "kubelet", { host: nodeName })
  }
  const node = ctx.store.get(R.nodes, undefined, nodeName)
  return ctx.registry.pull(image, { credentials: lookup(entries, image), platform: platformOf(node), runtime: runtimeOf(node), node: nodeName })
}

/** The imageID of an image a node holds without a recorded pull (preloaded): its current digest. */
export const cachedImageID = (ctx: SimContext, node: string, image: string): string => {
  const digest = ctx.registry.resolve(image)
  const id = digest ? `${parse(image).name}@${digest}` : ""
  if (id) ctx.registry.store(node, image, id)
  return id
}
