/**
 * Runtime OOM markers in the previous container's log (what it printed before it died):
 * `java.lang.OutOfMemoryError` (JVM; with `-XX:+ExitOnOutOfMemoryError` it exits 3),
 * `fatal error: runtime: out of memory` (Go, exit 2), V8's `Reached heap limit` /
 * `JavaScript heap out of memory` (Node.js, exit 134), and Python's `MemoryError` (a traceback's
 * last line, exit 1).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { OomMarker } from "../classifiers/oom"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"

/** The markers, by runtime. */
export const MARKERS: ReadonlyArray<{ readonly runtime: OomMarker["runtime"]; readonly pattern: RegExp }> = [
  { runtime: "jvm", pattern: /java\.lang\.OutOfMemoryError/ },
  { runtime: "go", pattern: /fatal error: runtime: out of memory/ },
  { runtime: "node", pattern: /(Allocation failed - )?JavaScript heap out of memory|Reached heap limit/ },
  // the exception line itself ("MemoryError" or "MemoryError: …"), not a name merely containing it
  { runtime: "python", pattern: /^\s*(?:[\w.]+\.)?(?:_Array)?MemoryError(?::.*)?\s*$/ }
]

/** Finds the OOM markers in log text (one per matching line, lines trimmed to 300 characters). */
export const markersIn = (log: string): ReadonlyArray<OomMarker> => {
  const out: Array<OomMarker> = []
  for (const line of log.split("\n")) {
    for (const m of MARKERS) {
      if (m.pattern.test(line)) {
        out.push({ runtime: m.runtime, line: line.trim().slice(0, 300) })
        break
      }
    }
  }
  return out
}

/**
 * Reads the previous container's log (last 500 lines) and finds the markers. A container that
 * has not restarted has no previous log (400 from the API): no markers.
 */
export const probe = (namespace: string, pod: string, container: string, options: { readonly previous?: boolean; readonly tailLines?: number } = {}): Effect.Effect<ReadonlyArray<OomMarker>, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    return yield* kube.podLogs(namespace, pod, { container, previous: options.previous ?? true, tailLines: options.tailLines ?? 500 }).pipe(
      Effect.map(markersIn),
      Effect.catchTag("KubeBadRequest", () => Effect.succeed([] as ReadonlyArray<OomMarker>))
    )
  })
