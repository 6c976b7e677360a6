/**
 * The `Guardrail` namespace: the interface (`Guardrail.make`, `pass`, `deny`, `needsApproval`)
 * merged with the vocabulary (`Guardrail.rateLimit`, `perMinuteCap`, `ceiling`, `never` …).
 *
 * @since 0.1.0
 */
export * from "./Guardrail"
export * from "./guardrails/index"
