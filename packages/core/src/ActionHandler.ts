/**
 * The effect that performs one action kind. Handlers are registered by their package
 * (`k8s.patchMemoryLimit`, `pg.terminateBackend` …) and carry the action-kind guardrails that
 * protect their targets. A handler runs only with a Permit minted by the executor for exactly
 * that action: `run` redeems the permit before anything else and refuses otherwise.
 *
 * Only handlers built by `make` are accepted by the `ActionRegistry` (a module-private brand):
 * a hand-written object with a `run` would receive genuine permits without redeeming them.
 * The handler object and its guardrail list are frozen.
 *
 * A handler may declare `observe(params)`: a read-only look at the target that tells whether
 * the action's effect is there (`Applied`), is not (`NotApplied`, the state it was planned from
 * still holds) or cannot be told (`Unknown`). The executor uses it when it resumes a step that
 * was acquired but not journaled as applied (the process died in between).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Schema } from "effect"
import * as A from "./Action"
import type { Guardrail } from "./Guardrail"
import { causeText } from "./internal/cause"
import { brand } from "./internal/handlers"
import type { JsonObject } from "./Json"
import * as P from "./Permit"

/** The action failed (the target refused, a precondition no longer held, a timeout …). */
export class ActionFailed extends Schema.TaggedError<ActionFailed>()("ActionFailed", {
  kind: Schema.String,
  message: Schema.String,
  /** Whether the failure is a broken precondition (the target changed since planning). */
  conflict: Schema.optionalKey(Schema.Boolean),
  cause: Schema.optional(Schema.Defect())
}) {}

/** What the handler gets besides the decoded params. */
export interface ApplyContext {
  readonly action: A.Action
  /** True in dry_run: the handler must not write (it may validate server-side, e.g. Kubernetes dryRun=All). */
  readonly dryRun: boolean
  readonly incidentId: string
}

/** What `observe` gets besides the decoded params. */
export interface ObserveContext {
  readonly action: A.Action
  readonly incidentId: string
  /** Epoch ms at which the step's budget was acquired: the action, if it ran, ran after this. */
  readonly since: number
}

/** What `observe` saw: the action's effect is there, is not there, or cannot be told. */
export type Observation =
  | { readonly _tag: "Applied"; readonly detail: string }
  | { readonly _tag: "NotApplied"; readonly detail: string }
  | { readonly _tag: "Unknown"; readonly detail: string }

/** The action's effect is on the target (journal it as applied, do not act again). */
export const applied = (detail: string): Observation => ({ _tag: "Applied", detail })
/** The action's effect is not on the target and the planned-from state still holds (safe to run it). */
export const notApplied = (detail: string): Observation => ({ _tag: "NotApplied", detail })
/** Whether the action ran cannot be told (escalate: "interrupted, outcome unknown"). */
export const unknown = (detail: string): Observation => ({ _tag: "Unknown", detail })

/** The result of a handler run: what it did (or would do, in dry_run), for the outcome record. */
export interface HandlerResult {
  readonly detail: string
  readonly result: JsonObject
}

/** A change a handler undoes by itself after a while (`TimedUndo`): the undo action and when. */
export interface TimedUndoSpec {
  readonly afterMs: number
  readonly action: A.Action
}

/** A registered handler for one action kind. Build it with `make`: the registry accepts nothing else. */
export interface ActionHandler<R = never> {
  readonly kind: string
  /** Action-kind guardrails: every runbook and hand-off that uses this kind gets them. */
  readonly guardrails: ReadonlyArray<Guardrail<R>>
  /** Redeems the permit, decodes params and performs (or, with a dry_run permit, validates) the action. */
  readonly run: (action: A.Action, permit: P.Permit) => Effect.Effect<HandlerResult, ActionFailed | P.PermitRefused, R>
  /** Read-only: whether the action's effect is on the target (absent: the handler cannot tell). Never fails. */
  readonly observe?: ((action: A.Action, ctx: { readonly incidentId: string; readonly since: number }) => Effect.Effect<Observation, never, R>) | undefined
  /** The undo the executor journals before the action runs, fired by `TimedUndo` when due (absent: none). */
  readonly timedUndo?: ((action: A.Action) => TimedUndoSpec | undefined) | undefined
}

