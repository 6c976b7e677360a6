/**
 * Leader election on one coordination.k8s.io/v1 Lease, with client-go's semantics
 * (`k8s.io/client-go/tools/leaderelection`) and the defaults controllers use: lease 15 s,
 * renew deadline 10 s, retry period 2 s (all configurable).
 *
 * The Lease (default `byteport-agent-leader` in `byteport`) is a separate object from
 * `LeaseStore`'s per-target leases: its `spec` is the election record (`holderIdentity`,
 * `leaseDurationSeconds`, `acquireTime`, `renewTime`, `leaseTransitions`), written only with
 * optimistic concurrency (create → 409 AlreadyExists; replace with the read `resourceVersion` →
 * 409 Conflict). A 409 means "lost": another elector wrote first.
 *
 * **Expiry is judged on the local clock, never on `renewTime`** (as client-go does): a follower
 * records when it first *observed* the current record (the instant its GET answered) and takes
 * the Lease only when that record stayed unchanged for its `leaseDurationSeconds`. So clock skew
 * between agents changes nothing.
 *
 * **Stepping down.** The leader renews every retry period; it counts as leader only until
 * `renewedAt + renewDeadline`, where `renewedAt` is read *before* its successful write was sent.
 * A follower's observation comes after that write, and it waits `leaseDuration > renewDeadline`
 * from there: so `isLeader` turns false strictly before anyone else can take the Lease, whatever
 * the renew failures, pauses or slow requests. A 409 on renew ends the term at once.
 *
 * **Epochs.** Every term carries an epoch, the Lease's `leaseTransitions` after the acquire. Each
 * new term increments it, including a re-acquire by the same identity after it stepped down
 * (client-go increments only when the holder changes), so two terms never share an epoch.
 *
 * **Fencing.** `leadership` provides core's `Leadership` from the elector: the executor starts a
 * step only while this elector leads, every guardrail acquire carries the term's epoch in the
 * fencing scope `<namespace>/<name>`, and a store that refuses it (a newer leader wrote) makes
 * the elector step down (`stepDown`). `eachTerm(self)` runs `self` (e.g. `Catalog.run`, which
 * resumes the open incidents when it starts) during every term of this elector.
 *
 * @since 0.1.0
 */
import { V1MicroTime } from "@kubernetes/client-node"
import type { V1Lease } from "@kubernetes/client-node"
import { Leadership } from "@byteport/core"
import { Cause, Clock, Config, Context, Deferred, Duration, Effect, Fiber, Layer, Option, Ref, Schema, Scope, Stream, SubscriptionRef } from "effect"
import { hostname } from "node:os"
import { randomUUID } from "node:crypto"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"

/** Options of the elector. */
export interface Options {
  /** Name of the election Lease (default `byteport-agent-leader`). */
  readonly name?: string | undefined
  /** Namespace of the Lease (default `byteport`; it must exist). */
  readonly namespace?: string | undefined
  /** This elector's identity (default `<hostname>-<random>`); unique per process. */
  readonly identity?: string | undefined
  /** How long a follower waits on an unchanged record before taking the Lease (default 15 s). */
  readonly leaseDuration?: Duration.Input | undefined
  /** How long the leader keeps leading without a successful renew (default 10 s; must be below leaseDuration). */
  readonly renewDeadline?: Duration.Input | undefined
  /** Interval between acquire and renew attempts (default 2 s). */
  readonly retryPeriod?: Duration.Input | undefined
  /** Give the Lease up (holder cleared) when the elector's scope closes while leading (default true). */
  readonly releaseOnCancel?: boolean | undefined
}

/** What the elector knows: whether it leads, its epoch, and the holder it last saw. */
export interface Status {
  /** True while this elector leads. */
  readonly leading: boolean
  /** The epoch (`leaseTransitions`) of this elector's term; undefined when not leading. */
  readonly epoch: number | undefined
  /** The holder named by the last record this elector read or wrote ("" when released). */
  readonly holder: string | undefined
}

