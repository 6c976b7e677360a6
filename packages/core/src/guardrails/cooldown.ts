/**
 * `cooldown`: no action on a key while the previous one is within the cooldown.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import type * as Guardrail from "../Guardrail"
import type { GuardrailContext } from "../Guardrail"
import { formatMs, misconfigured, positiveMillis, show } from "./internal"
import { windowGuardrail } from "./window"

/** Options of `cooldown`. */
export interface CooldownOptions {
  /** Name in decision records; default `cooldown(<duration>)`. */
  readonly name?: string | undefined
  /** The key the cooldown is kept under (stored as `cooldown:<key>`). */
  readonly key: (ctx: GuardrailContext) => string
  /** How long after an action the key stays cool. */
  readonly duration: Duration.Input
}

/** The store key of a cooldown (its window lives under this key). */
export const cooldownStoreKey = (key: string): string => `cooldown:${key}`

/**
 * Denies while a previous action on the key is within `duration` (with `retryAfterMs` = the time
 * left). `acquire` records the action in the store (a one-unit window under `cooldown:<key>`, so it
 * is atomic across agents) and its `release` undoes the record; `check` only reads.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * // leave a node alone for 10 minutes after a kubelet restart
 * const kubeletCooldown = Guardrail.cooldown({ key: Guardrail.keys.perTargetKind("node"), duration: "10 minutes" })
 * ```
 */
export const cooldown = (options: CooldownOptions): Guardrail.Guardrail<never> => {
  const durationMs = positiveMillis(options.duration)
  const durationText = durationMs === undefined ? show(options.duration) : formatMs(durationMs)
  const name = options.name ?? `cooldown(${durationText})`
  if (durationMs === undefined) return misconfigured(name, `duration must be a positive finite duration (got ${durationText})`)
  return windowGuardrail({
    name,
    key: (ctx) => cooldownStoreKey(options.key(ctx)),
    max: 1,
    windowMs: durationMs,
    denied: (d) =>
      `${name}: ${d.key.slice("cooldown:".length)} is cooling down` +
      (d.retryAfterMs !== undefined
        ? ` (last action ${formatMs(durationMs - d.retryAfterMs)} ago; retry in ${formatMs(d.retryAfterMs)})`
        : ""),
    oversized: () => `${name}: unreachable (cooldown actions take one unit)`
  })
}
