/**
 * A Permit is the only thing an ActionHandler accepts as leave to act. It is minted only by the
 * executor's guardrail evaluation (there is no public constructor), bound to one action's
 * digest, single-use and short-lived. A denied action therefore cannot run by construction.
 *
 * A permit is sealed: what it is bound to (digest, incident, expiry, mode, id) lives in a
 * module-private WeakMap keyed by the permit object, the object itself is frozen and carries no
 * own data, and `redeem` reads only the sealed state. Whoever holds a permit can read it but
 * can neither rewrite what it is bound to nor make another object pass for it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** What a permit is bound to: kept where no caller can reach it. */
interface Sealed {
  readonly actionDigest: string
  readonly incidentId: string
  readonly expiresAt: number
  readonly mode: "auto" | "dry_run"
  readonly id: string
}

const sealed = new WeakMap<object, Sealed>()
const redeemed = new WeakSet<object>()

let construct: () => Permit

const stateOf = (p: Permit): Sealed => {
  const s = sealed.get(p)
  if (!s) throw new TypeError("not a permit minted by the executor")
  return s
}

/** Leave to perform exactly one action, once, before `expiresAt`. */
export class Permit {
  /** Brand: makes the class nominal, so no object literal can pass for a Permit. */
  readonly #brand = true
  private constructor() {}

  /** Digest of the action this permit is bound to. */
  get actionDigest(): string {
    return stateOf(this).actionDigest
  }
  /** The incident the action belongs to. */
  get incidentId(): string {
    return stateOf(this).incidentId
  }
  /** Epoch ms after which the permit is refused. */
  get expiresAt(): number {
    return stateOf(this).expiresAt
  }
  /** `auto` permits let a handler write; `dry_run` permits only let it validate. */
  get mode(): "auto" | "dry_run" {
    return stateOf(this).mode
  }
  /** A unique id, for the audit log. */
  get id(): string {
    return stateOf(this).id
  }

  static {
    construct = () => new Permit()
  }

  /** Whether this object was minted by the executor (a brand check that survives casts). */
  static isGenuine(p: unknown): p is Permit {
    return typeof p === "object" && p !== null && sealed.has(p) && #brand in p
  }
}
Object.freeze(Permit.prototype)
Object.freeze(Permit)

/**
 * @internal Mints a permit. Used by the executor only: it is not exported from the package
 * index (and the package's `exports` map forbids deep imports), so code outside BytePort's
 * executor has no way to build a genuine Permit.
 */
export const mint = (actionDigest: string, incidentId: string, expiresAt: number, mode: "auto" | "dry_run", id: string): Permit => {
  const p = construct()
  sealed.set(p, Object.freeze({ actionDigest, incidentId, expiresAt, mode, id }))
  Object.freeze(p)
  return p
}

/**
 * @internal The sealed state of a genuine permit (undefined for anything else). The handler
 * reads the mode and incident from here, never from the object a caller passed.
 */
export const sealedState = (p: unknown): Sealed | undefined =>
  typeof p === "object" && p !== null ? sealed.get(p) : undefined

/** Why a permit was refused. */
export class PermitRefused extends Schema.TaggedError<PermitRefused>()("PermitRefused", {
  reason: Schema.Literals(["missing", "forged", "mismatched", "reused", "expired"]),
  actionKind: Schema.String,
  message: Schema.String
}) {}

/**
 * Redeems a permit for an action: genuine, bound to this action's digest, not used before,
 * not expired. Marks it used. Returns the refusal otherwise. Reads only the sealed state.
 */
export const redeem = (
  permit: unknown,
  actionKind: string,
  actionDigest: string,
  now: number
): PermitRefused | undefined => {
  const refuse = (reason: PermitRefused["reason"], message: string) => new PermitRefused({ reason, actionKind, message })
  if (permit === undefined || permit === null) return refuse("missing", `no permit for ${actionKind}`)
  const s = Permit.isGenuine(permit) ? sealed.get(permit) : undefined
  if (!s) return refuse("forged", `permit for ${actionKind} was not minted by the executor`)
  if (s.actionDigest !== actionDigest) return refuse("mismatched", `permit is bound to another action than this ${actionKind}`)
  if (redeemed.has(permit as object)) return refuse("reused", `permit ${s.id} was already used`)
  if (now > s.expiresAt) return refuse("expired", `permit ${s.id} expired at ${new Date(s.expiresAt).toISOString()}`)
  redeemed.add(permit as object)
  return undefined
}
