/**
 * A Diagnoser turns a Signal into Facts by running probes concurrently, each with a timeout.
 * A probe that fails, dies or times out yields an explicit `Unknown` for its fact — never an
 * abort — so the classifier can refuse to guess ("Prometheus down must not fall through to a
 * memory bump").
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect } from "effect"
import * as Fact from "./Fact"
import type { Signal } from "./Signal"

/** One probe: computes one fact from the signal. */
export interface Probe<A, R = never> {
  readonly name: string
  readonly timeout?: Duration.Input | undefined
  readonly run: (signal: Signal) => Effect.Effect<A, unknown, R>
}

/** A Diagnoser: signal → facts (never fails). */
export type Diagnoser<F, R = never> = (signal: Signal) => Effect.Effect<Fact.Facts<F>, never, R>

/** Builds a probe. */
export const probe = <A, R = never>(
  name: string,
  run: (signal: Signal) => Effect.Effect<A, unknown, R>,
  options: { readonly timeout?: Duration.Input } = {}
): Probe<A, R> => ({ name, run, timeout: options.timeout })

/** Runs one probe to a Fact: success → Known; failure, defect or timeout → Unknown with the reason. */
export const runProbe = <A, R>(p: Probe<A, R>, signal: Signal, defaultTimeout: Duration.Input): Effect.Effect<Fact.Fact<A>, never, R> => {
  const timeout = Duration.fromInputUnsafe(p.timeout ?? defaultTimeout)
  return Effect.suspend(() => p.run(signal)).pipe(
    Effect.timeoutOption(timeout),
    Effect.map((o): Fact.Fact<A> =>
      o._tag === "Some" ? Fact.known(o.value) : Fact.unknown(p.name, `timed out after ${Duration.format(timeout)}`)
    ),
    Effect.catchCause((cause) => Effect.succeed(Fact.unknown(p.name, reasonOf(cause))))
  )
}

const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const err = Cause.squash(cause)
  if (err && typeof err === "object" && "message" in err && typeof err.message === "string") {
    const tag = "_tag" in err ? `${String(err._tag)}: ` : ""
    return `${tag}${err.message}`
  }
  return String(err)
}

/** Builds a Diagnoser from a record of probes, one per fact; all run concurrently. */
export const make = <F, R = never>(
  probes: { readonly [K in keyof F]: Probe<F[K], R> },
  options: { readonly timeout?: Duration.Input; readonly concurrency?: number } = {}
): Diagnoser<F, R> =>
(signal) =>
  Effect.forEach(
    Object.keys(probes) as Array<keyof F & string>,
    (k) => Effect.map(runProbe<F[typeof k], R>(probes[k], signal, options.timeout ?? "10 seconds"), (f) => [k, f] as const),
    { concurrency: options.concurrency ?? "unbounded" }
  ).pipe(Effect.map((entries) => Object.fromEntries(entries) as unknown as Fact.Facts<F>))

/**
 * Runs a first diagnoser, then a second built from its facts (for probes that depend on
 * others, e.g. HPA discovery needs the pod's owner), and merges the facts.
 */
export const andThen = <F, G, R1, R2>(
  first: Diagnoser<F, R1>,
  next: (facts: Fact.Facts<F>, signal: Signal) => Diagnoser<G, R2>
): Diagnoser<F & G, R1 | R2> =>
(signal) =>
  Effect.flatMap(first(signal), (f) => Effect.map(next(f, signal)(signal), (g) => ({ ...f, ...g }) as Fact.Facts<F & G>))
