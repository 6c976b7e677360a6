/**
 * `requireOptIn`: an action that is off unless a boolean configuration flag turns it on
 * (`BYTEPORT_AUTO_REPLACE_NODES`, `rollbackEnabled`, `dockerPruneEnabled`, `packageCachePruneEnabled`).
 *
 * @since 0.1.0
 */
import { Config, Effect } from "effect"
import * as Guardrail from "../Guardrail"
import { safeMessage } from "./internal"

/** Options of `requireOptIn`. */
export interface RequireOptInOptions {
  /** Name in decision records; default `opt_in(<flag>)`. */
  readonly name?: string | undefined
  /** How to enable the flag, for the Deny reason; default `set <flag>=true in the agent's configuration`. */
  readonly howToEnable?: string | undefined
  /** What the flag allows, for the Deny reason (default: the action's kind). */
  readonly what?: string | undefined
}

/**
 * Denies unless the boolean config `flag` is true. The flag is read with
 * `Config.Boolean(flag)` (default `false`) at each check, from the current `ConfigProvider`, so
 * turning it on or off takes effect without a restart. An unparsable value is a Deny naming it.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * // "Rollback is opt-in: rollbackEnabled must be explicitly set to true — default is false"
 * const rollbackOptIn = Guardrail.requireOptIn("rollbackEnabled")
 * const replaceNodes = Guardrail.requireOptIn("BYTEPORT_AUTO_REPLACE_NODES", { what: "cloud-provider node replacement" })
 * ```
 */
export const requireOptIn = (flag: string, options?: RequireOptInOptions): Guardrail.Guardrail<never> => {
  const name = options?.name ?? `opt_in(${flag})`
  const how = options?.howToEnable ?? `set ${flag}=true in the agent's configuration`
  const config = Config.Boolean(flag).pipe(Config.withDefault(false))
  return Guardrail.make({
    name,
    check: (ctx) =>
      config.pipe(
        Effect.map((enabled) =>
          enabled
            ? Guardrail.pass
            : Guardrail.deny(`${options?.what ?? ctx.action.kind} is opt-in and ${flag} is not enabled (default false): ${how}`)
        ),
        Effect.catch((error) =>
          Effect.succeed(Guardrail.deny(`${flag} could not be read as a boolean (${safeMessage(error.message)}): ${how}`))
        )
      )
  })
}