/** The effect passed to `whileLeader` did not start (not leading) or was interrupted (its term ended). */
export class NotLeader extends Schema.TaggedError<NotLeader>()("NotLeader", {
  identity: Schema.String,
  reason: Schema.Literals(["not-leading", "term-ended"]),
  epoch: Schema.optional(Schema.Number)
}) {}

/** The elector service. */
export interface LeaderElectionShape {
  /** This elector's identity (the Lease's `holderIdentity` while it leads). */
  readonly identity: string
  /** True iff this elector leads now: it holds the Lease and its last successful renew is within the renew deadline. */
  readonly isLeader: Effect.Effect<boolean>
  /** The epoch (`leaseTransitions`) of the current term, or none when not leading. */
  readonly epoch: Effect.Effect<Option.Option<number>>
  /** The current status. */
  readonly status: Effect.Effect<Status>
  /** Every status change (gained, lost, holder seen changed), from subscription on. */
  readonly changes: Stream.Stream<Status>
  /**
   * Runs `self` only while leading: fails with `NotLeader("not-leading")` without starting it when
   * this elector does not lead, and interrupts it (failing `NotLeader("term-ended")`) the moment
   * its term ends (renew deadline missed, 409 on renew, release). `self` gets the term's epoch.
   */
  readonly whileLeader: <A, E, R>(self: (epoch: number) => Effect.Effect<A, E, R>) => Effect.Effect<A, E | NotLeader, R>
  /** The fencing scope of this election's epochs: `<namespace>/<name>` of its Lease. */
  readonly scope: string
  /** Ends the current term now (a store refused its epoch: a newer leader exists); a no-op when not leading. */
  readonly stepDown: (reason: string) => Effect.Effect<void>
}

/** The leader elector of this agent. */
export class LeaderElection extends Context.Service<LeaderElection, LeaderElectionShape>()("@byteport/k8s/LeaderElection") {}

/** The defaults controllers use (client-go / kube-controller-manager). */
export const defaults = { name: "byteport-agent-leader", namespace: "byteport", leaseDuration: "15 seconds", renewDeadline: "10 seconds", retryPeriod: "2 seconds" } as const

interface Term {
  readonly epoch: number
  readonly acquireTime: number
  /** Clock reading taken before the last successful write was sent. */
  renewedAt: number
  ended: boolean
  readonly done: Deferred.Deferred<void>
}

type Attempt = "acquired" | "renewed" | "held" | "lost"

const ms = (d: Duration.Input): number => Duration.toMillis(Duration.fromInputUnsafe(d))
const micro = (t: unknown): string | undefined => (t === undefined || t === null ? undefined : t instanceof Date ? t.toISOString() : String(t))
/** The part of a record a change of which resets the observed time. */
const fingerprint = (l: V1Lease): string =>
  JSON.stringify([l.metadata?.resourceVersion, l.spec?.holderIdentity, micro(l.spec?.renewTime), l.spec?.leaseTransitions])

