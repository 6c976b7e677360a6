/**
 * The Catalog decides which runbook handles a target when several detectors fire on it — not
 * whoever grabs the lease first. Runbooks declare the signals they own and a precedence (most
 * specific first: an OOMKilled crash loop goes to an OOM runbook before a generic crash-loop
 * one); users reorder the catalog and enable runbooks; by default one runbook per family is
 * enabled (the best ranked). `Catalog.run` gathers the signals of one target over a short
 * settle window and routes them deterministically, whatever their arrival order.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, FiberSet, Semaphore, Stream } from "effect"
import type * as Backoff from "./Backoff"
import * as HandOffs from "./HandOffs"
import { IncidentBus } from "./IncidentBus"
import { canonical } from "./Json"
import { Notifier } from "./Notifier"
import * as Runbook from "./Runbook"
import { loopUntilInterrupted, resumeOpenIncidents } from "./runbook/Run"
import { audit, decodeElement, guarded, supervise } from "./runbook/Supervise"
import * as S from "./Signal"
import * as T from "./TargetRef"
import * as TimedUndo from "./TimedUndo"

/** One catalog entry. */
export interface Entry<R = never> {
  readonly runbook: Runbook.Any<R>
  readonly rank: number
  readonly enabled: boolean
}

/** A catalog: ranked entries and the settle window. */
export interface Catalog<R = never> {
  readonly entries: ReadonlyArray<Entry<R>>
  readonly settle: Duration.Duration
  /** Phantom: the services the runbooks need. */
  readonly _R?: R
}

/** Options of `Catalog.make`. */
export interface MakeOptions {
  /** Runbook ids in the order the user wants them ranked (the rest follow by precedence). */
  readonly order?: ReadonlyArray<string>
  /** Runbook ids to enable (default: the best ranked runbook of each family). */
  readonly enable?: ReadonlyArray<string>
  /** Runbook ids to disable. */
  readonly disable?: ReadonlyArray<string>
  /** How long signals on one target are gathered before routing (default 2 s). */
  readonly settle?: Duration.Input
}

/** Builds a catalog. Ranking: the user's order, then precedence (lower first), then declaration order. */
export const make = <R>(runbooks: ReadonlyArray<Runbook.Any<R>>, options: MakeOptions = {}): Catalog<R> => {
  const ids = new Set<string>()
  for (const rb of runbooks) {
    if (ids.has(rb.id)) throw new Error(`Catalog.make: runbook ${rb.id} is listed twice`)
    ids.add(rb.id)
  }
  for (const id of [...(options.order ?? []), ...(options.enable ?? []), ...(options.disable ?? [])]) {
    if (!ids.has(id)) throw new Error(`Catalog.make: unknown runbook id ${id}`)
  }
  const order = options.order ?? []
  const ranked = runbooks
    .map((runbook, i) => ({ runbook, i }))
    .sort((a, b) => {
      const ua = order.indexOf(a.runbook.id)
      const ub = order.indexOf(b.runbook.id)
      if (ua !== ub) return (ua === -1 ? Infinity : ua) - (ub === -1 ? Infinity : ub)
      if (a.runbook.precedence !== b.runbook.precedence) return a.runbook.precedence - b.runbook.precedence
      return a.i - b.i
    })
  const familyTaken = new Set<string>()
  const entries = ranked.map(({ runbook }, rank): Entry<R> => {
    let enabled: boolean
    if (options.enable) enabled = options.enable.includes(runbook.id)
    else {
      enabled = !familyTaken.has(runbook.family)
      familyTaken.add(runbook.family)
    }
    if (options.disable?.includes(runbook.id)) enabled = false
    return { runbook, rank, enabled }
  })
  return { entries, settle: Duration.fromInputUnsafe(options.settle ?? "2 seconds") }
}

/** The enabled runbooks that own a signal type (for a target kind, when given), best ranked first. */
export const owners = <R>(catalog: Catalog<R>, signalType: string, targetKind?: string): ReadonlyArray<Runbook.Any<R>> =>
  catalog.entries
    .filter((e) => e.enabled && e.runbook.signals.includes(signalType) && (targetKind === undefined || e.runbook.targetKinds === undefined || e.runbook.targetKinds.includes(targetKind)))
    .map((e) => e.runbook)

/**
 * Routes the signals seen on one target: the best-ranked enabled runbook that owns any of them
 * handles the target, with the first of its signals in a canonical order. The same set of
 * signals always gives the same answer, whatever order they arrived in.
 */
export const route = <R>(
  catalog: Catalog<R>,
  signals: ReadonlyArray<S.Signal>
): { readonly runbook: Runbook.Runbook<unknown, R>; readonly signal: S.Signal } | undefined => {
  const sorted = [...signals].sort((a, b) => {
    const ka = `${a.type}\u0000${canonical(a)}`
    const kb = `${b.type}\u0000${canonical(b)}`
    return ka < kb ? -1 : ka > kb ? 1 : 0
  })
  for (const e of catalog.entries) {
    if (!e.enabled) continue
    const own = sorted.find((s) => Runbook.owns(e.runbook, s))
    // a runbook's functions are only ever given its own Diagnoser's facts (by `Runbook.handle`)
    if (own) return { runbook: e.runbook as Runbook.Runbook<unknown, R>, signal: own }
  }
  return undefined
}

