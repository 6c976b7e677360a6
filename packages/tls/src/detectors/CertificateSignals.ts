/**
 * Certificate detectors: poll an endpoint with {@link Inspection.inspect} on a Schedule and emit
 *   - `tls.cert_expiring_soon` when the leaf's notAfter is within 30, 14, 7 or 1 days of now (the
 *     Effect Clock); each threshold fires once per serial (a renewed certificate starts over). The
 *     thresholds already fired are remembered in the GuardrailStore when one is provided
 *     (key `tls/expiry-fired/<target key>/<serial>`), else in the detector's memory;
 *   - `tls.cert_expired` on every poll while now ≥ notAfter;
 *   - `tls.cert_chain_invalid` on every poll while the served chain does not verify to the
 *     configured roots or the name does not match ({@link Chain.verify});
 *   - `tls.ocsp_stapling_failure` only when a staple is expected: the leaf names an OCSP URL and
 *     the endpoint is configured to staple (`expectStaple`); then a missing staple, bytes that are
 *     not an OCSPResponse, a responseStatus other than `successful`, or a staple that is not good
 *     for the leaf (revoked / unknown status, another serial, past nextUpdate, not signed by the
 *     issuer or its delegated responder) fire.
 * A failed handshake is logged by `Detector.poll` and the poll skipped (no signal).
 *
 * @since 0.1.0
 */
import { Detector, GuardrailStore, Signal, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Clock, Effect, Option, Schedule } from "effect"
import * as Chain from "../Chain"
import * as Inspection from "../Inspection"

/** Signal types. */
export const SIGNAL_EXPIRING_SOON = "tls.cert_expiring_soon"
/** Signal types. */
export const SIGNAL_EXPIRED = "tls.cert_expired"
/** Signal types. */
export const SIGNAL_CHAIN_INVALID = "tls.cert_chain_invalid"
/** Signal types. */
export const SIGNAL_OCSP_STAPLING_FAILURE = "tls.ocsp_stapling_failure"
/** Signal types: a CA did not validate a challenge (wrong key authorization, missing TXT …); see `RenewalSignals`. */
export const SIGNAL_ACME_CHALLENGE_FAILURE = "tls.acme_challenge_failure"
/** Signal types: a CA answered `urn:ietf:params:acme:error:rateLimited` (Retry-After kept in the store); see `RenewalSignals`. */
export const SIGNAL_RENEWAL_RATE_LIMIT_HIT = "tls.renewal_rate_limit_hit"

/** The seed's expiry thresholds, in days. */
export const DEFAULT_THRESHOLD_DAYS: ReadonlyArray<number> = [30, 14, 7, 1]

const DAY = 86_400_000

/** Detector options. */
export interface Options extends Inspection.Options {
  /** What the signals are about (default `TargetRef.make("tls-endpoint", "<servername>@<host>:<port>")`). */
  readonly target?: TargetRef.TargetRef
  /** Expiry thresholds in days (default 30/14/7/1). */
  readonly thresholdDays?: ReadonlyArray<number>
  /** The endpoint is configured to staple OCSP (nginx `ssl_stapling on` …); default false. */
  readonly expectStaple?: boolean
  /** Poll schedule (default every 6 hours). */
  readonly schedule?: Schedule.Schedule<unknown>
}

/** The target of an endpoint. */
export const targetOf = (options: Inspection.Options): TargetRef.TargetRef =>
  TargetRef.make("tls-endpoint", `${options.servername ?? options.host}@${options.host}:${options.port ?? 443}`)

/**
 * Pure: the expiry threshold that fires now, if any — the tightest threshold crossed
 * (notAfter − now ≤ days) that has not fired yet for this serial. Returns it with every crossed
 * threshold (all of them are remembered, so a certificate first seen at 5 days fires 7 once, not 30, 14 and 7).
 */
export const expiryThreshold = (
  notAfter: number,
  now: number,
  thresholdDays: ReadonlyArray<number>,
  fired: ReadonlyArray<number>
): { readonly fires: number | undefined; readonly crossed: ReadonlyArray<number> } => {
  if (now >= notAfter) return { fires: undefined, crossed: [] }
  const crossed = thresholdDays.filter((d) => notAfter - now <= d * DAY).sort((a, b) => a - b)
  const tightest = crossed[0]
  return { fires: tightest !== undefined && !fired.includes(tightest) ? tightest : undefined, crossed }
}

const certEvidence = (i: Inspection.Inspection): Record<string, Json.Json> => ({
  host: i.host,
  port: i.port,
  servername: i.servername,
  serial: i.leaf.serial,
  fingerprint256: i.leaf.fingerprint256,
  notAfter: new Date(i.leaf.notAfter).toISOString(),
  issuerO: i.leaf.issuerO ?? null,
  issuerCN: i.leaf.issuerCN ?? null,
  dnsNames: [...i.leaf.dnsNames]
})

