/**
 * Kubernetes pods as a host sees them: a memory cgroup under `kubepods` names its pod by uid
 * (`pod<uid>`) and its container by id (the last path element, `cri-containerd-<id>.scope`,
 * `docker-<id>.scope`, `crio-<id>.scope` or the bare id). The kubelet's log links name the rest:
 * `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` and
 * `/var/log/pods/<namespace>_<pod>_<uid>/<container>/`. Host runbooks never act on a container
 * cgroup: `host.memory.five-class` hands an OOM kill in one to Kubernetes (`oom.observed`) with the
 * pod resolved here, and escalates naming the pod when it cannot be resolved.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"

/** A pod (and the container, when known) a kubepods cgroup belongs to. */
export interface PodRef {
  readonly uid: string
  readonly namespace: string
  readonly name: string
  readonly container?: string
}

const UID = /kubepods.*?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/

/** The pod uid of a kubepods cgroup path (systemd's `_` turned back into `-`), undefined for any other cgroup. */
export const podUidOf = (cgroup: string): string | undefined => {
  const m = UID.exec(cgroup)
  return m ? m[1]!.replace(/_/g, "-") : undefined
}

/** The container id of a kubepods container cgroup (64 hex characters), undefined for a pod-level or other cgroup. */
export const containerIdOf = (cgroup: string): string | undefined => {
  if (podUidOf(cgroup) === undefined) return undefined
  const last = cgroup.replace(/\/+$/, "").split("/").pop() ?? ""
  const m = /^(?:[a-z-]+-)?([0-9a-f]{64})(?:\.scope)?$/.exec(last)
  return m ? m[1] : undefined
}

const list = (dir: string): ReadonlyArray<string> => {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * The pod of a kubepods cgroup from the kubelet's log links under `logRoot` (default `/var/log`):
 * the container's `containers/<pod>_<ns>_<container>-<id>.log`, else the pod's `pods/<ns>_<pod>_<uid>`
 * directory (its container when it has exactly one). Undefined when the cgroup is not a pod's or
 * no link names it.
 */
export const resolve = (cgroup: string, logRoot = "/var/log"): PodRef | undefined => {
  const uid = podUidOf(cgroup)
  if (uid === undefined) return undefined
  const id = containerIdOf(cgroup)
  if (id !== undefined) {
    for (const n of list(nodePath.join(logRoot, "containers"))) {
      const m = /^([^_]+)_([^_]+)_(.+)-([0-9a-f]{64})\.log$/.exec(n)
      if (m !== null && m[4] === id) return { uid, namespace: m[2]!, name: m[1]!, container: m[3]! }
    }
  }
  for (const n of list(nodePath.join(logRoot, "pods"))) {
    const m = /^([^_]+)_([^_]+)_(.+)$/.exec(n)
    if (m === null || m[3] !== uid) continue
    const containers = list(nodePath.join(logRoot, "pods", n))
    return { uid, namespace: m[1]!, name: m[2]!, ...(containers.length === 1 ? { container: containers[0]! } : {}) }
  }
  return undefined
}
