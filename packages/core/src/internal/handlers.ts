/**
 * The brand of action handlers built by `ActionHandler.make` (and of the registry's bound copies
 * of them). Internal: not exported from the package, so no user object can pass for a handler
 * that redeems its permit before acting.
 *
 * @since 0.2.0
 * @internal
 */

const made = new WeakSet<object>()

/** Brands a handler object and freezes it. */
export const brand = <H extends object>(h: H): H => {
  made.add(h)
  return Object.freeze(h)
}

/** Whether an object was branded by {@link brand}. */
export const isMade = (h: unknown): boolean => typeof h === "object" && h !== null && made.has(h)
