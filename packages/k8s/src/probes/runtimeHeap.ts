/**
 * Runtime heap ceilings from a container's environment: the JVM's `-Xmx` (in JAVA_TOOL_OPTIONS,
 * JAVA_OPTS or JDK_JAVA_OPTIONS), Go's `GOMEMLIMIT`, and Node's `--max-old-space-size` (in
 * NODE_OPTIONS). A heap ceiling larger than the container's memory limit is the
 * `runtime_misconfig` class of k8s.oom.six-signal.
 *
 * @since 0.1.0
 */

/** The runtime a heap setting belongs to. */
export type Runtime = "jvm" | "go" | "node"

/** A heap ceiling found in the environment. */
export interface RuntimeHeap {
  readonly runtime: Runtime
  /** The environment variable it came from. */
  readonly variable: string
  /** The setting as written ("-Xmx2g", "GOMEMLIMIT=1500MiB", "--max-old-space-size=4096"). */
  readonly setting: string
  readonly heapBytes: number
}

/** One env entry as the pod spec has it (`valueFrom` entries have no literal value and are skipped). */
export interface EnvVar {
  readonly name: string
  readonly value?: string | undefined
}

const jvmUnits: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }
const goUnits: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 }

/** Parses a JVM size ("2g", "512m", "1048576"). */
export const parseJvmSize = (s: string): number | undefined => {
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(s)
  return m ? Number(m[1]) * jvmUnits[m[2]!.toLowerCase()]! : undefined
}

/** Parses a GOMEMLIMIT value ("1500MiB", "2GiB", "1073741824", "off"). */
export const parseGoMemLimit = (s: string): number | undefined => {
  const m = /^(\d+)(B|KiB|MiB|GiB|TiB)?$/.exec(s.trim())
  return m ? Number(m[1]) * goUnits[m[2] ?? "B"]! : undefined
}

/** Finds the heap ceilings in a container's env (the last -Xmx wins, as on the JVM command line). */
export const fromEnv = (env: ReadonlyArray<EnvVar>): ReadonlyArray<RuntimeHeap> => {
  const found: Array<RuntimeHeap> = []
  for (const v of env) {
    if (v.value === undefined) continue
    if (["JAVA_TOOL_OPTIONS", "JAVA_OPTS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"].includes(v.name)) {
      const all = [...v.value.matchAll(/(?:^|\s)-Xmx(\d+[kKmMgGtT]?)(?=\s|$)/g)]
      const last = all[all.length - 1]
      const bytes = last ? parseJvmSize(last[1]!) : undefined
      if (last && bytes !== undefined) found.push({ runtime: "jvm", variable: v.name, setting: `-Xmx${last[1]}`, heapBytes: bytes })
    } else if (v.name === "GOMEMLIMIT") {
      const bytes = parseGoMemLimit(v.value)
      if (bytes !== undefined) found.push({ runtime: "go", variable: v.name, setting: `GOMEMLIMIT=${v.value.trim()}`, heapBytes: bytes })
    } else if (v.name === "NODE_OPTIONS") {
      const all = [...v.value.matchAll(/--max-old-space-size[= ](\d+)/g)]
      const last = all[all.length - 1]
      if (last) {
        found.push({ runtime: "node", variable: v.name, setting: `--max-old-space-size=${last[1]}`, heapBytes: Number(last[1]) * 2 ** 20 })
      }
    }
  }
  return found
}

/** The largest heap ceiling, if any (the one that matters against the container limit). */
export const largest = (heaps: ReadonlyArray<RuntimeHeap>): RuntimeHeap | null =>
  heaps.reduce<RuntimeHeap | null>((a, h) => (a === null || h.heapBytes > a.heapBytes ? h : a), null)