/** Builds an elector and starts its loop in the current scope (the loop stops, and releases the Lease, when the scope closes). */
export const make = (options: Options = {}): Effect.Effect<LeaderElectionShape, never, Kube | Scope.Scope> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const name = options.name ?? defaults.name
    const namespace = options.namespace ?? defaults.namespace
    const identity = options.identity ?? `${hostname()}-${randomUUID().slice(0, 8)}`
    const leaseMs = ms(options.leaseDuration ?? defaults.leaseDuration)
    const renewDeadlineMs = ms(options.renewDeadline ?? defaults.renewDeadline)
    const retryMs = ms(options.retryPeriod ?? defaults.retryPeriod)
    if (!(renewDeadlineMs < leaseMs)) return yield* Effect.die(new Error(`LeaderElection: renewDeadline (${renewDeadlineMs} ms) must be below leaseDuration (${leaseMs} ms)`))
    if (!(retryMs > 0 && retryMs < renewDeadlineMs)) return yield* Effect.die(new Error(`LeaderElection: retryPeriod (${retryMs} ms) must be positive and below renewDeadline (${renewDeadlineMs} ms)`))
    const leaseSeconds = Math.max(1, Math.ceil(leaseMs / 1000))

    const term = yield* Ref.make<Term | undefined>(undefined)
    const status = yield* SubscriptionRef.make<Status>({ leading: false, epoch: undefined, holder: undefined })
    // the last record read or written, and when it was first observed (local clock)
    let observed: { readonly fp: string; readonly at: number; readonly holder: string; readonly durationMs: number } | undefined

    const live = (t: Term | undefined, now: number): t is Term => t !== undefined && !t.ended && now < t.renewedAt + renewDeadlineMs
    const isLeader = Effect.gen(function*() {
      return live(yield* Ref.get(term), yield* Clock.currentTimeMillis)
    })
    const setHolder = (holder: string) => SubscriptionRef.update(status, (s) => (s.holder === holder ? s : { ...s, holder }))

    const endTerm = (t: Term, why: string) =>
      Effect.gen(function*() {
        if (t.ended) return
        t.ended = true
        yield* Deferred.succeed(t.done, undefined)
        yield* SubscriptionRef.update(status, (s) => ({ ...s, leading: false, epoch: undefined }))
        yield* Effect.logInfo(`leader election ${namespace}/${name}: ${identity} stopped leading (epoch ${t.epoch}): ${why}`)
      })

    /** Ends the term when its renew deadline passes (re-reading it, as renewals push it forward). */
    const watchdog = (t: Term) =>
      Effect.gen(function*() {
        while (!t.ended) {
          const left = t.renewedAt + renewDeadlineMs - (yield* Clock.currentTimeMillis)
          if (left <= 0) return yield* endTerm(t, `no successful renew within the renew deadline (${renewDeadlineMs} ms)`)
          yield* Effect.sleep(Duration.millis(left))
        }
      })

    const record = (holder: string, acquireTime: number, renewTime: number, transitions: number, durationSeconds = leaseSeconds): V1Lease["spec"] => ({
      holderIdentity: holder,
      leaseDurationSeconds: durationSeconds,
      acquireTime: new V1MicroTime(acquireTime),
      renewTime: new V1MicroTime(renewTime),
      leaseTransitions: transitions
    })

    /** One client-go `tryAcquireOrRenew`. */
    const attempt: Effect.Effect<Attempt, KubeError> = Effect.gen(function*() {
      const current = yield* kube.getLease(namespace, name).pipe(
        Effect.map((l): V1Lease | undefined => l),
        Effect.catchTag("KubeNotFound", () => Effect.succeed(undefined))
      )
      // read after the answer: an observation is never earlier than the write it observes
      const now = yield* Clock.currentTimeMillis
      const t = yield* Ref.get(term)
      const leading = live(t, now)
      if (current === undefined) {
        const created = yield* kube.createLease(namespace, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace, labels: { "app.kubernetes.io/managed-by": "byteport", "byteport.io/leader-election": "true" } },
          spec: record(identity, now, now, 0)
        }).pipe(Effect.map((l): V1Lease | undefined => l), Effect.catchTag("KubeConflict", () => Effect.succeed(undefined)))
        if (created === undefined) return "lost"
        observed = { fp: fingerprint(created), at: now, holder: identity, durationMs: leaseMs }
        yield* startTerm(0, now, now)
        return "acquired"
      }
      const spec = current.spec ?? {}
      const holder = spec.holderIdentity ?? ""
      const fp = fingerprint(current)
      if (observed === undefined || observed.fp !== fp) {
        observed = { fp, at: now, holder, durationMs: (spec.leaseDurationSeconds ?? leaseSeconds) * 1000 }
        yield* setHolder(holder)
      }
      const mine = holder === identity
      if (holder !== "" && !mine && observed.at + observed.durationMs > now) return "held"
      const renewing = mine && leading
      const transitions = spec.leaseTransitions ?? 0
      const acquireTime = renewing ? t.acquireTime : now
      const epoch = renewing ? t.epoch : transitions + 1
      const written = yield* kube.replaceLease(namespace, {
        ...current,
        metadata: { ...current.metadata, name, resourceVersion: current.metadata!.resourceVersion! },
        spec: record(identity, acquireTime, now, epoch)
      }).pipe(Effect.map((l): V1Lease | undefined => l), Effect.catchTag("KubeConflict", () => Effect.succeed(undefined)), Effect.catchTag("KubeNotFound", () => Effect.succeed(undefined)))
      if (written === undefined) return "lost"
      const after = yield* Clock.currentTimeMillis
      observed = { fp: fingerprint(written), at: after, holder: identity, durationMs: leaseMs }
      if (renewing) {
        // extend only a term still alive (the watchdog may have ended it while the write was in flight)
        if (t.ended) return "lost"
        t.renewedAt = now
        if (after >= now + renewDeadlineMs) {
          yield* endTerm(t, "the renew landed after the renew deadline")
          return "lost"
        }
        return "renewed"
      }
      if (t !== undefined) yield* endTerm(t, "superseded by a new term")
      if (after >= now + renewDeadlineMs) return "lost"
      yield* startTerm(epoch, acquireTime, now)
      return "acquired"
    })

    const startTerm = (epoch: number, acquireTime: number, renewedAt: number) =>
      Effect.gen(function*() {
        const t: Term = { epoch, acquireTime, renewedAt, ended: false, done: yield* Deferred.make<void>() }
        yield* Ref.set(term, t)
        yield* SubscriptionRef.set(status, { leading: true, epoch, holder: identity })
        yield* Effect.forkIn(watchdog(t), scope)
        yield* Effect.logInfo(`leader election ${namespace}/${name}: ${identity} leads (epoch ${epoch})`)
      })

    const scope = yield* Effect.scope
    const loop = Effect.gen(function*() {
      while (true) {
        const before = yield* Ref.get(term)
        const wasLeading = live(before, yield* Clock.currentTimeMillis)
        const r = yield* attempt.pipe(
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.failCause(cause)
              : Effect.logWarning(`leader election ${namespace}/${name}: ${identity} attempt failed`, Cause.pretty(cause)).pipe(Effect.as("failed" as const))
          )
        )
        if (r === "lost" && wasLeading && before !== undefined) yield* endTerm(before, "409 Conflict on renew: another elector wrote the Lease")
        yield* Effect.sleep(Duration.millis(retryMs))
      }
    })

    const release = Effect.gen(function*() {
      const t = yield* Ref.get(term)
      if (t === undefined || t.ended) return
      yield* endTerm(t, "released")
      if (options.releaseOnCancel === false) return
      const current = yield* kube.getLease(namespace, name)
      if (current.spec?.holderIdentity !== identity) return
      const now = yield* Clock.currentTimeMillis
      yield* kube.replaceLease(namespace, {
        ...current,
        metadata: { ...current.metadata, name, resourceVersion: current.metadata!.resourceVersion! },
        spec: { ...record("", now, now, current.spec?.leaseTransitions ?? t.epoch, 1) }
      })
    }).pipe(Effect.catchCause(() => Effect.void))

    const fiber = yield* Effect.forkIn(loop, scope)
    yield* Effect.addFinalizer(() => Fiber.interrupt(fiber).pipe(Effect.andThen(release)))

    const whileLeader = <A, E, R>(self: (epoch: number) => Effect.Effect<A, E, R>): Effect.Effect<A, E | NotLeader, R> =>
      Effect.gen(function*() {
        const t = yield* Ref.get(term)
        if (!live(t, yield* Clock.currentTimeMillis)) return yield* new NotLeader({ identity, reason: "not-leading" })
        const ended = Deferred.await(t.done).pipe(Effect.andThen(Effect.fail(new NotLeader({ identity, reason: "term-ended", epoch: t.epoch }))))
        return yield* Effect.raceFirst(self(t.epoch), ended)
      })

    return {
      identity,
      scope: `${namespace}/${name}`,
      stepDown: (reason: string) =>
        Effect.flatMap(Ref.get(term), (t) => (t === undefined || t.ended ? Effect.void : endTerm(t, `stepped down: ${reason}`))),
      isLeader,
      epoch: Effect.gen(function*() {
        const t = yield* Ref.get(term)
        return live(t, yield* Clock.currentTimeMillis) ? Option.some(t.epoch) : Option.none()
      }),
      status: Effect.gen(function*() {
        const s = yield* SubscriptionRef.get(status)
        return s.leading && !(yield* isLeader) ? { ...s, leading: false, epoch: undefined } : s
      }),
      changes: SubscriptionRef.changes(status),
      whileLeader
    }
  })

