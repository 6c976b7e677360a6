/**
 * `named`: rename a guardrail (the name appears in decision records, reports and escalations).
 *
 * @since 0.1.0
 */
import type * as Guardrail from "../Guardrail"

/**
 * The same guardrail under another name.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const bumpBudget = Guardrail.named(
 *   "memory_bump_per_pod_per_day",
 *   Guardrail.rateLimit({ key: Guardrail.keys.perTarget("memory-bump"), max: 1, window: "24 hours" })
 * )
 * ```
 */
export const named = <R>(name: string, guardrail: Guardrail.Guardrail<R>): Guardrail.Guardrail<R> => ({ ...guardrail, name })