/** A table of the catalog for docs and the CLI. */
export const describe = <R>(catalog: Catalog<R>): string =>
  [
    "| rank | runbook | family | enabled | signals |",
    "|---|---|---|---|---|",
    ...catalog.entries.map((e) => `| ${e.rank + 1} | ${e.runbook.id} | ${e.runbook.family} | ${e.enabled ? "yes" : "no"} | ${e.runbook.signals.join(", ")} |`)
  ].join("\n")

/**
 * The key signals are gathered and de-duplicated under: the target, or for a hand-off the
 * target and the hand-off, so a child is never held back by its parent's incident on the same target.
 */
const gatherKey = (signal: S.Signal): string =>
  signal.parent ? `${T.key(signal.target)}#${signal.parent.handOff ?? signal.parent.incidentId}` : T.key(signal.target)

/** Audits `routed_to <id>` for every other enabled runbook that owns one of the target's signals. */
const auditRoutedTo = (catalog: Catalog<any>, signals: ReadonlyArray<S.Signal>, routedTo: string) =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    for (const e of catalog.entries) {
      const own = signals.filter((s) => Runbook.owns(e.runbook, s))
      if (!e.enabled || e.runbook.id === routedTo || own.length === 0) continue
      yield* notifier.audit("routed_to", {
        runbook: e.runbook.id,
        routed_to: routedTo,
        detail: `routed_to ${routedTo}`,
        target: T.key(own[0]!.target),
        types: own.map((s) => s.type)
      })
    }
  })

/**
 * A hand-off the catalog cannot give to a runbook (none owns it, or its evidence fails its
 * Schema) escalates naming its signal type and target, on behalf of the parent incident, and
 * reports back so a parent awaiting it does not wait for its timeout.
 */
const refuseHandOff = (signal: S.Signal, reason: string, steps: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    const bus = yield* IncidentBus
    const at = yield* Clock.currentTimeMillis
    yield* notifier.escalate({
      incidentId: signal.parent?.incidentId ?? `unrouted:${T.key(signal.target)}`,
      runbook: signal.parent?.runbook ?? "catalog",
      reason,
      severity: "warning",
      signal,
      facts: {},
      decisions: [],
      outcomes: [],
      verdicts: [],
      nextSteps: [...steps, `handle ${signal.type} on ${signal.target.ref} by hand`],
      proposals: [],
      attachments: [],
      at
    })
    if (signal.parent?.handOff !== undefined) {
      yield* bus.reportBack({ handOff: signal.parent.handOff, signalType: signal.type, target: signal.target, status: "escalated", reason, at })
    }
  })

/** Options of `Catalog.run`. */
export interface RunOptions {
  /** How many incidents run at once (default 4). */
  readonly concurrency?: number
  /** Called with every result. A callback that fails or dies is logged; the loop goes on. */
  readonly onResult?: (result: Runbook.HandleResult) => Effect.Effect<void>
  /** Extra signal sources besides the runbooks' detectors (e.g. a webhook receiver). */
  readonly sources?: ReadonlyArray<Stream.Stream<unknown>>
  /** Paused incidents: wait for their approval and resume them (default), or `false` to leave them paused. */
  readonly approvals?: Runbook.AwaitApprovalOptions | false
  /** Resume the open incidents of the catalog's enabled runbooks first (default true), like `Runbook.run`. */
  readonly resumeOpen?: boolean
  /** How a failing detector or source is restarted (default 1 s × 2^N, cap 60 s). */
  readonly detectorBackoff?: Backoff.Options
  /** Run the journaled timed undos as they fall due (`TimedUndo.loop`; default on), or `false`. */
  readonly timedUndo?: TimedUndo.LoopOptions | false
}

/**
 * Runs every enabled runbook of the catalog from one merged stream of signals (their detectors,
 * extra sources and hand-offs on the IncidentBus). At start it resumes the open incidents of its
 * enabled runbooks (an open incident of a runbook it does not run is audited `incident.unowned`).
 * Signals on one target are gathered over the settle window, then routed by `route`; one
 * incident per target at a time. Every element is decoded under a handler that also catches
 * defects (a malformed one is audited `signal.malformed` and skipped); a detector or source
 * that fails or dies is reported and restarted with backoff. It ends only when interrupted (the
 * IncidentBus never ends).
 */