/**
 * Builds a handler. `apply` receives decoded params; it is only ever called after the permit
 * was redeemed, and with `dryRun: true` for dry_run permits (read from the permit's sealed
 * state, never from the object passed in). `observe`, when given, must only read; its failures
 * and defects count as `Unknown`.
 *
 * @example
 * ```ts
 * import { ActionHandler } from "@byteport/core"
 * import { Effect, Schema } from "effect"
 * let replicas = 1
 * const scale = ActionHandler.make({
 *   kind: "demo.scale",
 *   params: Schema.Struct({ from: Schema.Number, to: Schema.Number }),
 *   apply: (p, ctx) => Effect.sync(() => {
 *     if (!ctx.dryRun) replicas = p.to
 *     return { detail: `scaled ${p.from} → ${p.to}`, result: { replicas: p.to } }
 *   }),
 *   observe: (p) => Effect.succeed(
 *     replicas === p.to ? ActionHandler.applied(`replicas ${replicas}`)
 *       : replicas === p.from ? ActionHandler.notApplied(`replicas still ${replicas}`)
 *       : ActionHandler.unknown(`replicas ${replicas}, neither ${p.from} nor ${p.to}`))
 * })
 * ```
 */
export const make = <P, R = never>(options: {
  readonly kind: string
  readonly params: Schema.Codec<P, unknown>
  readonly guardrails?: ReadonlyArray<Guardrail<R>>
  readonly apply: (params: P, ctx: ApplyContext) => Effect.Effect<HandlerResult, ActionFailed, R>
  readonly observe?: (params: P, ctx: ObserveContext) => Effect.Effect<Observation, unknown, R>
  /**
   * A change that must not outlive a TTL (debug logging): the undo action and after how long.
   * The executor journals it in the store before the action runs (cancelled if the action
   * fails and `observe` sees it not applied), and `TimedUndo` runs it through the executor when due, also after a restart.
   */
  readonly timedUndo?: (params: P, action: A.Action) => { readonly after: Duration.Input; readonly action: A.Action } | undefined
}): ActionHandler<R> => {
  const observe = options.observe
  const timedUndo = options.timedUndo
  return brand<ActionHandler<R>>({
    kind: options.kind,
    // Frozen copies: no one holding the handler can swap a guardrail's check out after registration.
    guardrails: Object.freeze((options.guardrails ?? []).map((g) => Object.freeze({ ...g }))),
    run: (action, permit) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const refused = P.redeem(permit, options.kind, A.digest(action), now)
        if (refused) return yield* refused
        // Redeemed, so genuine: its sealed state is what it was minted with.
        const sealed = P.sealedState(permit)!
        if (action.kind !== options.kind) {
          return yield* new ActionFailed({ kind: options.kind, message: `handler ${options.kind} cannot run ${action.kind}` })
        }
        const params = yield* Schema.decodeUnknownEffect(options.params)(action.params).pipe(
          Effect.mapError((e) => new ActionFailed({ kind: options.kind, message: `invalid params: ${e.message}` }))
        )
        return yield* options.apply(params, { action, dryRun: sealed.mode === "dry_run", incidentId: sealed.incidentId })
      }),
    observe: observe
      ? (action, ctx) =>
        Effect.gen(function*() {
          if (action.kind !== options.kind) return unknown(`handler ${options.kind} cannot observe ${action.kind}`)
          const params = yield* Schema.decodeUnknownEffect(options.params)(action.params)
          return yield* observe(params, { action, incidentId: ctx.incidentId, since: ctx.since })
        }).pipe(Effect.catchCause((cause) => Effect.succeed(unknown(`could not observe ${options.kind}: ${causeText(cause)}`))))
      : undefined,
    timedUndo: timedUndo
      ? (action) => {
        if (action.kind !== options.kind) return undefined
        const params = Schema.decodeUnknownExit(options.params)(action.params)
        if (params._tag !== "Success") return undefined
        const u = timedUndo(params.value, action)
        return u === undefined ? undefined : { afterMs: Duration.toMillis(Duration.fromInputUnsafe(u.after)), action: u.action }
      }
      : undefined
  })
}