/**
 * Core's `Leadership` from the elector: the term's epoch (`leaseTransitions`) in the fencing
 * scope `<namespace>/<name>` while it leads, none otherwise; `stepDown` ends the term.
 */
export const leadership: Layer.Layer<Leadership.Leadership, never, LeaderElection> = Layer.effect(
  Leadership.Leadership,
  Effect.gen(function*() {
    return leadershipOf(yield* LeaderElection)
  })
)

const leadershipOf = (le: LeaderElectionShape): Leadership.LeadershipShape => ({
  epoch: Effect.map(le.epoch, Option.map((value) => ({ scope: le.scope, value }))),
  stepDown: le.stepDown
})

/**
 * Runs `self` during every term of this elector, with core's `Leadership` provided: it starts
 * when the elector gains the lead, is interrupted when the term ends (renew deadline missed, a
 * 409, `stepDown`), and starts again at the next term. Never returns; fails only when `self` fails.
 */
export const eachTerm = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<never, E, Exclude<R, Leadership.Leadership> | LeaderElection> =>
  Effect.gen(function*() {
    const le = yield* LeaderElection
    const provided = Effect.provideService(self, Leadership.Leadership, leadershipOf(le))
    while (true) {
      // wait for the lead (a status change, or a re-check every second)
      while (!(yield* le.isLeader)) {
        yield* Effect.raceFirst(Effect.asVoid(Stream.runHead(Stream.filter(le.changes, (s) => s.leading))), Effect.sleep("1 second"))
      }
      yield* le.whileLeader(() => provided).pipe(Effect.catchTag("NotLeader", () => Effect.void))
    }
  })

