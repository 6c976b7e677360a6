/**
 * The registry of action handlers and checks, by kind. Packages register their handlers
 * (with the action-kind guardrails attached); the executor resolves every Act and CheckRef of
 * a plan through it. A plan naming an unregistered kind is denied before anything runs.
 *
 * Only handlers built by `ActionHandler.make` are accepted (they redeem their permit before
 * anything else): a hand-written handler object makes building the layer die with
 * `HandlerRejected`, and the executor denies any handler a registry hands out that was not
 * built that way.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { ActionHandler } from "./ActionHandler"
import { brand, isMade } from "./internal/handlers"
import type { Check } from "./Check"
import type { Guardrail } from "./Guardrail"
import { GuardrailStore } from "./GuardrailStore"

/** The registry service. */
export class ActionRegistry extends Context.Service<
  ActionRegistry,
  {
    readonly handler: (kind: string) => ActionHandler<never> | undefined
    readonly check: (kind: string) => Check<never> | undefined
    readonly kinds: ReadonlyArray<string>
  }
>()("@byteport/core/ActionRegistry") {}

/** A handler given to the registry was not built by `ActionHandler.make`. */
export class HandlerRejected extends Schema.TaggedError<HandlerRejected>()("HandlerRejected", {
  kind: Schema.String,
  message: Schema.String
}) {}

/** Provides the captured services to every handler, check and guardrail, so the registry needs nothing at use site. */
const bindHandler = <R>(h: ActionHandler<R>, ctx: Context.Context<R>, every: ReadonlyArray<Guardrail<R>> = []): ActionHandler<never> => {
  const observe = h.observe
  // The bound copy wraps the made handler's own `run` (which redeems first), so it keeps the brand.
  return brand<ActionHandler<never>>({
    kind: h.kind,
    guardrails: Object.freeze([...every, ...h.guardrails].map((g) => bindGuardrail(g, ctx))),
    run: (action, permit) => Effect.provideContext(h.run(action, permit), ctx),
    observe: observe ? (action, octx) => Effect.provideContext(observe(action, octx), ctx) : undefined,
    timedUndo: h.timedUndo
  })
}

/**
 * Binds a guardrail's requirements to a captured context. The GuardrailStore stays the
 * caller's (the executor's), so a dry_run can run `acquire` against a simulated store.
 */
export const bindGuardrail = <R>(g: Guardrail<R>, ctx: Context.Context<R>): Guardrail<never> => ({
  name: g.name,
  check: (c) => Effect.provideContext(g.check(c), ctx) as any,
  acquire: (c) => withCallerStore(g.acquire(c), ctx) as any,
  ...(g.recheckOnResume ? { recheckOnResume: true } : {})
})

const withCallerStore = <A, E, R>(eff: Effect.Effect<A, E, R | GuardrailStore>, ctx: Context.Context<R>) =>
  Effect.flatMap(Effect.serviceOption(GuardrailStore), (store) =>
    store._tag === "Some" ? Effect.provideContext(eff, Context.add(ctx, GuardrailStore, store.value)) : Effect.provideContext(eff, ctx))

/** Builds the registry from handlers and checks; their requirements become the layer's. */
export const layer = <R = never>(parts: {
  readonly handlers: ReadonlyArray<ActionHandler<R>>
  readonly checks?: ReadonlyArray<Check<R>>
  /**
   * Guardrails put in front of every registered handler's own (prohibitions no handler may
   * skip, e.g. "never delete a PersistentVolume"): a handler registered without them gets them.
   */
  readonly guardrails?: ReadonlyArray<Guardrail<R>>
}): Layer.Layer<ActionRegistry, never, R> =>
  Layer.effect(
    ActionRegistry,
    Effect.gen(function*() {
      const ctx = yield* Effect.context<R>()
      const handlers = new Map<string, ActionHandler<never>>()
      for (const h of parts.handlers) {
        if (!isMade(h)) {
          const kind = typeof (h as { readonly kind?: unknown })?.kind === "string" ? (h as { readonly kind: string }).kind : "?"
          return yield* Effect.die(new HandlerRejected({ kind, message: `the handler for ${kind} was not built by ActionHandler.make` }))
        }
        if (handlers.has(h.kind)) return yield* Effect.die(new Error(`two handlers registered for action kind ${h.kind}`))
        handlers.set(h.kind, bindHandler(h, ctx, parts.guardrails ?? []))
      }
      const checks = new Map<string, Check<never>>()
      for (const c of parts.checks ?? []) {
        checks.set(c.kind, { kind: c.kind, run: (ref, cctx) => Effect.provideContext(c.run(ref, cctx), ctx) })
      }
      return ActionRegistry.of({
        handler: (kind) => handlers.get(kind),
        check: (kind) => checks.get(kind),
        kinds: [...handlers.keys()]
      })
    })
  )

/** Merges several registries' parts (one per package) into one layer. */
export const merge = (...layers: ReadonlyArray<Layer.Layer<ActionRegistry, never, never>>): Layer.Layer<ActionRegistry> =>
  Layer.effect(
    ActionRegistry,
    Effect.gen(function*() {
      const regs = yield* Effect.forEach(layers, (l) => Effect.provide(Effect.service(ActionRegistry), l))
      return ActionRegistry.of({
        handler: (kind) => regs.map((r) => r.handler(kind)).find((h) => h !== undefined),
        check: (kind) => regs.map((r) => r.check(kind)).find((c) => c !== undefined),
        kinds: regs.flatMap((r) => r.kinds)
      })
    })
  )