/**
 * Pure: the signals of one inspection, given the thresholds already fired for its serial.
 * Returns the signals and the thresholds to remember.
 */
export const signalsOf = (
  inspection: Inspection.Inspection,
  options: Options,
  fired: ReadonlyArray<number>
): { readonly signals: ReadonlyArray<Signal.Signal>; readonly remember: ReadonlyArray<number> } => {
  const target = options.target ?? targetOf(options)
  const now = inspection.inspectedAt
  const base = certEvidence(inspection)
  const signals: Array<Signal.Signal> = []
  const leaf = inspection.leaf
  const source = "tls.CertificateSignals"
  if (now >= leaf.notAfter) {
    signals.push(Signal.make({ type: SIGNAL_EXPIRED, target, observedAt: now, source, evidence: { ...base, expiredForMillis: now - leaf.notAfter } }))
  }
  const { fires, crossed } = expiryThreshold(leaf.notAfter, now, options.thresholdDays ?? DEFAULT_THRESHOLD_DAYS, fired)
  if (fires !== undefined) {
    signals.push(Signal.make({
      type: SIGNAL_EXPIRING_SOON,
      target,
      observedAt: now,
      source,
      evidence: { ...base, thresholdDays: fires, remainingMillis: leaf.notAfter - now, daysLeft: Math.floor((leaf.notAfter - now) / DAY) }
    }))
  }
  if (!inspection.verdict.valid) {
    signals.push(Signal.make({
      type: SIGNAL_CHAIN_INVALID,
      target,
      observedAt: now,
      source,
      evidence: { ...base, problems: inspection.verdict.problems.map((p) => p.kind), reasons: inspection.verdict.problems.map(Chain.describe), nameMatches: inspection.verdict.nameMatches }
    }))
  }
  if ((options.expectStaple ?? false) && leaf.ocspUrl !== undefined) {
    const staple = inspection.staple
    const reason = staple === undefined
      ? "no OCSP staple"
      : staple.responseStatus === undefined
      ? "the staple is not an OCSPResponse"
      : staple.responseStatus !== "successful"
      ? `OCSP responseStatus ${staple.responseStatus}`
      : inspection.stapleCheck !== undefined && !inspection.stapleCheck.good
      ? `bad staple: ${inspection.stapleCheck.problems.join(", ")}`
      : undefined
    if (reason !== undefined) {
      signals.push(Signal.make({
        type: SIGNAL_OCSP_STAPLING_FAILURE,
        target,
        observedAt: now,
        source,
        evidence: { ...base, ocspUrl: leaf.ocspUrl, reason, stapleBytes: staple?.bytes ?? 0 }
      }))
    }
  }
  return { signals, remember: [...new Set([...fired, ...crossed])].sort((a, b) => b - a) }
}

/** The store key under which the thresholds fired for a serial are remembered. */
export const firedKey = (target: TargetRef.TargetRef, serial: string): string => `tls/expiry-fired/${TargetRef.key(target)}/${serial}`

const readFired = (value: Json.Json | undefined): ReadonlyArray<number> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return []
  const thresholds = (value as { readonly [key: string]: Json.Json }).thresholds
  return Array.isArray(thresholds) ? thresholds.filter((n): n is number => typeof n === "number") : []
}

/**
 * One poll: inspect, compute the signals, remember the fired thresholds (GuardrailStore when
 * provided, else `memory`). Under a store, a lost compare-and-set (another agent fired first)
 * drops this poll's expiring-soon signal.
 */
export const pollOnce = (options: Options, memory: Map<string, ReadonlyArray<number>> = new Map()) =>
  Effect.gen(function*() {
    const inspection = yield* Inspection.inspect(options)
    const target = options.target ?? targetOf(options)
    const key = firedKey(target, inspection.leaf.serial)
    const store = yield* Effect.serviceOption(GuardrailStore.GuardrailStore)
    if (Option.isNone(store)) {
      const { remember, signals } = signalsOf(inspection, options, memory.get(key) ?? [])
      memory.set(key, remember)
      return signals
    }
    const current = yield* store.value.get(key)
    const fired = readFired(current?.value)
    const { remember, signals } = signalsOf(inspection, options, fired)
    if (remember.length === fired.length) return signals
    const at = yield* Clock.currentTimeMillis
    const written = yield* store.value.compareAndSet(key, current?.version ?? 0, { thresholds: [...remember], serial: inspection.leaf.serial, updatedAt: at })
    return written ? signals : signals.filter((s) => s.type !== SIGNAL_EXPIRING_SOON)
  })

/** Polls one endpoint and emits the certificate signals above. */
export const detector = (options: Options): Detector.Detector<never, never> => {
  const memory = new Map<string, ReadonlyArray<number>>()
  return Detector.poll(`tls.certificate/${TargetRef.key(options.target ?? targetOf(options))}`, {
    schedule: options.schedule ?? Schedule.spaced("6 hours"),
    poll: pollOnce(options, memory)
  })
}
