/**
 * A Permit is the only thing an ActionHandler accepts as leave to act. It is minted only by the
 * executor's guardrail evaluation (there is no public constructor), bound to one action's
 * digest, single-use and short-lived. A denied action therefore cannot run by construction.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const genuine = new WeakSet<object>()
const redeemed = new WeakSet<object>()

let construct: (actionDigest: string, incidentId: string, expiresAt: number, mode: "auto" | "dry_run", id: string) => Permit

/** Leave to perform exactly one action, once, before `expiresAt`. */
export class Permit {
  /** Brand: makes the class nominal, so no object literal can pass for a Permit. */
  readonly #brand = true
  private constructor(
    /** Digest of the action this permit is bound to. */
    readonly actionDigest: string,
    /** The incident the action belongs to. */
    readonly incidentId: string,
    /** Epoch ms after which the permit is refused. */
    readonly expiresAt: number,
    /** `auto` permits let a handler write; `dry_run` permits only let it validate. */
    readonly mode: "auto" | "dry_run",
    /** A unique id, for the audit log. */
    readonly id: string
  ) {}

  static {
    construct = (actionDigest, incidentId, expiresAt, mode, id) => new Permit(actionDigest, incidentId, expiresAt, mode, id)
  }

  /** Whether this object was minted by the executor (a brand check that survives casts). */
  static isGenuine(p: unknown): p is Permit {
    return typeof p === "object" && p !== null && genuine.has(p) && #brand in p
  }
}

/**
 * @internal Mints a permit. Used by the executor only: it is not exported from the package
 * index (and the package's `exports` map forbids deep imports), so code outside BytePort's
 * executor has no way to build a genuine Permit.
 */
export const mint = (actionDigest: string, incidentId: string, expiresAt: number, mode: "auto" | "dry_run", id: string): Permit => {
  const p = construct(actionDigest, incidentId, expiresAt, mode, id)
  genuine.add(p)
  return p
}

/** Why a permit was refused. */
export class PermitRefused extends Schema.TaggedError<PermitRefused>()("PermitRefused", {
  reason: Schema.Literals(["missing", "forged", "mismatched", "reused", "expired"]),
  actionKind: Schema.String,
  message: Schema.String
}) {}

/**
 * Redeems a permit for an action: genuine, bound to this action's digest, not used before,
 * not expired. Marks it used. Returns the refusal otherwise.
 */
export const redeem = (
  permit: unknown,
  actionKind: string,
  actionDigest: string,
  now: number
): PermitRefused | undefined => {
  const refuse = (reason: PermitRefused["reason"], message: string) => new PermitRefused({ reason, actionKind, message })
  if (permit === undefined || permit === null) return refuse("missing", `no permit for ${actionKind}`)
  if (!Permit.isGenuine(permit)) return refuse("forged", `permit for ${actionKind} was not minted by the executor`)
  if (permit.actionDigest !== actionDigest) return refuse("mismatched", `permit is bound to another action than this ${actionKind}`)
  if (redeemed.has(permit)) return refuse("reused", `permit ${permit.id} was already used`)
  if (now > permit.expiresAt) return refuse("expired", `permit ${permit.id} expired at ${new Date(permit.expiresAt).toISOString()}`)
  redeemed.add(permit)
  return undefined
}
