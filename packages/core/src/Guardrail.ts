/**
 * Guardrails decide whether one action may run. Each has a read-only `check` and an atomic
 * `acquire` (which takes budget and can be released). The executor checks every step of a plan
 * before the first write, acquires a step's budget just before it runs, and releases what was
 * acquired if a later guardrail of the same step denies. `observe` and `dry_run` never acquire.
 *
 * Guardrails that protect a target belong to the action kind (see `ActionHandler`), so every
 * runbook and hand-off using that action gets them; runbook-level guardrails (confidence, mode,
 * opt-ins) belong to the runbook.
 *
 * @since 0.1.0
 */
import { type Config, Effect } from "effect"
import type { Action } from "./Action"
import type { Classification } from "./Classification"
import type { FactsJson } from "./Fact"
import type { JsonObject } from "./Json"
import type { Mode } from "./IncidentReport"
import type { Plan } from "./Plan"
import type { Signal } from "./Signal"
import type { Epoch, GuardrailStore, StoreError } from "./GuardrailStore"

/** What a guardrail sees when it decides about one action. */
export interface GuardrailContext {
  readonly incidentId: string
  readonly runbook: string
  readonly mode: Mode
  readonly signal: Signal
  readonly classification: Classification
  readonly facts: FactsJson
  readonly plan: Plan
  readonly planDigest: string
  readonly action: Action
  readonly stepPath: string
  /** Epoch ms (from Clock, so virtual under TestClock). */
  readonly now: number
  /** The target's baseline taken when its lease was first acquired (ceilings are measured from it). */
  readonly baseline: JsonObject
  /**
   * The leader's fencing epoch when the agent runs with leader election: every store write a
   * guardrail's `acquire` makes carries it, so a deposed leader's acquire is refused.
   */
  readonly epoch?: Epoch | undefined
}

/** A guardrail's answer. */
export type GuardrailResult =
  | { readonly _tag: "Pass" }
  | { readonly _tag: "Deny"; readonly reason: string; readonly retryAfterMs?: number | undefined }
  | { readonly _tag: "NeedsApproval"; readonly reason: string }

/** What `acquire` took, and how to give it back. */
export interface Acquisition {
  readonly result: GuardrailResult
  /** Refund: gives back what was taken (a no-op when nothing was). */
  readonly release: Effect.Effect<void, StoreError, GuardrailStore>
}

/** A guardrail. */
export interface Guardrail<R = never> {
  readonly name: string
  /** Read-only decision (used before the first write, and in dry_run). */
  readonly check: (ctx: GuardrailContext) => Effect.Effect<GuardrailResult, StoreError, GuardrailStore | R>
  /** Atomic decision that takes budget (used in auto, just before the step runs). */
  readonly acquire: (ctx: GuardrailContext) => Effect.Effect<Acquisition, StoreError, GuardrailStore | R>
  /**
   * Checked again when an interrupted step is resumed and re-run (`never` and `approval` set it).
   * Budget guardrails leave it unset: their budget was taken before the interruption.
   */
  readonly recheckOnResume?: boolean | undefined
  /** Configuration it reads at run time (a cap given as a `Config`): read once at agent startup (`Agent.layer`). */
  readonly config?: ReadonlyArray<Effect.Effect<unknown, Config.ConfigError>> | undefined
}

/** The Pass result. */
export const pass: GuardrailResult = { _tag: "Pass" }

/** Builds a Deny result. */
export const deny = (reason: string, retryAfterMs?: number): GuardrailResult => ({ _tag: "Deny", reason, retryAfterMs })

/** Builds a NeedsApproval result. */
export const needsApproval = (reason: string): GuardrailResult => ({ _tag: "NeedsApproval", reason })

/**
 * The text of a denial, naming the guardrail once: `name: reason`; the reason alone when it
 * already names it (the built-ins write `name: …` themselves; the dry_run preview writes `auto would deny: …`); the name alone when it
 * already ends with the reason (`never`'s default name). The executor, the incident timeline and
 * the sinks compose every denial through this function.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * Guardrail.denialDetail("one prune per host per hour", "one prune per host per hour: 1 of 1 used")
 * // "one prune per host per hour: 1 of 1 used"
 * ```
 */
export const denialDetail = (name: string | undefined, reason: string | undefined): string => {
  const n = name ?? "?"
  const r = reason ?? ""
  // the reason names the guardrail already (at its start, or after a prefix such as "auto would deny: ")
  if (n.length > 0 && r.includes(n)) return r
  if (r.length > 0 && n.endsWith(r)) return n
  return `${n}: ${r}`
}

/**
 * A guardrail's reason without its own name in front (`"name: …"` → `"…"`), as the executor
 * records it: decision records carry the name in `guardrail`, so reports that show both (the
 * postmortem's decisions table) show it once. Other reasons are returned unchanged.
 */
export const reasonWithoutName = (name: string, reason: string): string =>
  name.length > 0 && reason.startsWith(`${name}: `) ? reason.slice(name.length + 2) : reason

/** A release that does nothing. */
export const noRelease: Effect.Effect<void, StoreError, GuardrailStore> = Effect.void

/**
 * Builds a guardrail from a read-only decision: `acquire` is the same check with nothing to
 * release. For guardrails that take budget, pass `acquire` too.
 */
export const make = <R = never>(options: {
  readonly name: string
  readonly check: (ctx: GuardrailContext) => Effect.Effect<GuardrailResult, StoreError, GuardrailStore | R>
  readonly acquire?: (ctx: GuardrailContext) => Effect.Effect<Acquisition, StoreError, GuardrailStore | R>
  /** Check it again before re-running a step interrupted after its budget was acquired (prohibitions, approvals). */
  readonly recheckOnResume?: boolean | undefined
}): Guardrail<R> => ({
  name: options.name,
  check: options.check,
  acquire: options.acquire ?? ((ctx) => Effect.map(options.check(ctx), (result) => ({ result, release: noRelease }))),
  ...(options.recheckOnResume ? { recheckOnResume: true } : {})
})
