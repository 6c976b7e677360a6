/**
 * Heap profilers: how a heap profile of a running container is captured for an escalation.
 *
 * - `pprofHttp` (real): GETs a Go `net/http/pprof` heap profile (`/debug/pprof/heap`) over HTTP
 *   from a URL built for the pod (its pod IP and port in a cluster, or the API server's
 *   `pods/proxy` path); the gzipped protobuf becomes a base64 attachment.
 * - `jcmd` (JVM, `jcmd 1 GC.heap_dump` through pods/exec) and `nodeInspector` (Node.js, the
 *   inspector's `HeapProfiler.takeHeapSnapshot`) are declared runtimes; without an
 *   implementation wired in, `unavailable` answers "not captured: <why>".
 *
 * A profiler that cannot capture fails with `NotCaptured` naming why; the runbook's plan then
 * escalates without the profile, and says so.
 *
 * @since 0.1.0
 */
import type { Escalation } from "@byteport/core"
import { Context, Duration, Effect, Layer, Schema } from "effect"

/** The container to profile. */
export interface ProfileTarget {
  readonly namespace: string
  readonly pod: string
  readonly container: string
  /** The runtime, when known from the env (jvm, go, node). */
  readonly runtime?: "jvm" | "go" | "node" | undefined
}

/** No profile was captured, and why. */
export class NotCaptured extends Schema.TaggedError<NotCaptured>()("NotCaptured", {
  profiler: Schema.String,
  message: Schema.String
}) {}

/** The HeapProfiler service. */
export class HeapProfiler extends Context.Service<
  HeapProfiler,
  {
    /** A name for reports (`pprof-http`, `jcmd` …). */
    readonly name: string
    readonly capture: (target: ProfileTarget) => Effect.Effect<Escalation.Attachment, NotCaptured>
  }
>()("@byteport/k8s/HeapProfiler") {}

/** A profiler that never captures, with the reason (the default when nothing is configured). */
export const unavailable = (why: string): Layer.Layer<HeapProfiler> =>
  Layer.succeed(HeapProfiler, HeapProfiler.of({ name: "none", capture: () => Effect.fail(new NotCaptured({ profiler: "none", message: why })) }))

/** Options of `pprofHttp`. */
export interface PprofOptions {
  /** The profile URL for a container (e.g. `http://<podIP>:6060/debug/pprof/heap`). */
  readonly urlFor: (target: ProfileTarget) => Effect.Effect<string, NotCaptured>
  /** Request timeout (default 30 s). */
  readonly timeout?: Duration.Input | undefined
  /** Largest profile accepted (default 8 MiB). */
  readonly maxBytes?: number | undefined
}

/** A Go pprof heap profile over HTTP. */
export const pprofHttp = (options: PprofOptions): Layer.Layer<HeapProfiler> =>
  Layer.succeed(
    HeapProfiler,
    HeapProfiler.of({
      name: "pprof-http",
      capture: (t) =>
        Effect.gen(function*() {
          const url = yield* options.urlFor(t)
          const fail = (message: string) => new NotCaptured({ profiler: "pprof-http", message })
          const res = yield* Effect.tryPromise({ try: (signal) => fetch(url, { signal }), catch: (e) => fail(`GET ${url}: ${e instanceof Error ? e.message : String(e)}`) })
          if (!res.ok) return yield* fail(`GET ${url}: HTTP ${res.status}`)
          const buf = Buffer.from(yield* Effect.tryPromise({ try: () => res.arrayBuffer(), catch: (e) => fail(`reading ${url}: ${String(e)}`) }))
          if (buf.length === 0) return yield* fail(`GET ${url}: empty profile`)
          if (buf.length > (options.maxBytes ?? 8 * 2 ** 20)) return yield* fail(`GET ${url}: profile of ${buf.length} bytes exceeds the limit`)
          return {
            name: `heap-${t.namespace}-${t.pod}-${t.container}.pb.gz`,
            contentType: res.headers.get("content-type") ?? "application/octet-stream",
            encoding: "base64" as const,
            content: buf.toString("base64"),
            sizeBytes: buf.length
          }
        }).pipe(
          Effect.timeoutOrElse({
            duration: options.timeout ?? "30 seconds",
            orElse: () => Effect.fail(new NotCaptured({ profiler: "pprof-http", message: "no profile within the timeout" }))
          })
        )
    })
  )
