/**
 * `k8s.raiseHpaMinReplicas`: raises an autoscaling/v2 HPA's `spec.minReplicas` (within
 * `maxReplicas`) so the workload scales out now, and annotates the HPA with why
 * (`byteport.io/scale-out-reason`, `byteport.io/previous-min-replicas`, `byteport.io/incident`).
 * A merge patch conditional on the HPA's resourceVersion; on 409 it re-reads and retries once
 * only if `minReplicas` is still the planned `fromMinReplicas`. dry_run sends `dryRun=All`.
 * Otherwise the handler then waits (Effect Clock, 2 s polls, up to `scaleTimeoutSeconds`, default
 * 120) for the HPA's target to have that many Ready replicas, so verification starts once the
 * new pods serve.
 *
 * `observe` reads the HPA: `minReplicas` at the planned value (annotated with this incident) is
 * applied, at the planned-from value is not applied, anything else is unknown.
 *
 * Guardrail: `never` when there is no HPA, when it is already at `maxReplicas`, or when the new
 * minimum would not add replicas — so a plan's Fallback takes the next step (a memory bump).
 *
 * @since 0.1.0
 */
import { ActionHandler, Guardrail } from "@byteport/core"
import { Clock, Effect, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import { Kube } from "../Kube"
import * as KubePatch from "../KubePatch"

/** The action kind. */
export const KIND = "k8s.raiseHpaMinReplicas"

/** The annotation holding the reason. */
export const REASON_ANNOTATION = "byteport.io/scale-out-reason"
/** The annotation holding the previous minReplicas (for a human undo). */
export const PREVIOUS_ANNOTATION = "byteport.io/previous-min-replicas"
/** The annotation holding the incident id. */
export const INCIDENT_ANNOTATION = "byteport.io/incident"

/** The params. */
export const Params = Schema.Struct({
  namespace: Schema.String,
  hpa: Schema.NullOr(Schema.String),
  fromMinReplicas: Schema.Number,
  toMinReplicas: Schema.Number,
  maxReplicas: Schema.Number,
  currentReplicas: Schema.Number,
  reason: Schema.String,
  scaleTimeoutSeconds: Schema.optionalKey(Schema.Number)
})

/** The params. */
export type Params = typeof Params.Type

const ActionFailed = ActionHandler.ActionFailed

/** Why a scale-out cannot help, or undefined when it can. */
export const noHeadroom = (p: { readonly [k: string]: unknown }): string | undefined => {
  if (p["hpa"] === null || p["hpa"] === undefined) return "no HorizontalPodAutoscaler targets the workload"
  const cur = Number(p["currentReplicas"])
  const max = Number(p["maxReplicas"])
  const to = Number(p["toMinReplicas"])
  if (cur >= max) return `HPA ${String(p["hpa"])} is at maxReplicas (${cur}/${max})`
  if (to <= Number(p["fromMinReplicas"]) || to <= cur) return `raising minReplicas to ${to} adds no replica (current ${cur})`
  if (to > max) return `minReplicas ${to} would exceed maxReplicas ${max}`
  return undefined
}

/** The guardrails of the action kind. */
export const guardrails: ReadonlyArray<Guardrail.Guardrail<never>> = [
  Guardrail.never((c) => noHeadroom(c.action.params) !== undefined, (c) => `no HPA headroom: ${noHeadroom(c.action.params)}`, { name: "never_without_hpa_headroom" })
]

/** The handler. */
export const make = (): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const why = noHeadroom(p)
        if (why !== undefined || p.hpa === null) return yield* new ActionFailed({ kind: KIND, message: why ?? "no HPA" })
        const name = p.hpa
        const body = {
          metadata: { annotations: { [REASON_ANNOTATION]: p.reason, [PREVIOUS_ANNOTATION]: String(p.fromMinReplicas), [INCIDENT_ANNOTATION]: ctx.incidentId } },
          spec: { minReplicas: p.toMinReplicas }
        }
        const send = (rv: string) => kube.patch("HorizontalPodAutoscaler", { namespace: p.namespace, name }, KubePatch.merge(rv, body), { dryRun: ctx.dryRun })
        const patched = yield* send(String(ctx.action.precondition["resourceVersion"] ?? "")).pipe(
          Effect.catchTag("KubeConflict", () =>
            Effect.gen(function*() {
              const fresh = yield* kube.getHpa(p.namespace, name)
              if ((fresh.spec?.minReplicas ?? 1) !== p.fromMinReplicas) {
                return yield* new ActionFailed({ kind: KIND, conflict: true, message: `HPA ${p.namespace}/${name} minReplicas is ${fresh.spec?.minReplicas ?? 1}, not the planned ${p.fromMinReplicas}` })
              }
              return yield* send(fresh.metadata?.resourceVersion ?? "")
            })
          ),
          Effect.mapError((e) => (e._tag === "ActionFailed" ? e : new ActionFailed({ kind: KIND, conflict: e._tag === "KubeConflict", message: e.message })))
        )
        const what = `HPA ${p.namespace}/${name} minReplicas ${p.fromMinReplicas} → ${p.toMinReplicas} (max ${p.maxReplicas})`
        yield* recordEvent(patched, "ScaleOutRequested", `BytePort raised ${what}: ${p.reason} (incident ${ctx.incidentId})`, {
          dryRun: ctx.dryRun,
          kind: "HorizontalPodAutoscaler",
          apiVersion: "autoscaling/v2"
        })
        let scaled = "not awaited"
        const ref = patched.spec?.scaleTargetRef
        if (!ctx.dryRun && ref && (ref.kind === "Deployment" || ref.kind === "StatefulSet")) {
          const start = yield* Clock.currentTimeMillis
          for (;;) {
            const w = yield* (ref.kind === "Deployment" ? kube.getDeployment(p.namespace, ref.name) : kube.getStatefulSet(p.namespace, ref.name)).pipe(
              Effect.mapError((e) => new ActionFailed({ kind: KIND, message: e.message }))
            )
            const ready = w.status?.readyReplicas ?? 0
            if (ready >= p.toMinReplicas) {
              scaled = `${ready} Ready`
              break
            }
            if ((yield* Clock.currentTimeMillis) - start >= (p.scaleTimeoutSeconds ?? 120) * 1000) {
              scaled = `only ${ready}/${p.toMinReplicas} Ready after ${p.scaleTimeoutSeconds ?? 120}s`
              break
            }
            yield* Effect.sleep("2 seconds")
          }
        }
        return {
          detail: ctx.dryRun ? `would raise ${what} (validated with dryRun=All)` : `raised ${what}; scale-out: ${scaled}`,
          result: { hpa: name, fromMinReplicas: p.fromMinReplicas, toMinReplicas: p.toMinReplicas, scaled, dryRun: ctx.dryRun }
        }
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        if (p.hpa === null) return ActionHandler.unknown("no HPA named in the plan")
        const kube = yield* Kube
        const hpa = yield* kube.getHpa(p.namespace, p.hpa)
        const min = hpa.spec?.minReplicas ?? 1
        const what = `HPA ${p.namespace}/${p.hpa} minReplicas is ${min}`
        if (min === p.toMinReplicas && hpa.metadata?.annotations?.[INCIDENT_ANNOTATION] === ctx.incidentId) return ActionHandler.applied(what)
        if (min === p.fromMinReplicas) return ActionHandler.notApplied(what)
        return ActionHandler.unknown(`${what}: neither the planned ${p.fromMinReplicas} nor ${p.toMinReplicas} set by incident ${ctx.incidentId}`)
      })
  })
