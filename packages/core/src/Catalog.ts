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
import { Duration, Effect, Fiber, FiberSet, Semaphore, Stream } from "effect"
import { IncidentBus } from "./IncidentBus"
import { canonical } from "./Json"
import { Notifier } from "./Notifier"
import * as Runbook from "./Runbook"
import * as S from "./Signal"
import * as T from "./TargetRef"

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

/** The enabled runbooks that own a signal type, best ranked first. */
export const owners = <R>(catalog: Catalog<R>, signalType: string): ReadonlyArray<Runbook.Any<R>> =>
  catalog.entries.filter((e) => e.enabled && e.runbook.signals.includes(signalType)).map((e) => e.runbook)

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
    const own = sorted.find((s) => e.runbook.signals.includes(s.type))
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

/** Options of `Catalog.run`. */
export interface RunOptions {
  /** How many incidents run at once (default 4). */
  readonly concurrency?: number
  /** Called with every result. */
  readonly onResult?: (result: Runbook.HandleResult) => Effect.Effect<void>
  /** Extra signal sources besides the runbooks' detectors (e.g. a webhook receiver). */
  readonly sources?: ReadonlyArray<Stream.Stream<unknown>>
  /** Paused incidents: wait for their approval and resume them (default), or `false` to leave them paused. */
  readonly approvals?: Runbook.AwaitApprovalOptions | false
}

/**
 * Runs every enabled runbook of the catalog from one merged stream of signals (their detectors,
 * extra sources and hand-offs on the IncidentBus). Signals on one target are gathered over the
 * settle window, then routed by `route`; one incident per target at a time.
 */
export const run = <R>(
  catalog: Catalog<R>,
  options: RunOptions = {}
): Effect.Effect<void, never, R | Runbook.Services> =>
  Effect.scoped(Effect.gen(function*() {
    const bus = yield* IncidentBus
    const notifier = yield* Notifier
    const onResult = options.onResult ?? (() => Effect.void)
    const enabled = catalog.entries.filter((e) => e.enabled).map((e) => e.runbook)
    const detectors = enabled.flatMap((rb) => (rb.detector ? [rb.detector.signals as Stream.Stream<unknown, unknown, R>] : []))
    const sources: Array<Stream.Stream<unknown, unknown, R>> = [
      ...detectors,
      ...(options.sources ?? []),
      bus.signals
    ].map((s) =>
      s.pipe(Stream.catchCause((cause) => Stream.drain(Stream.fromEffect(notifier.audit("detector.failed", { cause: String(cause) })))))
    )
    const pending = new Map<string, Array<S.Signal>>()
    const inFlight = new Set<string>()
    const sem = yield* Semaphore.make(options.concurrency ?? 4)
    const fibers = yield* FiberSet.make()
    const dispatch = (key: string) =>
      Effect.gen(function*() {
        yield* Effect.sleep(catalog.settle)
        const signals = pending.get(key) ?? []
        pending.delete(key)
        const routed = route(catalog, signals)
        if (!routed) {
          yield* notifier.audit("signal.unrouted", { target: key, types: signals.map((s) => s.type) })
          inFlight.delete(key)
          return
        }
        const r = yield* sem.withPermits(1)(Runbook.handle(routed.runbook, routed.signal)).pipe(
          Effect.ensuring(Effect.sync(() => inFlight.delete(key)))
        )
        if (Runbook.isAwaitingApproval(r) && options.approvals !== false) {
          yield* FiberSet.run(fibers, Runbook.follow(routed.runbook, r, onResult, options.approvals ?? {}))
        } else yield* onResult(r)
      })
    yield* Stream.mergeAll(sources, { concurrency: "unbounded" }).pipe(
      Stream.runForEach((raw) =>
        Effect.gen(function*() {
          const decoded = yield* Effect.result(S.decode(raw))
          if (decoded._tag === "Failure") {
            yield* notifier.audit("signal.malformed", { error: decoded.failure.message })
            return
          }
          const signal = decoded.success
          const key = T.key(signal.target)
          const buf = pending.get(key)
          if (buf) {
            buf.push(signal)
            return
          }
          if (inFlight.has(key)) return
          inFlight.add(key)
          pending.set(key, [signal])
          yield* FiberSet.run(fibers, dispatch(key))
        })
      ),
      Effect.catchCause((cause) => notifier.audit("catalog.stream_failed", { cause: String(cause) }))
    )
    yield* FiberSet.awaitEmpty(fibers)
  }))

void Fiber
