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
export { approval, type ApprovalOptions } from "./approval"
export { backoff, type BackoffOptions, type BackoffState, backoffStoreKey } from "./backoff"
export { blastRadius, type BlastRadiusOptions, type HealthCount } from "./blastRadius"
export { ceiling, type CeilingOptions, type FractionOfFactOptions, type MultipleOfBaselineOptions, numberFromJson } from "./ceiling"
export { changeWindow, type ChangeWindowOptions, type DailyWindow, type DateRange, type Weekday, type WindowSpec } from "./changeWindow"
export { cooldown, type CooldownOptions, cooldownStoreKey } from "./cooldown"
export { minConfidence } from "./minConfidence"
export { named } from "./named"
export { never } from "./never"
export { perMinuteCap, type PerMinuteCapOptions, perMinuteWindowMs } from "./perMinuteCap"
export { rateLimit, type RateLimitOptions } from "./rateLimit"
export { annotationsFact, requireAnnotation, type RequireAnnotationOptions } from "./requireAnnotation"
export { requireOptIn, type RequireOptInOptions } from "./requireOptIn"
export { isKind, when } from "./when"
