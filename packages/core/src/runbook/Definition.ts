/**
 * What a runbook is: its definition (`Runbook`, `MakeOptions`, `make`), what handling an
 * incident returns (`HandleResult`, `AwaitingApproval`), the services every runbook needs and
 * how its mode is read from configuration.
 *
 * @since 0.1.0
 */
import { Config, Duration, Effect, Option, Schema } from "effect"
import { ActionRegistry } from "../ActionRegistry"
import * as C from "../Classification"
import type { Detector } from "../Detector"
import type { Diagnoser } from "../Diagnoser"
import type { Classifier } from "../Classifier"
import * as Fact from "../Fact"
import type { Guardrail } from "../Guardrail"
import { GuardrailStore } from "../GuardrailStore"
import { IncidentBus } from "../IncidentBus"
import type { IncidentReport, Mode } from "../IncidentReport"
import * as Modes from "../Modes"
import type { JsonObject } from "../Json"
import { Notifier } from "../Notifier"
import type { Outcome } from "../Outcome"
import * as P from "../Plan"
import * as S from "../Signal"
import type { Verdict } from "../Verdict"
import * as Settings from "../Settings"
import * as V from "../Verifier"

/** Builds the plan for a classified incident. */
export type Remediator<F, R = never> = (
  classification: C.Classified,
  facts: Fact.Facts<F>,
  signal: S.Signal
) => Effect.Effect<P.Plan, never, R>

/** A runbook definition over facts `F` (the Diagnoser's), needing services `R`. */
export interface Runbook<F = unknown, R = never> {
  /** Stable id ("k8s.oom.six-signal"): the config key, file name, fixtures folder and docs heading. */
  readonly id: string
  /** The family it belongs to ("k8s.oom"); a catalog enables one runbook per family by default. */
  readonly family: string
  readonly description: string
  /** The signal types this runbook owns (the catalog routes them here). */
  readonly signals: ReadonlyArray<string>
  /**
   * The target kinds it owns those signals for (undefined: every kind). Several runbooks may own
   * one hand-off type for different platforms (a rollout restart of a `k8s.workload` and of a
   * `render.service`); the catalog routes each signal to an owner of its target's kind.
   */
  readonly targetKinds?: ReadonlyArray<string> | undefined
  /** Lower is more specific: ranked first when several runbooks own a target's signals. */
  readonly precedence: number
  readonly detector?: Detector<unknown, R> | undefined
  readonly diagnose: Diagnoser<F, R>
  readonly classify: Classifier<F>
  readonly remediate: Remediator<F, R>
  /** The verifier for a class (undefined: nothing to verify for that class). */
  readonly verify: (cls: string) => V.Verifier<F, R> | undefined
  readonly verifySchedule: (cls: string) => V.VerifySchedule
  /** Runbook-level guardrails (confidence, opt-ins …), applied to every action of its plans. */
  readonly guardrails: ReadonlyArray<Guardrail<R>>
  /** The target's baseline, taken when its lease is first acquired (ceilings are measured from it). */
  readonly baseline: (facts: Fact.Facts<F>) => JsonObject
  /** Suggested next steps for a human, per classification. */
  readonly nextSteps: (classification: C.Classification, facts: Fact.Facts<F>) => ReadonlyArray<string>
  /** Whether an escalation of this classification also opens a ticket. */
  readonly ticket: (classification: C.Classification) => boolean
  /** A postmortem section for the report (query fingerprints, permanent-fix advice …). */
  readonly postmortem?: ((input: PostmortemInput<F>) => Effect.Effect<JsonObject, never, R>) | undefined
  /** The mode when configuration says nothing (default dry_run). */
  readonly defaultMode: Mode
  /** How long the per-target lease is held (plan to verify) and the cooldown after it. */
  readonly leaseTtl: Duration.Duration
  readonly cooldown: Duration.Duration
  /** How long an approval request waits before it escalates. */
  readonly approvalTimeout: Duration.Duration
  /** The configuration it reads at run time (caps, thresholds …): read once at startup by `validateConfig`. */
  readonly config: ReadonlyArray<Effect.Effect<unknown, Config.ConfigError>>
}

/**
 * Any runbook, whatever its facts type: what a Catalog holds. Every `Runbook<F, R>` is an
 * `Any<R>` (the members that take facts accept `never`, so no facts type is assumed).
 */
export type Any<R = never> =
  & Omit<Runbook<unknown, R>, "classify" | "remediate" | "verify" | "baseline" | "nextSteps" | "postmortem">
  & {
    readonly classify: (facts: never) => C.Classification
    readonly remediate: (classification: C.Classified, facts: never, signal: S.Signal) => Effect.Effect<P.Plan, never, R>
    readonly verify: (cls: string) => ((ctx: never) => Effect.Effect<Verdict, never, R>) | undefined
    readonly baseline: (facts: never) => JsonObject
    readonly nextSteps: (classification: C.Classification, facts: never) => ReadonlyArray<string>
    readonly postmortem?: ((input: never) => Effect.Effect<JsonObject, never, R>) | undefined
  }

