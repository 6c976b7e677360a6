/**
 * Small `/proc/<pid>` readers: `oom_score_adj`, `cmdline` (NUL-separated argv) and `environ`
 * limited to named variables. `environ` never returns a variable it was not asked for (a
 * process's environment holds secrets); by default it reads only the heap settings the memory
 * runbooks use: JAVA_TOOL_OPTIONS, NODE_OPTIONS, GOMEMLIMIT.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ParseError } from "@byteport/core/shell"
import * as fs from "node:fs"
import * as HostError from "../HostError"
import * as Parse from "../internal/parse"

/** The variables `environ` reads when not told otherwise. */
export const HEAP_VARIABLES: ReadonlyArray<string> = ["JAVA_TOOL_OPTIONS", "NODE_OPTIONS", "GOMEMLIMIT"]

/** `/proc/<pid>/oom_score_adj` (−1000 … 1000). */
export const oomScoreAdj = (pid: number, procRoot = "/proc"): Effect.Effect<number, HostError.HostReadError | ParseError> =>
  Effect.flatMap(HostError.readText(`${procRoot}/${pid}/oom_score_adj`), (text) => {
    const n = Parse.sint(text.trim())
    return n === undefined || n < -1000 || n > 1000
      ? Effect.fail(Parse.at("/proc/<pid>/oom_score_adj", 1, text.trim(), "expected an integer in −1000 … 1000"))
      : Effect.succeed(n)
  })

const readBytes = (path: string): Effect.Effect<Buffer, HostError.HostReadError> =>
  Effect.tryPromise({ try: () => fs.promises.readFile(path), catch: (e) => HostError.fromError(path, "read", e) })

const nulSplit = (b: Buffer): Array<string> => {
  const parts = b.toString("utf8").split("\0")
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop()
  return parts
}

/** `/proc/<pid>/cmdline` as argv (empty for kernel threads and zombies). */
export const cmdline = (pid: number, procRoot = "/proc"): Effect.Effect<ReadonlyArray<string>, HostError.HostReadError> =>
  Effect.map(readBytes(`${procRoot}/${pid}/cmdline`), nulSplit)

/** The named variables of `/proc/<pid>/environ` that are set (only those: nothing else is returned). */
export const environ = (pid: number, names: ReadonlyArray<string> = HEAP_VARIABLES, procRoot = "/proc"): Effect.Effect<Readonly<Record<string, string>>, HostError.HostReadError> =>
  Effect.map(readBytes(`${procRoot}/${pid}/environ`), (b) => {
    const wanted = new Set(names)
    const out: Record<string, string> = {}
    for (const entry of nulSplit(b)) {
      const i = entry.indexOf("=")
      if (i <= 0) continue
      const name = entry.slice(0, i)
      if (wanted.has(name)) out[name] = entry.slice(i + 1)
    }
    return out
  })
