/**
 * The guardrail vocabulary of BytePort: counted windows (`rateLimit`, `perMinuteCap`,
 * `cooldown`, `backoff`), limits (`ceiling`, `blastRadius`), prohibitions and opt-ins (`never`,
 * `requireOptIn`, `requireAnnotation`, `minConfidence`, `changeWindow`), human approval
 * (`approval`) and helpers (`when`, `named`, `keys`). Each is a `Guardrail` with a read-only
 * `check` and an atomic `acquire`; these are merged into the `Guardrail` namespace.
 *
 * @since 0.1.0
 */
/** Approval records in the store (`Approval.key`, `Approval.ApprovalRecord`, `Approval.grant`). */
export * as Approval from "./approvalRecord"
/** Key builders for counted guardrails. */
export * as keys from "./keys"
/** Human approval bound to the plan digest. */
export { approval, type ApprovalOptions } from "./approval"
/** Exponential backoff between attempts on a key. */
export { backoff, type BackoffOptions, type BackoffState, backoffStoreKey } from "./backoff"
/** Keep enough members healthy. */
export { blastRadius, type BlastRadiusOptions, type HealthCount } from "./blastRadius"
/** A proposed value must not exceed a limit (baseline multiples, fact fractions). */
export { ceiling, type CeilingOptions, type FractionOfFactOptions, type MultipleOfBaselineOptions, numberFromJson, type ScaledCeilingOptions } from "./ceiling"
/** Allowed and freeze windows. */
export { changeWindow, type ChangeWindowOptions, type DailyWindow, type DateRange, type Weekday, type WindowSpec } from "./changeWindow"
/** No action on a key while the previous one cools down. */
export { cooldown, type CooldownOptions, cooldownStoreKey } from "./cooldown"
/** A minimum classification confidence. */
export { minConfidence } from "./minConfidence"
/** Rename a guardrail. */
export { named } from "./named"
/** A hard prohibition. */
export { never } from "./never"
/** A per-minute cap whose excess is rejected and escalated. */
export { perMinuteCap, type PerMinuteCapOptions, perMinuteWindowMs } from "./perMinuteCap"
/** A counted sliding window. */
export { rateLimit, type RateLimitOptions } from "./rateLimit"
/** The target must carry an opt-in annotation. */
export { annotationsFact, requireAnnotation, type RequireAnnotationOptions } from "./requireAnnotation"
/** A boolean configuration flag must be on. */
export { requireOptIn, type RequireOptInOptions } from "./requireOptIn"
/** Apply a guardrail to selected actions only. */
export { isKind, when } from "./when"
/** The deterministic token of a window guardrail's acquire (idempotent across a resume). */
export { windowToken } from "./window"
