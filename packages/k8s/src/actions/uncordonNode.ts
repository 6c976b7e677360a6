/**
 * `k8s.uncordonNode`: makes a node BytePort cordoned schedulable again (`kubectl uncordon`), once
 * it has recovered:
 *
 * - only a node this incident still owns: `byteport.io/cordoned-by: <incident>` and
 *   `spec.unschedulable` unchanged. A node someone else cordoned is never uncordoned (the kind's
 *   guardrail denies it; the handler re-checks); a node someone already uncordoned is left as is.
 * - only after the node has been Ready and free of Memory/Disk/PID pressure (and
 *   NetworkUnavailable) for `healthyDelaySeconds` (300): the handler polls every `pollSeconds`
 *   and a flap — a poll that sees it unhealthy, or a condition that moved in between
 *   (lastTransitionTime) — restarts the clock.
 * - not recovered within `recoveryTimeoutSeconds` (1800): the node stays cordoned (so its
 *   BytePort cordon slot stays taken) and the action fails, so the incident escalates.
 *
 * The uncordon is one JSON patch that tests the annotation and `spec.unschedulable`, then removes
 * both: a concurrent change by anyone makes it fail, never undo their cordon. dry_run validates
 * that patch with `dryRun=All` (when the node is cordoned by this incident) without waiting. An
 * `Uncordoned` Event is recorded.
 *
 * `observe`: owned and cordoned → not applied; schedulable without this incident's annotation →
 * applied; anything else → unknown.
 *
 * @since 0.2.0
 */
import { ActionHandler } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Clock, Effect, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import * as NodeGuards from "../guardrails/nodeGuards"
import { Kube } from "../Kube"
import * as KubePatch from "../KubePatch"

/** The action kind. */
export const KIND = "k8s.uncordonNode"

const Seconds = Schema.Number.check(Schema.isGreaterThan(0))

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  reason: Schema.String,
  healthyDelaySeconds: Seconds,
  recoveryTimeoutSeconds: Seconds,
  pollSeconds: Schema.optionalKey(Seconds)
})

/** The params' type. */
export type Params = typeof Params.Type

const ActionFailed = ActionHandler.ActionFailed

const done = (detail: string, result: Json.JsonObject): ActionHandler.HandlerResult => ({ detail, result })

/** The JSON-pointer of the cordoned-by annotation. */
export const ANNOTATION_PATH = `/metadata/annotations/${NodeGuards.CORDONED_BY.replace(/~/g, "~0").replace(/\//g, "~1")}`

/** The uncordon patch: tests this incident's annotation and the cordon, then removes both. */
export const patchFor = (incident: string): KubePatch.KubePatch =>
  KubePatch.json(
    KubePatch.test(ANNOTATION_PATH, incident),
    KubePatch.test("/spec/unschedulable", true),
    { op: "remove", path: "/spec/unschedulable" },
    { op: "remove", path: ANNOTATION_PATH }
  )

/**
 * The healthy-delay clock over successive polls: the start of the current healthy stretch, or
 * undefined while the node is unhealthy. A poll that sees it unhealthy clears it; a later
 * lastTransitionTime (a flap between polls) moves it forward.
 */
export const nextHealthyFrom = (previous: number | undefined, sinceNow: number | undefined): number | undefined =>
  sinceNow === undefined ? undefined : previous === undefined ? sinceNow : Math.max(previous, sinceNow)

/** The action's timeout for its params: the recovery timeout plus a margin. */
export const timeoutMsFor = (p: Pick<Params, "recoveryTimeoutSeconds" | "healthyDelaySeconds">): number => (p.recoveryTimeoutSeconds + 120) * 1000