export const run = <R>(
  catalog: Catalog<R>,
  options: RunOptions = {}
): Effect.Effect<void, never, R | Runbook.Services> =>
  Effect.scoped(Effect.gen(function*() {
    const bus = yield* IncidentBus
    const notifier = yield* Notifier
    const userOnResult = options.onResult ?? (() => Effect.void)
    const onResult = (r: Runbook.HandleResult) => guarded("onResult", userOnResult(r))
    const fibers = yield* FiberSet.make<void, never>()
    // (internal: the engine handles every runbook whatever its facts type)
    const enabled = catalog.entries.filter((e) => e.enabled).map((e) => e.runbook)
    const report = (runbook: Runbook.Any<R>, r: Runbook.HandleResult) =>
      Runbook.isAwaitingApproval(r) && options.approvals !== false
        ? Effect.asVoid(FiberSet.run(fibers, Runbook.follow(runbook as unknown as Runbook.Runbook<unknown, R>, r, onResult, options.approvals ?? {})))
        : onResult(r)
    if (options.resumeOpen ?? true) yield* resumeOpenIncidents(enabled, report, { reportUnowned: true })
    if (options.timedUndo !== false) yield* Effect.forkScoped(TimedUndo.loop(options.timedUndo ?? {}))
    const backoff = options.detectorBackoff
    const sources: Array<Stream.Stream<{ readonly from: string; readonly raw: unknown }, never, R | Runbook.Services>> = [
      ...enabled.flatMap((rb) =>
        rb.detector
          ? [supervise(Stream.suspend(() => rb.detector!.signals as Stream.Stream<unknown, unknown, R>), { name: rb.detector.name, runbook: rb.id, backoff })
            .pipe(Stream.map((raw) => ({ from: rb.detector!.name, raw })))]
          : []
      ),
      ...(options.sources ?? []).map((s, i) => supervise(s, { name: `source[${i}]`, backoff }).pipe(Stream.map((raw) => ({ from: `source[${i}]`, raw })))),
      supervise(bus.signals, { name: "bus", backoff }).pipe(Stream.map((raw) => ({ from: "bus", raw })))
    ]
    const pending = new Map<string, Array<S.Signal>>()
    const inFlight = new Set<string>()
    const sem = yield* Semaphore.make(options.concurrency ?? 4)
    const dispatch = (key: string) =>
      Effect.gen(function*() {
        yield* Effect.sleep(catalog.settle)
        const signals = pending.get(key) ?? []
        pending.delete(key)
        const routed = route(catalog, signals)
        if (!routed) {
          yield* notifier.audit("signal.unrouted", { target: key, types: signals.map((s) => s.type) })
          // A hand-off no enabled runbook owns escalates (and reports back to an awaiting parent).
          for (const s of signals.filter((x) => x.parent !== undefined)) {
            yield* refuseHandOff(s, `no enabled runbook owns hand-off ${s.type} on ${s.target.kind} ${s.target.ref}`, [
              `enable a runbook that owns ${s.type}`
            ])
          }
          return
        }
        yield* auditRoutedTo(catalog, signals, routed.runbook.id)
        const checked = yield* Effect.result(HandOffs.validate(routed.signal, "receive"))
        if (checked._tag === "Failure") {
          yield* notifier.audit("handoff.invalid", { runbook: routed.runbook.id, type: routed.signal.type, target: key, error: checked.failure.message })
          yield* refuseHandOff(routed.signal, `hand-off ${routed.signal.type} on ${routed.signal.target.kind} ${routed.signal.target.ref} refused: ${checked.failure.message}`, [
            `fix the evidence the emitter of ${routed.signal.type} sends`
          ])
          return
        }
        // A hand-off child runs outside the concurrency bound: its parent may hold a permit while it awaits the child.
        const handled = Runbook.handle(routed.runbook, routed.signal)
        const r = yield* (routed.signal.parent ? handled : sem.withPermits(1)(handled))
        yield* report(routed.runbook, r)
      }).pipe(
        (eff) => guarded(`catalog: incident on ${key}`, eff, (error) => audit("incident.failed", { target: key, error })),
        Effect.ensuring(Effect.sync(() => {
          pending.delete(key)
          inFlight.delete(key)
        }))
      )
    const onElement = (el: { readonly from: string; readonly raw: unknown }) =>
      Effect.gen(function*() {
        const decoded = yield* Effect.result(decodeElement(el.from, el.raw))
        if (decoded._tag === "Failure") {
          yield* audit("signal.malformed", { detector: el.from, error: decoded.failure.message })
          return
        }
        const signal = decoded.success
        const key = gatherKey(signal)
        const buf = pending.get(key)
        if (buf) {
          buf.push(signal)
          return
        }
        if (inFlight.has(key)) return
        inFlight.add(key)
        pending.set(key, [signal])
        yield* FiberSet.run(fibers, dispatch(key))
      }).pipe((eff) => guarded(`catalog: element from ${el.from}`, eff, (error) => audit("signal.malformed", { detector: el.from, error })))
    yield* loopUntilInterrupted(Stream.mergeAll(sources, { concurrency: "unbounded" }).pipe(Stream.runForEach(onElement)), { catalog: true })
    yield* FiberSet.awaitEmpty(fibers)
  }))
