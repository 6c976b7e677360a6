/**
 * The effect that performs one action kind. Handlers are registered by their package
 * (`k8s.patchMemoryLimit`, `pg.terminateBackend` …) and carry the action-kind guardrails that
 * protect their targets. A handler runs only with a Permit minted by the executor for exactly
 * that action: `run` redeems the permit before anything else and refuses otherwise.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import * as A from "./Action"
import type { Guardrail } from "./Guardrail"
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

/** The result of a handler run: what it did (or would do, in dry_run), for the outcome record. */
export interface HandlerResult {
  readonly detail: string
  readonly result: JsonObject
}

/** A registered handler for one action kind. */
export interface ActionHandler<R = never> {
  readonly kind: string
  /** Action-kind guardrails: every runbook and hand-off that uses this kind gets them. */
  readonly guardrails: ReadonlyArray<Guardrail<R>>
  /** Redeems the permit, decodes params and performs (or, with a dry_run permit, validates) the action. */
  readonly run: (action: A.Action, permit: P.Permit) => Effect.Effect<HandlerResult, ActionFailed | P.PermitRefused, R>
}

/**
 * Builds a handler. `apply` receives decoded params; it is only ever called after the permit
 * was redeemed, and with `dryRun: true` for dry_run permits.
 */
export const make = <P, R = never>(options: {
  readonly kind: string
  readonly params: Schema.Codec<P, unknown>
  readonly guardrails?: ReadonlyArray<Guardrail<R>>
  readonly apply: (params: P, ctx: ApplyContext) => Effect.Effect<HandlerResult, ActionFailed, R>
}): ActionHandler<R> => ({
  kind: options.kind,
  guardrails: options.guardrails ?? [],
  run: (action, permit) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const refused = P.redeem(permit, options.kind, A.digest(action), now)
      if (refused) return yield* refused
      if (action.kind !== options.kind) {
        return yield* new ActionFailed({ kind: options.kind, message: `handler ${options.kind} cannot run ${action.kind}` })
      }
      const params = yield* Schema.decodeUnknownEffect(options.params)(action.params).pipe(
        Effect.mapError((e) => new ActionFailed({ kind: options.kind, message: `invalid params: ${e.message}` }))
      )
      return yield* options.apply(params, { action, dryRun: permit.mode === "dry_run", incidentId: permit.incidentId })
    })
})
