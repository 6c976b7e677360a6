/**
 * The `Guardrail` namespace: the interface (`Guardrail.make`, `pass`, `deny`, `needsApproval`)
 * merged with the vocabulary (`Guardrail.rateLimit`, `perMinuteCap`, `ceiling`, `never` …).
 *
 * @since 0.1.0
 */

/** The interface: `Guardrail`, `GuardrailContext`, `GuardrailResult`, `Acquisition`, `make`, `pass`, `deny`, `needsApproval`. */
export * from "./Guardrail"
/** The vocabulary: `rateLimit`, `perMinuteCap`, `ceiling`, `never`, `requireOptIn`, `minConfidence`, `blastRadius`, `cooldown` … */
export * from "./guardrails/index"
