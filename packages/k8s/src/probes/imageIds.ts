/**
 * The image ID (the digest the runtime actually pulled) per container and per restart. A pod's
 * status shows only the running instance's `imageID`, so `History` records it at every restart
 * seen on the shared pod watch: a re-pushed tag (same `image`, a new digest after a restart) and
 * the last good digest (`k8s.pinImageDigest`) are read from it. `digestOf` parses the forms
 * runtimes report (`docker-pullable://repo@sha256:…`, `repo@sha256:…`, `sha256:…`).
 *
 * @example
 * ```ts
 * import { ImageIds } from "@byteport/k8s"
 * const history = yield* ImageIds.track({ namespace: "shop" })   // scoped, on the shared watch
 * ImageIds.rePushed(history.of(podUid, "app"))
 * ```
 *
 * @since 0.1.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { Effect, Scope, Stream } from "effect"
import type { Kube } from "../Kube"
import * as Informers from "../informers/Informers"
import { pods } from "../informers/Resource"
import type * as PodWire from "./podWire"
import * as Wire from "./wire"

/** A parsed image ID. */
export interface Digest {
  /** The repository, when the ID names one (`docker.io/library/nginx`). */
  readonly repository: string | null
  /** `sha256:<hex>`. */
  readonly digest: string
}

/** Parses an image ID or a digest reference; `undefined` when it holds no digest. */
export const digestOf = (imageID: string | null | undefined): Digest | undefined => {
  if (!imageID) return undefined
  const id = imageID.replace(/^[a-z-]+:\/\//, "")
  const m = /^(?:(.+)@)?(sha256:[0-9a-f]{64})$/i.exec(id)
  return m ? { repository: m[1] ?? null, digest: m[2]!.toLowerCase() } : undefined
}

/** The repository of an image reference (tag and digest dropped). */
export const repositoryOf = (image: string): string => {
  const noDigest = image.split("@")[0]!
  const slash = noDigest.lastIndexOf("/")
  const colon = noDigest.lastIndexOf(":")
  return colon > slash ? noDigest.slice(0, colon) : noDigest
}

/** `repo@sha256:…`: the image pinned to a digest. */
export const pinned = (image: string, digest: string): string => `${repositoryOf(image)}@${digest}`

/** What one container runs now. */
export interface ImageId {
  readonly container: string
  readonly init: boolean
  /** The spec's image reference. */
  readonly image: string | null
  /** The runtime's image ID (empty before the first pull). */
  readonly imageID: string | null
  readonly digest: string | null
  readonly restartCount: number
}

/** The image IDs of a pod's containers (init containers first). */
export const imageIdsOf = (pod: PodWire.Pod): ReadonlyArray<ImageId> => {
  const spec = (_init: boolean, name: string) => [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === name)?.image
  const one = (init: boolean) => (cs: PodWire.ContainerStatus): ImageId => ({
    container: cs.name,
    init,
    image: spec(init, cs.name) ?? cs.image ?? null,
    imageID: cs.imageID || null,
    digest: digestOf(cs.imageID)?.digest ?? null,
    restartCount: cs.restartCount
  })
  return [...(pod.status?.initContainerStatuses ?? []).map((cs) => one(!Wire.isSidecar(pod, cs.name))(cs)), ...(pod.status?.containerStatuses ?? []).map(one(false))]
}

/** One recorded instance: the image and digest a container ran at a restart count. */
export interface Entry {
  readonly restartCount: number
  readonly image: string | null
  readonly digest: string | null
  /** The pod (name) the instance ran in. */
  readonly pod: string
}

/**
 * Image IDs per restart, per pod and container (keyed by pod uid, else `namespace/name`), and
 * per workload container across pods (`ofImage`): an entry is added whenever the restart count
 * or the digest changes. Bounded: at most `maxEntries` per container (default 50).
 */
export class History {
  private readonly byContainer = new Map<string, Array<Entry>>()
  constructor(private readonly maxEntries = 50) {}
  /** Records a pod observation. */
  observe(pod: PodWire.Pod): void {
    const key = pod.metadata.uid ?? `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`
    for (const id of imageIdsOf(pod)) {
      if (id.digest === null) continue
      const k = `${key}/${id.container}`
      const list = this.byContainer.get(k) ?? []
      const last = list[list.length - 1]
      if (last !== undefined && last.restartCount === id.restartCount && last.digest === id.digest) continue
      list.push({ restartCount: id.restartCount, image: id.image, digest: id.digest, pod: pod.metadata.name })
      if (list.length > this.maxEntries) list.shift()
      this.byContainer.set(k, list)
    }
  }
  /** Drops a deleted pod. */
  forget(pod: PodWire.Pod): void {
    const key = pod.metadata.uid ?? `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`
    for (const k of [...this.byContainer.keys()]) if (k.startsWith(`${key}/`)) this.byContainer.delete(k)
  }
  /** The entries of a pod's container, oldest first. */
  of(podKey: string, container: string): ReadonlyArray<Entry> {
    return this.byContainer.get(`${podKey}/${container}`) ?? []
  }
}

/** Whether an image tag was re-pushed: the same reference ran under more than one digest. */
export const rePushed = (entries: ReadonlyArray<Entry>): boolean => {
  const byImage = new Map<string, Set<string>>()
  for (const e of entries) {
    if (e.image === null || e.digest === null || e.image.includes("@")) continue
    const s = byImage.get(e.image) ?? new Set<string>()
    s.add(e.digest)
    byImage.set(e.image, s)
  }
  return [...byImage.values()].some((s) => s.size > 1)
}

/** The last digest `image` ran under before the current one (the last good one for a re-pushed tag), if any. */
export const previousDigest = (entries: ReadonlyArray<Entry>, image: string): string | null => {
  const mine = entries.filter((e) => e.image === image && e.digest !== null)
  const current = mine[mine.length - 1]?.digest
  for (let i = mine.length - 1; i >= 0; i--) if (mine[i]!.digest !== current) return mine[i]!.digest
  return null
}

/**
 * A History fed by the shared pod watch for as long as the scope lives (no requests of its own
 * beyond the kind's one list+watch).
 */
export const track = (options: { readonly namespace?: string | undefined; readonly labelSelector?: string | undefined } = {}): Effect.Effect<History, never, Kube | Scope.Scope> =>
  Effect.gen(function*() {
    const history = new History()
    yield* Informers.subscribe(pods, { namespace: options.namespace, labelSelector: options.labelSelector }).pipe(
      Stream.runForEach((e) => Effect.sync(() => {
        const pod = (e.object as V1Pod) as unknown as PodWire.Pod
        if (e.type === "delete") history.forget(pod)
        else history.observe(pod)
      })),
      Effect.ignore,
      Effect.forkScoped
    )
    return history
  })
