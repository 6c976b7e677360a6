/**
 * What keeps the run loops alive: every detector element is decoded under a handler that also
 * catches defects (a throwing getter, a hostile proxy, a cyclic or huge value); a detector that
 * fails or dies is reported and restarted with backoff; every user callback and audit runs
 * guarded. Shared by `Runbook.run` and `Catalog.run`. Internal.
 *
 * @since 0.2.0
 * @internal
 */
import { Cause, Clock, Effect, Stream } from "effect"
import * as Backoff from "../Backoff"
import { Notifier } from "../Notifier"
import * as S from "../Signal"
import { MalformedSignal } from "./Definition"

/** The largest detector element accepted, as JSON characters (larger ones are malformed). */
export const maxSignalChars = 1_000_000

/** The detector restart backoff when the caller gives none: 1 s × 2^N, cap 60 s. */
export const defaultDetectorBackoff: Backoff.Options = { base: "1 second", factor: 2, cap: "1 minute" }

/** Text of anything, never throwing, at most `max` characters (hostile `toString`s and getters included). */
export const safeText = (u: unknown, max = 500): string => {
  let s: string
  try {
    if (u instanceof Error || (typeof u === "object" && u !== null && "message" in u)) {
      const m = (u as { readonly message: unknown }).message
      s = typeof m === "string" ? m : String(m)
    } else s = typeof u === "string" ? u : String(u)
  } catch {
    try {
      s = Object.prototype.toString.call(u)
    } catch {
      s = "unprintable value"
    }
  }
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s
}

/** The text of a cause, never throwing (the first failure or defect, truncated). */
export const safeCauseText = (cause: Cause.Cause<unknown>): string => {
  try {
    const r = cause.reasons.find((x) => !Cause.isInterruptReason(x))
    if (!r) return "interrupted"
    return Cause.isFailReason(r) ? safeText(r.error) : Cause.isDieReason(r) ? `defect: ${safeText(r.defect)}` : "unknown"
  } catch {
    return "unprintable cause"
  }
}

/** Whether a cause is only an interruption (the one way a run loop may end). */
export const isInterruption = (cause: Cause.Cause<unknown>): boolean => Cause.hasInterruptsOnly(cause)

/**
 * Runs an effect that must never end the loop: a failure or defect is logged (and `onCause`
 * runs, itself guarded); interruption passes through.
 */