/** The elector as a layer (its loop runs for the layer's lifetime; closing it releases the Lease). */
export const layer = (options: Options = {}): Layer.Layer<LeaderElection, never, Kube> => Layer.effect(LeaderElection, make(options))

/**
 * The elector configured from `BYTEPORT_LEADER_LEASE_NAME`, `BYTEPORT_LEADER_NAMESPACE` (default:
 * `BYTEPORT_LEASE_NAMESPACE`, else `byteport`), `BYTEPORT_LEADER_IDENTITY` (default `POD_NAME`,
 * else hostname + random), `BYTEPORT_LEADER_LEASE_DURATION` (15 seconds),
 * `BYTEPORT_LEADER_RENEW_DEADLINE` (10 seconds), `BYTEPORT_LEADER_RETRY_PERIOD` (2 seconds).
 */
export const layerConfig: Layer.Layer<LeaderElection, Config.ConfigError, Kube> = Layer.unwrap(
  Effect.gen(function*() {
    const name = yield* Config.String("BYTEPORT_LEADER_LEASE_NAME").pipe(Config.withDefault(defaults.name))
    const fallbackNs = yield* Config.String("BYTEPORT_LEASE_NAMESPACE").pipe(Config.withDefault(defaults.namespace))
    const namespace = yield* Config.String("BYTEPORT_LEADER_NAMESPACE").pipe(Config.withDefault(fallbackNs))
    const identity = yield* Config.String("BYTEPORT_LEADER_IDENTITY").pipe(Config.orElse(() => Config.String("POD_NAME")), Config.option)
    const leaseDuration = yield* Config.Duration("BYTEPORT_LEADER_LEASE_DURATION").pipe(Config.withDefault(Duration.fromInputUnsafe(defaults.leaseDuration)))
    const renewDeadline = yield* Config.Duration("BYTEPORT_LEADER_RENEW_DEADLINE").pipe(Config.withDefault(Duration.fromInputUnsafe(defaults.renewDeadline)))
    const retryPeriod = yield* Config.Duration("BYTEPORT_LEADER_RETRY_PERIOD").pipe(Config.withDefault(Duration.fromInputUnsafe(defaults.retryPeriod)))
    return layer({ name, namespace, identity: Option.getOrUndefined(identity), leaseDuration, renewDeadline, retryPeriod })
  })
)
