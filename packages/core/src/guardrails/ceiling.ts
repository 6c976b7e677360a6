/**
 * `ceiling`: a proposed value must not exceed a limit ("≤2× current", "≤80% of node allocatable",
 * "capped at policy.maxVolumeGb").
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext } from "../Guardrail"
import type { Json } from "../Json"
import { attempt, misconfigured, show } from "./internal"

/** Options of `ceiling`. */
export interface CeilingOptions {
  /** Name in decision records and Deny reasons. */
  readonly name: string
  /** The value the action proposes (e.g. the new memory limit in bytes); `undefined` when it cannot be told. */
  readonly proposed: (ctx: GuardrailContext) => number | undefined
  /** The limit; `undefined` when it cannot be computed (e.g. its fact is Unknown). */
  readonly limit: (ctx: GuardrailContext) => number | undefined
  /** Formats a value for the Deny reason (e.g. bytes as "768Mi"); default `String`. */
  readonly describe?: ((value: number) => string) | undefined
}

const isNumber = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n)

/** Reads a number from JSON: a finite number, or a string holding one. */
export const numberFromJson = (value: Json | undefined): number | undefined => {
  if (isNumber(value)) return value
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value)
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}

/** A limit that could not be computed, with why. */
interface Unknowable {
  readonly unknown: string
}

const make = (
  options: Omit<CeilingOptions, "limit"> & { readonly limit: (ctx: GuardrailContext) => number | undefined | Unknowable }
): Guardrail.Guardrail<never> => {
  const { name } = options
  const describe = options.describe ?? String
  return Guardrail.make({
    name,
    check: (ctx) =>
      Effect.sync(() => {
        const proposed = attempt(name, "the proposed value", () => options.proposed(ctx))
        if (!proposed.ok) return proposed.result
        if (!isNumber(proposed.value)) return Guardrail.deny(`${name}: the proposed value could not be determined (${show(proposed.value)})`)
        const limit = attempt(name, "the limit", () => options.limit(ctx))
        if (!limit.ok) return limit.result
        const l = limit.value
        if (typeof l === "object" && l !== null) return Guardrail.deny(`${name}: the limit could not be determined: ${l.unknown}`)
        if (!isNumber(l)) return Guardrail.deny(`${name}: the limit could not be determined (${show(l)})`)
        return proposed.value <= l
          ? Guardrail.pass
          : Guardrail.deny(`${name}: proposed ${describe(proposed.value)} exceeds the ceiling ${describe(l)}`)
      })
  })
}

/** What the scaled ceilings (`multipleOfBaseline`, `fractionOfFact`) share. */
export interface ScaledCeilingOptions {
  /** Name in decision records (each ceiling has its own default). */
  readonly name?: string | undefined
  /** The value the action proposes. */
  readonly proposed: (ctx: GuardrailContext) => number | undefined
  /** Reads the reference value (baseline or fact); default: a number or a numeric string. */
  readonly parse?: ((value: Json | undefined) => number | undefined) | undefined
  /** Formats a value for the Deny reason. */
  readonly describe?: ((value: number) => string) | undefined
}

/** Options of `ceiling.multipleOfBaseline` (default name `ceiling(<factor>× baseline.<baselineKey>)`). */
export interface MultipleOfBaselineOptions extends ScaledCeilingOptions {
  /** The key of `ctx.baseline` holding the value at lease time (e.g. `memoryLimitBytes`). */
  readonly baselineKey: string
  /** The multiple of the baseline allowed (2 for "≤2× current"). */
  readonly factor: number
}

/** Options of `ceiling.fractionOfFact` (default name `ceiling(<fraction> of <fact>)`). */
export interface FractionOfFactOptions extends ScaledCeilingOptions {
  /** The key of the Known fact in `ctx.facts` (e.g. `nodeAllocatableMemoryBytes`). */
  readonly fact: string
  /** The fraction of the fact allowed (0.8 for "≤80% of node allocatable"). */
  readonly fraction: number
}

/**
 * A ceiling of `scale ×` a reference value read from the context (`unknown` when it cannot be
 * read); a scale that is not a positive number is a misconfiguration that denies everything.
 */
const scaled = (
  name: string,
  scaleName: string,
  scale: number,
  options: ScaledCeilingOptions,
  reference: (ctx: GuardrailContext, parse: (value: Json | undefined) => number | undefined) => number | { readonly unknown: string }
): Guardrail.Guardrail<never> => {
  if (!(isNumber(scale) && scale > 0)) return misconfigured(name, `${scaleName} must be a positive number (got ${show(scale)})`)
  const parse = options.parse ?? numberFromJson
  return make({
    name,
    proposed: options.proposed,
    limit: (ctx) => {
      const value = reference(ctx, parse)
      return typeof value === "number" ? value * scale : value
    },
    describe: options.describe
  })
}

/**
 * Denies when the proposed value exceeds the limit, or when either cannot be determined (an
 * unknown limit never lets a change through). Limits are typically computed from `ctx.baseline`,
 * taken when the target's lease was acquired, so repeated bumps never compound; or from facts.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const proposedBytes = (ctx: Guardrail.GuardrailContext) => Number(ctx.action.params["limitBytes"])
 * // ≤2× current (measured from the baseline) and ≤80% of node allocatable
 * const twiceBaseline = Guardrail.ceiling.multipleOfBaseline({ baselineKey: "memoryLimitBytes", factor: 2, proposed: proposedBytes })
 * const nodeShare = Guardrail.ceiling.fractionOfFact({ fact: "nodeAllocatableMemoryBytes", fraction: 0.8, proposed: proposedBytes })
 * ```
 */
export const ceiling: {
  (options: CeilingOptions): Guardrail.Guardrail<never>
  /** A ceiling of `factor ×` the baseline value at `baselineKey` (taken at lease time, so bumps never compound). */
  readonly multipleOfBaseline: (options: MultipleOfBaselineOptions) => Guardrail.Guardrail<never>
  /** A ceiling of `fraction ×` a Known fact's value. */
  readonly fractionOfFact: (options: FractionOfFactOptions) => Guardrail.Guardrail<never>
} = Object.assign((options: CeilingOptions) => make(options), {
  multipleOfBaseline: (options: MultipleOfBaselineOptions): Guardrail.Guardrail<never> =>
    scaled(options.name ?? `ceiling(${options.factor}× baseline.${options.baselineKey})`, "factor", options.factor, options, (ctx, parse) => {
      const raw = ctx.baseline[options.baselineKey]
      if (raw === undefined) return { unknown: `the baseline has no ${options.baselineKey}` }
      const base = parse(raw)
      return base === undefined ? { unknown: `baseline.${options.baselineKey} is not a number (${show(raw)})` } : base
    }),
  fractionOfFact: (options: FractionOfFactOptions): Guardrail.Guardrail<never> =>
    scaled(options.name ?? `ceiling(${options.fraction} of ${options.fact})`, "fraction", options.fraction, options, (ctx, parse) => {
      const fact = ctx.facts[options.fact]
      if (fact === undefined) return { unknown: `the fact ${options.fact} is missing` }
      if (fact._tag === "Unknown") return { unknown: `the fact ${options.fact} is unknown (${fact.probe}: ${fact.reason})` }
      const value = parse(fact.value)
      return value === undefined ? { unknown: `the fact ${options.fact} is not a number (${show(fact.value)})` } : value
    })
})