/** The handler, with its guardrail (never undo a cordon this incident does not own). */
export const make = (): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: [NodeGuards.neverUndoOthersCordon],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const fail = (message: string, conflict = false) => new ActionFailed({ kind: KIND, message, conflict })
        const get = kube.getNode(p.node).pipe(Effect.mapError((e) => fail(e.message)))
        const first = yield* get
        const foreign = (n: typeof first) => NodeGuards.isCordoned(n) && NodeGuards.cordonedBy(n) !== ctx.incidentId
        if (foreign(first)) return yield* fail(`node ${p.node} is cordoned by someone else (${NodeGuards.cordonedBy(first) ?? "no byteport.io/cordoned-by"}): BytePort never undoes it`, true)
        if (!NodeGuards.isCordoned(first) && ctx.dryRun) {
          return done(`would uncordon node ${p.node} once it is Ready and pressure-free for ${p.healthyDelaySeconds}s (within ${p.recoveryTimeoutSeconds}s); the dry-run cordon was not persisted, so there is nothing to validate`, { node: p.node, uncordoned: false, dryRun: true })
        }
        if (!NodeGuards.isCordoned(first)) {
          return done(`node ${p.node} is already schedulable: nothing to uncordon`, { node: p.node, uncordoned: false, dryRun: ctx.dryRun })
        }
        if (ctx.dryRun) {
          yield* kube.patch("Node", { name: p.node }, patchFor(ctx.incidentId), { dryRun: true }).pipe(Effect.mapError((e) => fail(e.message)))
          return done(`would uncordon node ${p.node} once Ready and pressure-free for ${p.healthyDelaySeconds}s (validated with dryRun=All)`, { node: p.node, uncordoned: false, dryRun: true })
        }
        const start = yield* Clock.currentTimeMillis
        const poll = p.pollSeconds ?? 15
        let healthyFrom: number | undefined
        let flaps = 0
        for (;;) {
          const node = yield* get
          const now = yield* Clock.currentTimeMillis
          if (foreign(node)) return yield* fail(`node ${p.node} was re-cordoned by someone else while BytePort waited: it stays cordoned`, true)
          if (!NodeGuards.isCordoned(node)) {
            return done(`node ${p.node} was uncordoned by someone else while BytePort waited: not touched`, { node: p.node, uncordoned: false, dryRun: false })
          }
          const next = nextHealthyFrom(healthyFrom, NodeGuards.healthySince(node))
          if (healthyFrom !== undefined && next !== healthyFrom) flaps++
          healthyFrom = next
          if (healthyFrom !== undefined && now - healthyFrom >= p.healthyDelaySeconds * 1000) break
          if (now - start >= p.recoveryTimeoutSeconds * 1000) {
            return yield* fail(
              `node ${p.node} did not stay Ready and pressure-free for ${p.healthyDelaySeconds}s within ${p.recoveryTimeoutSeconds}s (${NodeGuards.unavailableReason(node) ?? "pressure"}${flaps ? `, ${flaps} flap(s)` : ""}): it stays cordoned and keeps its BytePort cordon slot`
            )
          }
          yield* Effect.sleep(`${poll} seconds`)
        }
        const patched = yield* kube.patch("Node", { name: p.node }, patchFor(ctx.incidentId)).pipe(
          Effect.mapError((e) => fail(`uncordon of ${p.node} refused (${e.message}): the node changed; it stays as it is`, e._tag === "KubeConflict" || e._tag === "KubeInvalid"))
        )
        const waited = Math.round(((yield* Clock.currentTimeMillis) - start) / 1000)
        yield* recordEvent(patched, "Uncordoned", `BytePort uncordoned node ${p.node}: Ready and pressure-free for ${p.healthyDelaySeconds}s (${p.reason}; incident ${ctx.incidentId})`, {
          kind: "Node",
          apiVersion: "v1",
          type: "Normal"
        })
        return done(
          `uncordoned node ${p.node} after it was Ready and pressure-free for ${p.healthyDelaySeconds}s (waited ${waited}s${flaps ? `, ${flaps} flap(s) restarted the clock` : ""})`,
          { node: p.node, uncordoned: true, waitedSeconds: waited, flaps, dryRun: false }
        )
      }),
    observe: (p, ctx) =>
      Effect.map(Effect.flatMap(Kube, (kube) => kube.getNode(p.node)), (node) =>
        NodeGuards.ownedBy(node, ctx.incidentId)
          ? ActionHandler.notApplied(`node ${p.node} is still cordoned by this incident`)
          : !NodeGuards.isCordoned(node) && NodeGuards.cordonedBy(node) !== ctx.incidentId
          ? ActionHandler.applied(`node ${p.node} is schedulable`)
          : ActionHandler.unknown(`node ${p.node} is cordoned by someone else or still annotated`))
  })
