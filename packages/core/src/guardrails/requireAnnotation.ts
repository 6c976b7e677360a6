/**
 * `requireAnnotation`: the target's owners must have opted in on the object itself
 * (`byteport.io/auto_remediate: "db_terminate"` — "never kills without this").
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext, GuardrailResult } from "../Guardrail"
import * as TargetRef from "../TargetRef"
import { attempt, safeMessage } from "./internal"

/** Options of `requireAnnotation`. */
export interface RequireAnnotationOptions<R = never> {
  /** Name in decision records; default `require_annotation(<key>=<value>)`. */
  readonly name?: string | undefined
  /**
   * Where the target's annotations come from; default: the Known fact `annotations` in
   * `ctx.facts` (a record of strings). `undefined` means "not known": a Deny.
   */
  readonly annotations?: ((ctx: GuardrailContext) => Readonly<Record<string, string>> | undefined) | undefined
  /**
   * A live source read at every check and acquire, never cached (e.g. `Annotations.ofObject(…)`,
   * `Annotations.ofClient(…)`): takes precedence over `annotations`. `undefined` or a failed read
   * is a Deny.
   */
  readonly live?: ((ctx: GuardrailContext) => Effect.Effect<Readonly<Record<string, string>> | undefined, { readonly message: string }, R>) | undefined
}

/** The fact key read by default. */
export const annotationsFact = "annotations"

type Read =
  | { readonly ok: true; readonly value: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly result: GuardrailResult }

const fromFacts = (name: string, ctx: GuardrailContext): Read => {
  const fact = ctx.facts[annotationsFact]
  const no = (reason: string): Read => ({ ok: false, result: Guardrail.deny(`${name}: ${reason}`) })
  if (fact === undefined) return no("the target's annotations are not among the facts")
  if (fact._tag === "Unknown") return no(`the target's annotations are unknown (${fact.probe}: ${fact.reason})`)
  const v = fact.value
  if (v === null || typeof v !== "object" || Array.isArray(v)) return no("the annotations fact is not a record")
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x
  return { ok: true, value: out }
}

/**
 * Denies unless the target carries annotation `key` with `value`. The annotation's value may also
 * be a comma-separated list (`"db_terminate,restart"`), which then must include `value`.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const optedIn = Guardrail.requireAnnotation("byteport.io/auto_remediate", "db_terminate")
 * ```
 */
export const requireAnnotation = <R = never>(key: string, value: string, options?: RequireAnnotationOptions<R>): Guardrail.Guardrail<R> => {
  const name = options?.name ?? `require_annotation(${key}=${value})`
  const decide = (ctx: GuardrailContext, annotations: Readonly<Record<string, string>>): GuardrailResult => {
    const found = Object.prototype.hasOwnProperty.call(annotations, key) ? annotations[key] : undefined
    const target = TargetRef.key(ctx.action.target)
    if (found === undefined) return Guardrail.deny(`${name}: ${target} lacks the annotation ${key}: "${value}"`)
    const values = found.split(",").map((s) => s.trim())
    return values.includes(value)
      ? Guardrail.pass
      : Guardrail.deny(`${name}: ${target} has ${key}: ${JSON.stringify(found)}, which does not allow "${value}"`)
  }
  const live = options?.live
  return Guardrail.make<R>({
    name,
    check: (ctx) =>
      live !== undefined
        ? Effect.suspend(() => live(ctx)).pipe(
          Effect.map((a) => (a === undefined ? Guardrail.deny(`${name}: the target's annotations are unknown (object not found)`) : decide(ctx, a))),
          Effect.catch((e) => Effect.succeed(Guardrail.deny(`${name}: the annotations could not be read: ${safeMessage(e.message)}`)))
        )
        : Effect.sync(() => {
          let annotations: Readonly<Record<string, string>>
          if (options?.annotations) {
            const read = attempt(name, "the annotations", () => options.annotations!(ctx))
            if (!read.ok) return read.result
            if (read.value === undefined) return Guardrail.deny(`${name}: the target's annotations are unknown`)
            annotations = read.value
          } else {
            const read = fromFacts(name, ctx)
            if (!read.ok) return read.result
            annotations = read.value
          }
          return decide(ctx, annotations)
        })
  })
}
