/**
 * The guardrail combinators, as one namespace module. The `Guardrail` namespace of
 * `@byteport/core` re-exports these next to the interface, so users write
 * `Guardrail.rateLimit(...)`, `Guardrail.never(...)`, `Guardrail.keys.perTarget(...)`.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const guardrails = [
 *   Guardrail.minConfidence(0.7),
 *   Guardrail.rateLimit({ key: Guardrail.keys.perTarget("memory-bump"), max: 1, window: "24 hours" }),
 *   Guardrail.never((ctx) => ctx.classification._tag === "Classified" && ctx.classification.class === "genuine_memory_leak",
 *     "never bump memory on a genuine_memory_leak")
 * ]
 * ```
 *
 * @since 0.1.0
 */
export * from "./guardrails/index"
