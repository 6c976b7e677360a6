/**
 * A recording executor for tests: `recordingHandler(kind)` is an ActionHandler that records
 * every run with its mode and never writes in dry_run, and `layer(...)` is the one-line test
 * layer (MemoryStore + registry + IncidentBus + Notifier.memory).
 *
 * @since 0.1.0
 */
import { Effect, Layer, Schema } from "effect"
import {
  type Action as ActionModule,
  ActionHandler,
  ActionRegistry,
  type Check as CheckModule,
  type Guardrail as GuardrailModule,
  type GuardrailStore as StoreModule,
  IncidentBus,
  type Json,
  MemoryStore,
  Notifier
} from "@byteport/core"

// The testing kit builds on the package's public entry (never on its private modules), so its
// declarations reference `@byteport/core` and the two entries share one copy of every module.
type Action = ActionModule.Action
type Check<R = never> = CheckModule.Check<R>
type Guardrail<R = never> = GuardrailModule.Guardrail<R>
type GuardrailStore = StoreModule.GuardrailStore
type JsonObject = Json.JsonObject

/** One recorded handler run. */
export interface Run {
  readonly kind: string
  readonly action: Action
  readonly mode: "auto" | "dry_run"
  readonly incidentId: string
  /** Whether the run wrote (auto runs that succeeded). */
  readonly wrote: boolean
}

/** A recording handler and what it recorded. */
export interface RecordingHandler<R = never> {
  readonly kind: string
  readonly handler: ActionHandler.ActionHandler<R>
  /** Every run, in order (dry_run and auto). */
  readonly runs: ReadonlyArray<Run>
  /** The auto runs that wrote, in order. */
  readonly writes: ReadonlyArray<Run>
  /** Forgets what was recorded. */
  readonly reset: () => void
}

/** Options of `recordingHandler`. */
export interface RecordingOptions<R> {
  /** Action-kind guardrails of the handler. */
  readonly guardrails?: ReadonlyArray<Guardrail<R>>
  /** The write (auto only): its result goes to the outcome; a failure fails the step. */
  readonly apply?: (action: Action) => Effect.Effect<JsonObject | void, ActionHandler.ActionFailed, R>
  /** Makes every auto run fail with this message (after recording it), e.g. to exercise Fallback. */
  readonly fail?: string | ((action: Action) => string | undefined)
}

/**
 * An ActionHandler for `kind` that records every run with its mode. In dry_run it never calls
 * `apply` (no write): it answers what it would do. Permits are redeemed like any handler's, so
 * a forged, reused or mismatched permit is refused before anything is recorded.
 */
export const recordingHandler = <R = never>(kind: string, options: RecordingOptions<R> = {}): RecordingHandler<R> => {
  const runs: Array<Run> = []
  const handler = ActionHandler.make<unknown, R>({
    kind,
    params: Schema.Unknown,
    guardrails: options.guardrails ?? [],
    apply: (_params, ctx) =>
      Effect.gen(function*() {
        const mode = ctx.dryRun ? "dry_run" : "auto"
        if (ctx.dryRun) {
          runs.push({ kind, action: ctx.action, mode, incidentId: ctx.incidentId, wrote: false })
          return { detail: `would ${ctx.action.description}`, result: {} }
        }
        const failure = typeof options.fail === "function" ? options.fail(ctx.action) : options.fail
        if (failure !== undefined) {
          runs.push({ kind, action: ctx.action, mode, incidentId: ctx.incidentId, wrote: false })
          return yield* new ActionHandler.ActionFailed({ kind, message: failure })
        }
        const result = options.apply ? yield* options.apply(ctx.action) : undefined
        runs.push({ kind, action: ctx.action, mode, incidentId: ctx.incidentId, wrote: true })
        return { detail: ctx.action.description, result: result ?? {} }
      })
  })
  return {
    kind,
    handler,
    get runs() {
      return [...runs]
    },
    get writes() {
      return runs.filter((r) => r.wrote)
    },
    reset: () => void runs.splice(0, runs.length)
  }
}

/** Options of `layer`. */
export interface LayerOptions<R> {
  /** Handlers (plain or recording). */
  readonly handlers?: ReadonlyArray<ActionHandler.ActionHandler<R> | RecordingHandler<R>>
  readonly checks?: ReadonlyArray<Check<R>>
  /** The IncidentBus hop limit (default 3). */
  readonly hopLimit?: number
  /** Another store instead of a fresh MemoryStore (e.g. a FileStore layer). */
  readonly store?: Layer.Layer<GuardrailStore, unknown>
}

/** The services a runbook test needs, in one layer. */
export type TestServices =
  | GuardrailStore
  | ActionRegistry.ActionRegistry
  | IncidentBus.IncidentBus
  | Notifier.Notifier
  | Notifier.NotifierRecording

/** One-line test layer: a fresh MemoryStore, a registry of the handlers and checks, an IncidentBus and `Notifier.memory`. */
export const layer = <R = never>(options: LayerOptions<R> = {}): Layer.Layer<TestServices, never, R> =>
  Layer.mergeAll(
    options.store ? Layer.orDie(options.store) : MemoryStore.layer,
    ActionRegistry.layer<R>({
      handlers: (options.handlers ?? []).map((h) => ("handler" in h ? h.handler : h)),
      checks: options.checks ?? []
    }),
    IncidentBus.layer(options.hopLimit !== undefined ? { hopLimit: options.hopLimit } : {}),
    Notifier.memory
  )
