/**
 * The runtime of a service's main process for `host.memory.five-class`: JVM / Node / Go from its
 * cmdline and the named heap variables (JAVA_TOOL_OPTIONS, NODE_OPTIONS, GOMEMLIMIT), the
 * configured heap ceiling (-Xmx, -XX:MaxHeapSize, --max-old-space-size, GOMEMLIMIT), Node's
 * `--heapsnapshot-signal`, and the live heap probes: `jcmd <pid> GC.heap_info` through a Shell and
 * a Node heap endpoint (JSON `{ heapUsed, heapTotal, heapSizeLimit? }`).
 *
 * @since 0.1.0
 */
import type { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"

/** The runtime kinds. */
export type Kind = "jvm" | "node" | "go" | "other"

/** What the cmdline and environment say. */
export interface Runtime {
  readonly pid: number
  readonly starttime: number
  readonly comm: string
  readonly kind: Kind
  /** The configured heap ceiling, bytes, when a flag sets one. */
  readonly heapMaxBytes?: number | undefined
  /** Where the ceiling came from (`-Xmx512m`, `--max-old-space-size=256`, `GOMEMLIMIT=1GiB`). */
  readonly heapFlag?: string | undefined
  /** Node's `--heapsnapshot-signal` (cmdline or NODE_OPTIONS), when set. */
  readonly heapSnapshotSignal?: string | undefined
}

const UNITS: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/** A JVM size (`512m`, `2G`, `1048576`). */
export const jvmSize = (text: string): number | undefined => {
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(text)
  return m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : undefined
}

/** A Go GOMEMLIMIT (`1GiB`, `512MiB`, `1073741824`, `off`). */
export const goSize = (text: string): number | undefined => {
  const m = /^(\d+)(B|KiB|MiB|GiB|TiB)?$/.exec(text.trim())
  if (!m) return undefined
  const mult = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[(m[2] ?? "B") as "B"]
  return Number(m[1]) * mult
}

const splitOptions = (text: string | undefined): ReadonlyArray<string> => (text ?? "").split(/\s+/).filter((s) => s !== "")

/** Reads the runtime from argv and the named environment variables (last flag wins, as in the runtimes). */
export const classify = (p: { readonly pid: number; readonly starttime: number; readonly comm: string; readonly argv: ReadonlyArray<string>; readonly env: Readonly<Record<string, string>> }): Runtime => {
  const exe = (p.argv[0] ?? p.comm).split("/").pop() ?? ""
  const base = { pid: p.pid, starttime: p.starttime, comm: p.comm }
  if (exe === "java" || p.comm === "java") {
    let heapMaxBytes: number | undefined
    let heapFlag: string | undefined
    for (const a of [...splitOptions(p.env["JAVA_TOOL_OPTIONS"]), ...p.argv.slice(1)]) {
      const m = /^-Xmx(.+)$/.exec(a) ?? /^-XX:MaxHeapSize=(.+)$/.exec(a)
      const n = m ? jvmSize(m[1]!) : undefined
      if (n !== undefined) {
        heapMaxBytes = n
        heapFlag = a
      }
    }
    return { ...base, kind: "jvm", heapMaxBytes, heapFlag }
  }
  if (exe === "node" || exe === "nodejs" || p.comm === "node") {
    let heapMaxBytes: number | undefined
    let heapFlag: string | undefined
    let heapSnapshotSignal: string | undefined
    for (const a of [...splitOptions(p.env["NODE_OPTIONS"]), ...p.argv.slice(1)]) {
      const m = /^--max-old-space-size=(\d+)$/.exec(a)
      if (m) {
        heapMaxBytes = Number(m[1]) * 1024 * 1024
        heapFlag = a
      }
      const s = /^--heapsnapshot-signal=(\S+)$/.exec(a)
      if (s) heapSnapshotSignal = s[1]!.startsWith("SIG") ? s[1]! : `SIG${s[1]!}`
    }
    return { ...base, kind: "node", heapMaxBytes, heapFlag, heapSnapshotSignal }
  }
  const gml = p.env["GOMEMLIMIT"]
  if (gml !== undefined) {
    const n = goSize(gml)
    return { ...base, kind: "go", heapMaxBytes: n, heapFlag: n === undefined ? undefined : `GOMEMLIMIT=${gml}` }
  }
  return { ...base, kind: "other" }
}

/** A live heap reading. */
export interface Heap {
  readonly kind: "jvm" | "node" | "none"
  readonly usedBytes?: number | undefined
  readonly totalBytes?: number | undefined
  readonly limitBytes?: number | undefined
  /** The probe's raw first lines (for the report). */
  readonly detail: string
}

/** The heap probe failed (jcmd exited non-zero, the endpoint did not answer …). */
export class HeapProbeError extends Schema.TaggedError<HeapProbeError>()("HeapProbeError", {
  message: Schema.String
}) {}

/** Parses `jcmd <pid> GC.heap_info`: the first `total NK, used NK` figures (G1, Parallel, Serial, ZGC's `used NM, capacity NM`). */
export const parseHeapInfo = (text: string): Heap | undefined => {
  const m = /total (\d+)K, used (\d+)K/.exec(text)
  if (m) return { kind: "jvm", totalBytes: Number(m[1]) * 1024, usedBytes: Number(m[2]) * 1024, detail: text.split("\n").slice(0, 3).join("\n") }
  const z = /used (\d+)M, capacity (\d+)M, max capacity (\d+)M/.exec(text)
  if (z) return { kind: "jvm", usedBytes: Number(z[1]) * 1024 ** 2, totalBytes: Number(z[2]) * 1024 ** 2, limitBytes: Number(z[3]) * 1024 ** 2, detail: text.split("\n").slice(0, 3).join("\n") }
  return undefined
}

/** `jcmd <pid> GC.heap_info` through a Shell. */
export const jcmdHeapInfo = (shell: Shell.ShellShape, pid: number, jcmd = "jcmd"): Effect.Effect<Heap, HeapProbeError> =>
  Effect.gen(function*() {
    const r = yield* shell.run([jcmd, String(pid), "GC.heap_info"], { timeout: "20 seconds" }).pipe(Effect.mapError((e) => new HeapProbeError({ message: `jcmd: ${e.message}` })))
    if (r.exitCode !== 0) return yield* new HeapProbeError({ message: `jcmd ${pid} GC.heap_info exited ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 200)}` })
    const h = parseHeapInfo(r.stdout)
    if (h === undefined) return yield* new HeapProbeError({ message: `jcmd ${pid} GC.heap_info: no heap figures in ${JSON.stringify(r.stdout.slice(0, 200))}` })
    return h
  })

const NodeHeapJson = Schema.Struct({ heapUsed: Schema.Number, heapTotal: Schema.Number, heapSizeLimit: Schema.optionalKey(Schema.Number) })

/** A Node heap endpoint (GET, JSON `{ heapUsed, heapTotal, heapSizeLimit? }` as `process.memoryUsage()` / `v8.getHeapStatistics()` give). */
export const nodeHeap = (url: string): Effect.Effect<Heap, HeapProbeError> =>
  Effect.gen(function*() {
    const res = yield* Effect.tryPromise({ try: (signal) => fetch(url, { signal }), catch: (e) => new HeapProbeError({ message: `GET ${url}: ${e instanceof Error ? e.message : String(e)}` }) })
    if (!res.ok) return yield* new HeapProbeError({ message: `GET ${url}: HTTP ${res.status}` })
    const body = yield* Effect.tryPromise({ try: () => res.json() as Promise<unknown>, catch: () => new HeapProbeError({ message: `GET ${url}: not JSON` }) })
    const j = yield* Schema.decodeUnknownEffect(NodeHeapJson)(body).pipe(Effect.mapError((e) => new HeapProbeError({ message: `GET ${url}: ${e.message}` })))
    return { kind: "node" as const, usedBytes: j.heapUsed, totalBytes: j.heapTotal, limitBytes: j.heapSizeLimit, detail: `heapUsed ${j.heapUsed}, heapTotal ${j.heapTotal}` }
  })