/** What a postmortem builder sees. */
export interface PostmortemInput<F> {
  readonly signal: S.Signal
  readonly facts: Fact.Facts<F>
  readonly classification: C.Classification
  readonly outcomes: ReadonlyArray<Outcome>
  readonly verdicts: ReadonlyArray<Verdict>
}

/** Options of `Runbook.make` (everything but id, family, signals, diagnose, classify and remediate has a default). */
export interface MakeOptions<F, R> {
  readonly id: string
  readonly family?: string
  readonly description?: string
  readonly signals: ReadonlyArray<string>
  /** The target kinds it owns its signals for (default: every kind). */
  readonly targetKinds?: ReadonlyArray<string>
  readonly precedence?: number
  readonly detector?: Detector<unknown, R>
  readonly diagnose: Diagnoser<F, R>
  readonly classify: Classifier<F>
  readonly remediate: Remediator<F, R>
  /** One verifier for every class, or one per class. */
  readonly verify?: V.Verifier<F, R> | { readonly [cls: string]: V.Verifier<F, R> | undefined }
  /** One schedule for every class, or one per class (default: check, then retry once at 15 s). */
  readonly verifySchedule?: V.VerifySchedule | { readonly [cls: string]: V.VerifySchedule | undefined }
  readonly guardrails?: ReadonlyArray<Guardrail<R>>
  readonly baseline?: (facts: Fact.Facts<F>) => JsonObject
  readonly nextSteps?: (classification: C.Classification, facts: Fact.Facts<F>) => ReadonlyArray<string>
  readonly ticket?: (classification: C.Classification) => boolean
  readonly postmortem?: (input: PostmortemInput<F>) => Effect.Effect<JsonObject, never, R>
  readonly defaultMode?: Mode
  readonly leaseTtl?: Duration.Input
  readonly cooldown?: Duration.Input
  readonly approvalTimeout?: Duration.Input
  /**
   * The configuration keys it (or its guardrails) reads at run time, e.g. a `Config` cap given to
   * `Guardrail.rateLimit`: `Agent.layer` reads each once at startup so an invalid value is a
   * `ConfigError` naming the key, not a runtime denial.
   */
  readonly config?: ReadonlyArray<Effect.Effect<unknown, Config.ConfigError>>
}

/** A runbook definition that cannot run (a negative lease, a non-finite cooldown …): thrown by `make`. */
export class InvalidRunbook extends Schema.TaggedError<InvalidRunbook>()("InvalidRunbook", {
  runbook: Schema.String,
  message: Schema.String
}) {}

const durationOf = (id: string, what: string, input: Duration.Input, allowZero: boolean): Duration.Duration => {
  const d = Duration.fromInput(input)
  const ms = Option.isSome(d) ? Duration.toMillis(d.value) : NaN
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) {
    throw new InvalidRunbook({ runbook: id, message: `${id}: ${what} must be a finite duration ${allowZero ? "≥ 0" : "> 0"} (got ${String(input)})` })
  }
  return Duration.millis(ms)
}

/**
 * Builds a runbook. Throws `InvalidRunbook` when a duration cannot work: `leaseTtl` and
 * `approvalTimeout` must be finite and > 0, `cooldown` finite and ≥ 0 (`"0 seconds"`: no
 * cooldown — the lease is released when the incident closes).
 */
export const make = <F, R = never>(o: MakeOptions<F, R>): Runbook<F, R> => {
  const isVerifier = (v: unknown): v is V.Verifier<F, R> => typeof v === "function"
  const isSchedule = (s: unknown): s is V.VerifySchedule => typeof s === "object" && s !== null && "offsets" in s
  return {
    id: o.id,
    family: o.family ?? o.id.split(".").slice(0, 2).join("."),
    description: o.description ?? o.id,
    signals: o.signals,
    targetKinds: o.targetKinds,
    precedence: o.precedence ?? 100,
    detector: o.detector,
    diagnose: o.diagnose,
    classify: o.classify,
    remediate: o.remediate,
    verify: (cls) => (o.verify === undefined ? undefined : isVerifier(o.verify) ? o.verify : o.verify[cls]),
    verifySchedule: (cls) =>
      o.verifySchedule === undefined
        ? V.schedules.retryOnceAt15s
        : isSchedule(o.verifySchedule)
        ? o.verifySchedule
        : o.verifySchedule[cls] ?? V.schedules.retryOnceAt15s,
    guardrails: o.guardrails ?? [],
    baseline: o.baseline ?? (() => ({})),
    nextSteps: o.nextSteps ?? (() => []),
    ticket: o.ticket ?? (() => false),
    postmortem: o.postmortem,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: durationOf(o.id, "leaseTtl", o.leaseTtl ?? "30 minutes", false),
    cooldown: durationOf(o.id, "cooldown", o.cooldown ?? "5 minutes", true),
    approvalTimeout: durationOf(o.id, "approvalTimeout", o.approvalTimeout ?? "30 minutes", false),
    config: o.config ?? []
  }
}

