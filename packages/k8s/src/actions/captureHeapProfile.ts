/**
 * `k8s.captureHeapProfile`: captures a heap profile of the container through the configured
 * `HeapProfiler` and returns it as an attachment (`result.attachments`), which the runbook's
 * escalation bundle carries. A profile that cannot be captured fails the step with
 * "not captured: <why>" (the plan's Fallback escalates without it). Read-only for the target:
 * in dry_run nothing is captured.
 *
 * @since 0.1.0
 */
import { ActionHandler, type Json } from "@byteport/core"
import { Effect, Schema } from "effect"
import { HeapProfiler } from "./heapProfiler"

/** The action kind. */
export const KIND = "k8s.captureHeapProfile"

/** The params. */
export const Params = Schema.Struct({
  namespace: Schema.String,
  pod: Schema.String,
  container: Schema.String,
  runtime: Schema.optionalKey(Schema.NullOr(Schema.Literals(["jvm", "go", "node"])))
})

/** The handler. */
export const make = (): ActionHandler.ActionHandler<HeapProfiler> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed, HeapProfiler> {
        const profiler = yield* HeapProfiler
        const where = `${p.namespace}/${p.pod} container ${p.container}`
        if (ctx.dryRun) return { detail: `would capture a heap profile of ${where} with ${profiler.name}`, result: { profiler: profiler.name, dryRun: true } }
        const attachment = yield* profiler.capture({ namespace: p.namespace, pod: p.pod, container: p.container, runtime: p.runtime ?? undefined }).pipe(
          Effect.mapError((e) => new ActionHandler.ActionFailed({ kind: KIND, message: `not captured: ${e.message}` }))
        )
        return {
          detail: `captured a heap profile of ${where} with ${profiler.name} (${attachment.sizeBytes ?? attachment.content.length} bytes)`,
          result: { profiler: profiler.name, attachments: [JSON.parse(JSON.stringify(attachment)) as Json.JsonObject] }
        }
      })
  })
