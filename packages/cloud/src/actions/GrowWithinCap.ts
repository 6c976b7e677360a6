/**
 * The grow-only guardrail the volume action kinds share (`cloud.ebs.modifyVolume`,
 * `cloud.gcp.resizeDisk`): the planned size must be a whole number not above the planned cap
 * (`policy.maxVolumeGb`) and above the volume's size read live at acquire — never shrinks, never
 * equal. A failed read denies.
 *
 * @since 0.1.0
 */
import { Guardrail } from "@byteport/core"
import { Effect } from "effect"

/** How a kind names and reads its volume. */
export interface Options<R> {
  /** The param holding the new size (`toGiB`, `toGb`). */
  readonly sizeParam: string
  /** The unit in messages (`GiB`, `GB`). */
  readonly unit: string
  /** The volume's name in messages. */
  readonly name: (params: Readonly<Record<string, unknown>>) => string
  /** Its live size, or undefined when it does not exist. */
  readonly read: (params: Readonly<Record<string, unknown>>) => Effect.Effect<number | undefined, { readonly message: string }, R>
}

/** The `grow_only_within_cap` guardrail of a volume kind. */
export const make = <R>(o: Options<R>): Guardrail.Guardrail<R> =>
  Guardrail.make({
    name: "grow_only_within_cap",
    check: (ctx) =>
      Effect.gen(function*() {
        const to = ctx.action.params[o.sizeParam]
        const cap = ctx.action.params["maxVolumeGb"]
        if (typeof to !== "number" || !Number.isInteger(to) || typeof cap !== "number" || !(to <= cap)) {
          return Guardrail.deny(`grow_only_within_cap: ${String(to)} ${o.unit} is above policy.maxVolumeGb (${String(cap)})`)
        }
        const size = yield* o.read(ctx.action.params)
        if (size === undefined) return Guardrail.deny(`grow_only_within_cap: ${o.name(ctx.action.params)} does not exist`)
        return to > size ? Guardrail.pass : Guardrail.deny(`grow_only_within_cap: never shrinks: ${to} ${o.unit} is not above the current ${size} ${o.unit}`)
      }).pipe(Effect.catch((e) => Effect.succeed(Guardrail.deny(`grow_only_within_cap: could not read ${o.name(ctx.action.params)} (${e.message})`))))
  })