/** An incident paused for a human approval bound to `planDigest`. */
export interface AwaitingApproval {
  readonly _tag: "AwaitingApproval"
  readonly incidentId: string
  readonly runbook: string
  readonly plan: P.Plan
  readonly planDigest: string
  readonly reason: string
  readonly expiresAt: number
}

/** What `handle` and `resume` return. */
export type HandleResult = IncidentReport | AwaitingApproval

/** Whether a result is a pause for approval. */
export const isAwaitingApproval = (r: HandleResult): r is AwaitingApproval => "_tag" in r && r._tag === "AwaitingApproval"

/** The services every runbook needs besides its own. */
export type Services = GuardrailStore | ActionRegistry | IncidentBus | Notifier

/** The environment-variable suffix of a runbook id: `k8s.oom.six-signal` → `K8S_OOM_SIX_SIGNAL`. */
export const configSuffix = (id: string): string => id.toUpperCase().replace(/[^A-Z0-9]+/g, "_")

/**
 * The runbook's mode: from the modes file when `Modes.fromFile` is provided (the runbook's entry,
 * else the file's `default`; re-read when the file changes), else from configuration:
 * `BYTEPORT_MODE_<ID>` (e.g. `BYTEPORT_MODE_K8S_OOM_SIX_SIGNAL=auto`), else `BYTEPORT_MODE`, else
 * the runbook's default. Values are case-insensitive (`AUTO` is `auto`). `Agent.layer` refuses an
 * invalid value at startup (a `ConfigError` naming the key); should one reach an incident anyway
 * (a runbook run without the agent), it falls back to `observe`, the safest mode, with a warning.
 * (A per-call `{ mode }` of `handle`/`resume` wins over all of these.)
 */
export const modeFor = (runbook: { readonly id: string; readonly defaultMode: Mode }): Effect.Effect<{ readonly mode: Mode; readonly warning?: string }> =>
  Effect.gen(function*() {
    const file = yield* Modes.Current
    let fileWarning: string | undefined
    if (file !== undefined) {
      const fromFile = yield* file.modeOf(runbook.id)
      const bad = yield* file.takeUnreported
      fileWarning = bad.length > 0 ? `${bad.map((e) => e.message).join("; ")}: keeping the last good modes` : undefined
      if (fromFile !== undefined) return fileWarning ? { mode: fromFile, warning: fileWarning } : { mode: fromFile }
    }
    const withFileWarning = (r: { readonly mode: Mode; readonly warning?: string }) =>
      fileWarning ? { mode: r.mode, warning: r.warning ? `${fileWarning}; ${r.warning}` : fileWarning } : r
    for (const key of [Settings.modeKey(runbook.id), "BYTEPORT_MODE"]) {
      const raw = yield* Effect.result(Config.option(Settings.mode(key)))
      if (raw._tag === "Failure") return withFileWarning({ mode: "observe" as Mode, warning: `${raw.failure.message}: running in observe` })
      if (raw.success._tag === "Some") return withFileWarning({ mode: raw.success.value })
    }
    return withFileWarning({ mode: runbook.defaultMode })
  })

/**
 * Reads, once, every configuration key the runbook depends on — its mode keys, the `config` it
 * declares (caps, thresholds …) and its guardrails' (a `Guardrail.rateLimit` whose `max` is a
 * `Config` must be a positive integer) — so an invalid value is a `ConfigError` naming the key at
 * startup (`Agent.layer` / `Agent.run` call it for every runbook), not a denial in an incident.
 */
export const validateConfig = (runbook: Any<unknown>): Effect.Effect<void, Config.ConfigError> =>
  Effect.gen(function*() {
    yield* Settings.validateModes([Settings.modeKey(runbook.id)])
    yield* Settings.validateAll([...(runbook.config ?? []), ...runbook.guardrails.flatMap((g) => g.config ?? [])])
  })

/** No resumable incident with that id (or it belongs to another runbook). */
export class IncidentNotFound extends Schema.TaggedError<IncidentNotFound>()("IncidentNotFound", {
  incidentId: Schema.String,
  message: Schema.String
}) {}

/** A detector element that is not a valid Signal. */
export class MalformedSignal extends Schema.TaggedError<MalformedSignal>()("MalformedSignal", {
  detector: Schema.String,
  message: Schema.String
}) {}

/** Whether a runbook owns a signal: its type, and its target's kind when the runbook names kinds. */
export const owns = (runbook: { readonly signals: ReadonlyArray<string>; readonly targetKinds?: ReadonlyArray<string> | undefined }, signal: Pick<S.Signal, "type" | "target">): boolean =>
  runbook.signals.includes(signal.type) && (runbook.targetKinds === undefined || runbook.targetKinds.includes(signal.target.kind))
