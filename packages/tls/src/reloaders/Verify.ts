/**
 * Verification of an endpoint after a certificate change, per endpoint and SNI name: a real
 * handshake; the served leaf is new (its fingerprint differs from the old one); notAfter is more
 * than `minValidityMillis` (30 days) after now (Effect Clock); the chain is valid; the staple is
 * good when one is expected (by default: the leaf names an OCSP URL). nginx staples lazily (its
 * first handshakes after a reload carry none), so a missing or bad staple is retried for
 * `stapleTimeoutMillis` (real time) before it counts.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import * as Inspection from "../Inspection"
import type { InspectError } from "../TlsError"
import { poll } from "../servers/Server"

/** Thirty days: the default minimum validity left after a renewal. */
export const DEFAULT_MIN_VALIDITY_MILLIS = 30 * 86_400_000

/** Why a verification failed. */
export type Problem = "not_new" | "expires_too_soon" | "chain_invalid" | "staple_missing" | "staple_bad"

/** What to verify. */
export interface Options {
  readonly host: string
  readonly port: number
  readonly servername: string
  /** Trusted roots (PEM); default Node's bundled roots. */
  readonly ca?: ReadonlyArray<string>
  /** The fingerprint served before the change: the served leaf must differ. */
  readonly oldFingerprint?: string
  /** notAfter must be more than this after now (default 30 days). */
  readonly minValidityMillis?: number
  /** Whether a good staple is required (default: the leaf names an OCSP URL). */
  readonly expectStaple?: boolean
  /** How long a missing or bad staple is retried (ms, default 10 000). */
  readonly stapleTimeoutMillis?: number
}

/** The verdict, with the inspection it is based on. */
export interface Result {
  readonly ok: boolean
  readonly problems: ReadonlyArray<Problem>
  readonly inspection: Inspection.Inspection
  /** Whether a staple was expected. */
  readonly stapleExpected: boolean
}

const stapleProblem = (i: Inspection.Inspection): Problem | undefined =>
  i.stapleCheck === undefined ? "staple_missing" : i.stapleCheck.good ? undefined : "staple_bad"

/** Verifies the endpoint (see the module docs). Fails only when no handshake is possible at all. */
export const endpoint = (o: Options): Effect.Effect<Result, InspectError> =>
  Effect.gen(function*() {
    const options: Inspection.Options = { host: o.host, port: o.port, servername: o.servername, ...(o.ca !== undefined ? { ca: o.ca } : {}) }
    let inspection = yield* Inspection.inspect(options)
    const stapleExpected = o.expectStaple ?? inspection.leaf.ocspUrl !== undefined
    if (stapleExpected && stapleProblem(inspection) !== undefined) {
      const again = yield* poll(
        Effect.map(Inspection.inspect(options), (i) => {
          inspection = i
          return stapleProblem(i) === undefined ? i : undefined
        }),
        o.stapleTimeoutMillis ?? 10_000
      )
      if (again !== undefined) inspection = again
    }
    const now = yield* Clock.currentTimeMillis
    const problems: Array<Problem> = []
    if (o.oldFingerprint !== undefined && inspection.leaf.fingerprint256 === o.oldFingerprint) problems.push("not_new")
    if (!(inspection.leaf.notAfter > now + (o.minValidityMillis ?? DEFAULT_MIN_VALIDITY_MILLIS))) problems.push("expires_too_soon")
    if (!inspection.verdict.valid) problems.push("chain_invalid")
    const staple = stapleExpected ? stapleProblem(inspection) : undefined
    if (staple !== undefined) problems.push(staple)
    return { ok: problems.length === 0, problems, inspection, stapleExpected }
  })
