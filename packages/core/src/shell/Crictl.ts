/**
 * Parsers for `crictl ps -o json` (the CRI `ListContainers` response) and `crictl inspect <id>`
 * (the container status plus runtime info). 64-bit integers may arrive as JSON strings (protobuf
 * JSON) or numbers; both are read.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as P from "./ParseError"

/** A CRI container state. */
export type ContainerState = "CONTAINER_CREATED" | "CONTAINER_RUNNING" | "CONTAINER_EXITED" | "CONTAINER_UNKNOWN"

const STATES: ReadonlySet<string> = new Set(["CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN"])

/** Who a container belongs to, from its Kubernetes labels and annotations. */
export interface KubernetesInfo {
  /** `io.kubernetes.pod.name`. */
  readonly podName: string | undefined
  /** `io.kubernetes.pod.namespace`. */
  readonly podNamespace: string | undefined
  /** `io.kubernetes.pod.uid`. */
  readonly podUid: string | undefined
  /** `io.kubernetes.container.restartCount` (annotation). */
  readonly restartCount: number | undefined
}

/** One container of `crictl ps -o json`. */
export interface Container extends KubernetesInfo {
  readonly id: string
  readonly podSandboxId: string
  /** `metadata.name`: the container's name in its pod. */
  readonly name: string
  /** `metadata.attempt`. */
  readonly attempt: number
  /** `image.image`. */
  readonly image: string
  readonly imageRef: string
  readonly state: ContainerState
  /** `createdAt`, nanoseconds since the epoch, as a Date (millisecond precision). */
  readonly createdAt: Date | undefined
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
}

/** `crictl inspect <id>`: the container's status and runtime info. */
export interface Inspect extends KubernetesInfo {
  readonly id: string
  readonly name: string
  readonly attempt: number
  readonly state: ContainerState
  readonly createdAt: Date | undefined
  /** Undefined until started (CRI prints the zero time). */
  readonly startedAt: Date | undefined
  /** Undefined until finished. */
  readonly finishedAt: Date | undefined
  readonly exitCode: number | undefined
  /** `OOMKilled`, `Error`, `Completed` … (empty → undefined). */
  readonly reason: string | undefined
  readonly message: string | undefined
  readonly image: string | undefined
  readonly imageRef: string | undefined
  /** `info.pid` (0 → undefined: not running). */
  readonly pid: number | undefined
  /** `status.resources.linux.memoryLimitInBytes` (0 → undefined: no limit). */
  readonly memoryLimitBytes: number | undefined
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
}

/** A failure at a JSON path. */
class At {
  constructor(readonly path: string, readonly problem: string) {}
}

type Obj = Readonly<Record<string, unknown>>

