/**
 * Shared text helpers for causes (internal: not part of the package's exports map).
 *
 * @since 0.1.0
 * @internal
 */
import { Cause } from "effect"

/** The message of a cause's squashed error (its `message` when it has one, else its string form). */
export const causeText = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  return e && typeof e === "object" && "message" in e ? String((e as { readonly message: unknown }).message) : String(e)
}
