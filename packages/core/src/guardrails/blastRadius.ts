/**
 * `blastRadius`: do not act when acting would leave too few healthy members (replicas, nodes,
 * instances) — "no PDB violations", "pod healthy <70%".
 *
 * @since 0.1.0
 */
import { Cause, Effect } from "effect"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext, GuardrailResult } from "../Guardrail"
import { attempt, misconfigured, safeMessage, show } from "./internal"

/** A measurement of the group an action touches. */
export interface HealthCount {
  readonly healthy: number
  readonly total: number
}

/** Options of `blastRadius`. */
export interface BlastRadiusOptions<E, R> {
  /** Name in decision records; default `blast_radius`. */
  readonly name?: string | undefined
  /** At most this many members may be unhealthy after acting. */
  readonly maxUnhealthy?: number | undefined
  /** At least this many (or this share, `"70%"`, rounded up) members must stay healthy after acting. */
  readonly minHealthy?: number | `${number}%` | undefined
  /** How many healthy members the action takes out (default 1: one drain, one restart). */
  readonly affected?: ((ctx: GuardrailContext) => number) | undefined
  /** Measures the group now. A failure (or a defect) is a Deny, never a Pass. */
  readonly observe: (ctx: GuardrailContext) => Effect.Effect<HealthCount, E, R>
}

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0

/**
 * Denies when acting would leave fewer than `minHealthy` healthy members or more than
 * `maxUnhealthy` unhealthy ones. The group is measured at each check and acquire with `observe`;
 * a measurement that fails, dies or is inconsistent (healthy > total) is a Deny ("could not
 * measure blast radius").
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Guardrail } from "@byteport/core"
 * // drain a node only if at least 70% of the pool's nodes stay Ready
 * const keepPoolUp = Guardrail.blastRadius({
 *   minHealthy: "70%",
 *   observe: () => Effect.succeed({ healthy: 9, total: 10 })
 * })
 * ```
 */
export const blastRadius = <E = never, R = never>(options: BlastRadiusOptions<E, R>): Guardrail.Guardrail<R> => {
  const name = options.name ?? "blast_radius"
  const { maxUnhealthy, minHealthy } = options
  if (maxUnhealthy === undefined && minHealthy === undefined) return misconfigured(name, "give maxUnhealthy or minHealthy (or both)")
  if (maxUnhealthy !== undefined && !isCount(maxUnhealthy)) {
    return misconfigured(name, `maxUnhealthy must be a non-negative integer (got ${show(maxUnhealthy)})`)
  }
  let percent: number | undefined
  if (typeof minHealthy === "string") {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(minHealthy.trim())
    const p = m ? Number(m[1]) : NaN
    if (!(p >= 0 && p <= 100)) return misconfigured(name, `minHealthy must be a count or a percentage from 0% to 100% (got ${show(minHealthy)})`)
    percent = p
  } else if (minHealthy !== undefined && !isCount(minHealthy)) {
    return misconfigured(name, `minHealthy must be a non-negative integer or a percentage (got ${show(minHealthy)})`)
  }

  const decide = (ctx: GuardrailContext, m: HealthCount): GuardrailResult => {
    if (!isCount(m.healthy) || !isCount(m.total) || m.healthy > m.total) {
      return Guardrail.deny(`${name}: could not measure blast radius: inconsistent measurement ${show(m)}`)
    }
    const affected = attempt(name, "the number of affected members", () => (options.affected ? options.affected(ctx) : 1))
    if (!affected.ok) return affected.result
    if (!isCount(affected.value)) return Guardrail.deny(`${name}: the number of affected members must be a non-negative integer (got ${show(affected.value)})`)
    const healthyAfter = Math.max(0, m.healthy - affected.value)
    const unhealthyAfter = m.total - healthyAfter
    const now = `${m.healthy}/${m.total} healthy now`
    if (minHealthy !== undefined) {
      const required = percent !== undefined ? Math.ceil((m.total * percent) / 100 - 1e-9) : (minHealthy as number)
      if (healthyAfter < required) {
        return Guardrail.deny(
          `${name}: acting would leave ${healthyAfter}/${m.total} healthy, fewer than the minimum ${required}` +
            (percent !== undefined ? ` (${percent}%)` : "") + ` (${now})`
        )
      }
    }
    if (maxUnhealthy !== undefined && unhealthyAfter > maxUnhealthy) {
      return Guardrail.deny(`${name}: acting would leave ${unhealthyAfter}/${m.total} unhealthy, more than the maximum ${maxUnhealthy} (${now})`)
    }
    return Guardrail.pass
  }

  const check = (ctx: GuardrailContext): Effect.Effect<GuardrailResult, never, R> =>
    Effect.suspend(() => options.observe(ctx)).pipe(
      Effect.map((m) => decide(ctx, m)),
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : Effect.succeed(Guardrail.deny(`${name}: could not measure blast radius: ${describeCause(cause)}`))
      )
    )
  return Guardrail.make<R>({ name, check })
}

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const squashed = Cause.squash(cause)
  if (squashed instanceof Error) return safeMessage(squashed.message || squashed.name)
  if (typeof squashed === "object" && squashed !== null && "message" in squashed) return safeMessage(String((squashed as { message: unknown }).message))
  return safeMessage(show(squashed))
}