export const guarded = <R>(
  what: string,
  effect: Effect.Effect<void, unknown, R>,
  onCause?: (text: string) => Effect.Effect<void, unknown, R>
): Effect.Effect<void, never, R> =>
  Effect.suspend(() => effect).pipe(
    Effect.catchCause((cause) => {
      if (isInterruption(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const text = safeCauseText(cause)
      const log = Effect.logWarning(`byteport: ${what} failed: ${text}`)
      return onCause
        ? Effect.andThen(log, Effect.suspend(() => onCause(text)).pipe(Effect.catchCause((c) => isInterruption(c) ? Effect.failCause(c as Cause.Cause<never>) : Effect.void)))
        : log
    })
  )

/** Records an audit event, never failing or dying (a broken notifier is logged). */
export const audit = (event: string, data: Record<string, unknown>): Effect.Effect<void, never, Notifier> =>
  guarded(`audit ${event}`, Effect.flatMap(Effect.service(Notifier), (n) => n.audit(event, data)))

/**
 * Takes a plain JSON snapshot of a detector element, reading each property once: throwing
 * getters and proxy traps, cycles, BigInts and elements over `maxSignalChars` are refused.
 */
const snapshot = (raw: unknown): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string } => {
  try {
    // The replacer stops a huge element early, before its JSON is built.
    let budget = maxSignalChars
    const text = JSON.stringify(raw, (_key, value: unknown) => {
      budget -= typeof value === "string" ? value.length + 2 : 8
      if (budget < 0) throw new Error(`element is more than ${maxSignalChars} characters of JSON`)
      return value
    })
    if (typeof text !== "string") return { ok: false, message: `not a JSON value (${raw === undefined ? "undefined" : typeof raw})` }
    return { ok: true, value: JSON.parse(text) }
  } catch (e) {
    return { ok: false, message: `element cannot be read as JSON: ${safeText(e)}` }
  }
}

/**
 * Decodes one detector element into a Signal. Never dies: anything that is not a valid Signal
 * (null, wrong types, a throwing getter, a proxy, a cyclic or huge value) is a `MalformedSignal`
 * naming the source and the reason. The Signal returned is a fresh plain value, detached from
 * the element (a hostile object cannot change it afterwards).
 */
export const decodeElement = (source: string, raw: unknown): Effect.Effect<S.Signal, MalformedSignal> =>
  Effect.suspend(() => {
    const snap = snapshot(raw)
    if (!snap.ok) return Effect.fail(new MalformedSignal({ detector: source, message: snap.message }))
    return S.decode(snap.value).pipe(Effect.mapError((e) => new MalformedSignal({ detector: source, message: safeText(e.message, 2_000) })))
  }).pipe(
    Effect.catchCause((cause) =>
      isInterruption(cause)
        ? Effect.failCause(cause as Cause.Cause<never>)
        : Cause.hasFails(cause) && Cause.squash(cause) instanceof MalformedSignal
        ? Effect.fail(Cause.squash(cause) as MalformedSignal)
        : Effect.fail(new MalformedSignal({ detector: source, message: `element could not be decoded: ${safeCauseText(cause)}` }))
    )
  )

/** Options of `supervise`. */
export interface SuperviseOptions {
  /** The source's name (a detector's name, `bus`, `source[i]`), for reports. */
  readonly name: string
  /** The runbook it feeds, when there is one. */
  readonly runbook?: string | undefined
  /** The restart backoff (default 1 s × 2^N, cap 60 s); the attempt count resets once an element flows. */
  readonly backoff?: Backoff.Options | undefined
  /**
   * After this many failures in a row (no element in between) the failure is escalated once to
   * the ops channel (severity warning: detection is degraded), beside the audit (default 5; 0: never).
   */
  readonly escalateAfter?: number | undefined
}

/** The default streak of detector failures that escalates: 5 (with the default backoff, about 15 s of failing). */
export const defaultEscalateAfter = 5

/** One escalation for a detector failing `attempt` times in a row: detection is degraded, a human should look. */
const escalateFailing = (options: SuperviseOptions, attempt: number, delayMs: number, cause: string): Effect.Effect<void, never, Notifier> =>
  guarded(`escalating failing detector ${options.name}`, Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const notifier = yield* Notifier
    yield* notifier.escalate({
      incidentId: `detector:${options.name}:${now}`,
      runbook: options.runbook ?? "byteport",
      reason: `detector ${options.name} failed ${attempt} times in a row; detection is degraded (restarting every ${delayMs} ms): ${cause}`,
      severity: "warning",
      signal: { type: "detector.failing", target: { kind: "byteport.detector", ref: options.name }, observedAt: now, evidence: { attempt, restartInMs: delayMs } },
      facts: {},
      decisions: [],
      outcomes: [],
      verdicts: [],
      nextSteps: [
        `check what detector ${options.name} reads (API server, metrics, database) and its credentials`,
        "the detector keeps restarting with backoff; it escalates again only after it recovers and fails anew"
      ],
      proposals: [],
      attachments: [],
      at: now
    })
  }))

/**
 * A source that never fails and never dies: when it fails (or dies, or cannot even be built) the
 * failure is reported — audit `detector.failed` with the attempt and the delay, plus a warning
 * log — and the source is restarted after the backoff delay. When it ends normally that is
 * audited (`detector.ended`) and the supervised stream ends. Interruption passes through.
 */
export const supervise = <A, E, R>(
  source: Stream.Stream<A, E, R>,
  options: SuperviseOptions
): Stream.Stream<A, never, R | Notifier> => {
  const resolved = Backoff.resolve(options.backoff ?? defaultDetectorBackoff)
  const backoff = resolved instanceof Backoff.InvalidBackoff ? (Backoff.resolve(defaultDetectorBackoff) as Backoff.Resolved) : resolved
  let attempt = 0
  const ref = options.runbook !== undefined ? { runbook: options.runbook } : {}
  const once: Stream.Stream<A, never, R | Notifier> = Stream.suspend(() => source).pipe(
    Stream.tap(() => Effect.sync(() => void (attempt = 0))),
    Stream.catchCause((cause): Stream.Stream<A, never, R | Notifier> => {
      if (isInterruption(cause)) return Stream.failCause(cause as Cause.Cause<never>)
      const delayMs = Backoff.delayMillisOf(backoff, attempt)
      attempt++
      const text = safeCauseText(cause)
      const escalateAfter = options.escalateAfter ?? defaultEscalateAfter
      const report = Effect.andThen(
        audit("detector.failed", { ...ref, detector: options.name, attempt, restartInMs: delayMs, cause: text }),
        Effect.andThen(
          Effect.logWarning(`byteport: detector ${options.name} failed (attempt ${attempt}), restarting in ${delayMs} ms: ${text}`),
          escalateAfter > 0 && attempt === escalateAfter ? escalateFailing(options, attempt, delayMs, text) : Effect.void
        )
      )
      return Stream.unwrap(Effect.as(Effect.andThen(report, Effect.sleep(delayMs)), Stream.suspend(() => once)))
    })
  )
  return Stream.concat(
    once,
    Stream.fromEffect(audit("detector.ended", { ...ref, detector: options.name })).pipe(Stream.drain)
  )
}