const obj = (v: unknown, path: string): Obj => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new At(path, "expected an object")
  return v as Obj
}
const optObj = (v: unknown, path: string): Obj => (v === undefined || v === null ? {} : obj(v, path))
const str = (v: unknown, path: string): string => {
  if (typeof v !== "string") throw new At(path, "expected a string")
  return v
}
const optStr = (v: unknown, path: string): string | undefined => (v === undefined || v === null ? undefined : str(v, path))
/** A non-negative integer as a number or a decimal string (protobuf JSON int64). */
const int64 = (v: unknown, path: string): number => {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v) // beyond 2^53 (an "unlimited" cgroup limit): approximate
  throw new At(path, "expected a non-negative integer")
}
const optInt = (v: unknown, path: string): number | undefined => (v === undefined || v === null ? undefined : int64(v, path))
/** A signed integer (exit codes may be negative on some runtimes). */
const optSigned = (v: unknown, path: string): number | undefined => {
  if (v === undefined || v === null) return undefined
  if (typeof v === "number" && Number.isSafeInteger(v)) return v
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v)
  throw new At(path, "expected an integer")
}
const stringMap = (v: unknown, path: string): Record<string, string> => {
  const o = optObj(v, path)
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(o)) out[k] = str(x, `${path}.${k}`)
  return out
}
const state = (v: unknown, path: string): ContainerState => {
  const s = str(v, path)
  if (!STATES.has(s)) throw new At(path, `unknown container state ${JSON.stringify(s)}`)
  return s as ContainerState
}
/** createdAt in `crictl ps`: nanoseconds since the epoch. */
const nanosDate = (v: unknown, path: string): Date | undefined => {
  if (v === undefined || v === null) return undefined
  const s = typeof v === "number" ? BigInt(Math.trunc(v)) : /^\d+$/.test(str(v, path)) ? BigInt(v as string) : undefined
  if (s === undefined) throw new At(path, "expected nanoseconds since the epoch")
  return s === 0n ? undefined : new Date(Number(s / 1_000_000n))
}
/** Timestamps in `crictl inspect`: RFC 3339 (the zero time → undefined), or nanoseconds. */
const timeDate = (v: unknown, path: string): Date | undefined => {
  if (v === undefined || v === null || v === "") return undefined
  if (typeof v === "number" || (typeof v === "string" && /^\d+$/.test(v))) return nanosDate(v, path)
  const s = str(v, path)
  if (s.startsWith("0001-01-01T") || s.startsWith("1970-01-01T00:00:00Z")) return undefined
  const d = new Date(s)
  if (Number.isNaN(d.getTime())) throw new At(path, "expected an RFC 3339 time")
  return d
}

const kubernetes = (labels: Record<string, string>, annotations: Record<string, string>): KubernetesInfo => ({
  podName: labels["io.kubernetes.pod.name"],
  podNamespace: labels["io.kubernetes.pod.namespace"],
  podUid: labels["io.kubernetes.pod.uid"],
  restartCount: annotations["io.kubernetes.container.restartCount"] !== undefined ? P.int(annotations["io.kubernetes.container.restartCount"]) : undefined
})

const decode = <A>(parser: string, text: string, f: (doc: unknown) => A): Effect.Effect<A, P.ParseError> =>
  Effect.flatMap(P.json(parser, text), (doc) => {
    try {
      return Effect.succeed(f(doc))
    } catch (e) {
      if (e instanceof At) return Effect.fail(P.at(parser, 0, "", e.problem, e.path))
      return Effect.die(e)
    }
  })

const PS = "crictl ps -o json"

/** Parses `crictl ps -o json` (`{"containers": [...]}`; `{}` or no `containers` is none). Fails naming the JSON path of a bad value. */
export const parsePs = (text: string): Effect.Effect<ReadonlyArray<Container>, P.ParseError> =>
  decode(PS, text, (doc) => {
    const root = obj(doc, "$")
    const list = root["containers"] ?? []
    if (!Array.isArray(list)) throw new At("containers", "expected an array")
    return list.map((c: unknown, i): Container => {
      const p = `containers[${i}]`
      const o = obj(c, p)
      const metadata = optObj(o["metadata"], `${p}.metadata`)
      const image = optObj(o["image"], `${p}.image`)
      const labels = stringMap(o["labels"], `${p}.labels`)
      const annotations = stringMap(o["annotations"], `${p}.annotations`)
      return {
        id: str(o["id"], `${p}.id`),
        podSandboxId: str(o["podSandboxId"], `${p}.podSandboxId`),
        name: str(metadata["name"], `${p}.metadata.name`),
        attempt: optInt(metadata["attempt"], `${p}.metadata.attempt`) ?? 0,
        image: optStr(image["image"], `${p}.image.image`) ?? "",
        imageRef: optStr(o["imageRef"], `${p}.imageRef`) ?? "",
        state: state(o["state"], `${p}.state`),
        createdAt: nanosDate(o["createdAt"], `${p}.createdAt`),
        labels,
        annotations,
        ...kubernetes(labels, annotations)
      }
    })
  })

const INSPECT = "crictl inspect"

/** Parses `crictl inspect <id>` (`{"status": {...}, "info": {...}}`). Fails naming the JSON path of a bad value. */
export const parseInspect = (text: string): Effect.Effect<Inspect, P.ParseError> =>
  decode(INSPECT, text, (doc) => {
    const root = obj(doc, "$")
    const status = obj(root["status"], "status")
    const info = optObj(root["info"], "info")
    const metadata = optObj(status["metadata"], "status.metadata")
    const image = optObj(status["image"], "status.image")
    const labels = stringMap(status["labels"], "status.labels")
    const annotations = stringMap(status["annotations"], "status.annotations")
    const linux = optObj(optObj(status["resources"], "status.resources")["linux"], "status.resources.linux")
    const pid = optInt(info["pid"], "info.pid")
    const limit = optInt(linux["memoryLimitInBytes"], "status.resources.linux.memoryLimitInBytes")
    const reason = optStr(status["reason"], "status.reason")
    const message = optStr(status["message"], "status.message")
    return {
      id: str(status["id"], "status.id"),
      name: str(metadata["name"], "status.metadata.name"),
      attempt: optInt(metadata["attempt"], "status.metadata.attempt") ?? 0,
      state: state(status["state"], "status.state"),
      createdAt: timeDate(status["createdAt"], "status.createdAt"),
      startedAt: timeDate(status["startedAt"], "status.startedAt"),
      finishedAt: timeDate(status["finishedAt"], "status.finishedAt"),
      exitCode: optSigned(status["exitCode"], "status.exitCode"),
      reason: reason === "" ? undefined : reason,
      message: message === "" ? undefined : message,
      image: optStr(image["image"], "status.image.image"),
      imageRef: optStr(status["imageRef"], "status.imageRef"),
      pid: pid === 0 ? undefined : pid,
      memoryLimitBytes: limit === 0 ? undefined : limit,
      labels,
      annotations,
      ...kubernetes(labels, annotations)
    }
  })

// ---------------------------------------------------------------------------------------------
// crictl images -o json

/** One image of `crictl images -o json` (the CRI `ListImages` response). */
export interface Image {
  readonly id: string
  readonly repoTags: ReadonlyArray<string>
  readonly repoDigests: ReadonlyArray<string>
  /** `size` (uint64, a JSON string in protobuf JSON): bytes. */
  readonly sizeBytes: number
  /** Pinned images (the pause image) are never pruned. */
  readonly pinned: boolean
}

const IMAGES = "crictl images -o json"

const strings = (v: unknown, path: string): ReadonlyArray<string> => {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new At(path, "expected an array of strings")
  return v.map((x, i) => str(x, `${path}[${i}]`))
}

/** Parses `crictl images -o json` (`{"images": [...]}`; `{}` is none). Fails naming the JSON path of a bad value (a size that is not an integer …). */
export const parseImages = (text: string): Effect.Effect<ReadonlyArray<Image>, P.ParseError> =>
  decode(IMAGES, text, (doc) => {
    const root = obj(doc, "$")
    const list = root["images"] ?? []
    if (!Array.isArray(list)) throw new At("images", "expected an array")
    return list.map((c: unknown, i): Image => {
      const p = `images[${i}]`
      const o = obj(c, p)
      const pinned = o["pinned"]
      if (pinned !== undefined && pinned !== null && typeof pinned !== "boolean") throw new At(`${p}.pinned`, "expected a boolean")
      return {
        id: str(o["id"], `${p}.id`),
        repoTags: strings(o["repoTags"], `${p}.repoTags`),
        repoDigests: strings(o["repoDigests"], `${p}.repoDigests`),
        sizeBytes: int64(o["size"], `${p}.size`),
        pinned: pinned === true
      }
    })
  })

/** The total size of images, bytes. */
export const totalSize = (images: ReadonlyArray<Image>): number => images.reduce((a, i) => a + i.sizeBytes, 0)
