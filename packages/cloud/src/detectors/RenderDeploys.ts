/**
 * `RenderDeploys`: suspect Render deploys as Signals, by polling (default every 15 s). For each
 * watched service, the newest deploy, once `live`, is watched: its health endpoint is probed at
 * every poll (a streak of failing probes — non-2xx or timed out — longer than 2 minutes), its
 * `server_failed` events are counted (a crash loop: 3 or more), and once the 5-minute window
 * after it went live has ended its 5xx rate is compared with the 5 minutes before (more than 5×).
 * The first of these to hold emits one signal for that deploy; the deploy is claimed in the
 * GuardrailStore (`compareAndSet`), so it is emitted once, ever, across restarts and replicas.
 *
 * @since 0.1.0
 */
import { Detector, GuardrailStore, type Signal, TargetRef } from "@byteport/core"
import { Clock, Effect, Schedule } from "effect"
import { defaultThresholds, emptyStreak, errorRateSpiking, failingFor, healthFailing, type HealthStreak, stepStreak, type Thresholds } from "../classifiers/RenderBadDeploy"
import { crashesOf, errorRateAt, healthUrlOf, toDeployFacts } from "../diagnosers/RenderDeployDiagnoser"
import { Render } from "../render/Render"

/** The signal type. */
export const SIGNAL_TYPE = "render.deploy.suspect"

/** The target kind of a Render service (`render.service`, ref: the service id). */
export const TARGET_KIND = "render.service"

/** The target of a service. */
export const targetOf = (serviceId: string): TargetRef.TargetRef => TargetRef.make(TARGET_KIND, serviceId)

/** The store key that claims a deploy (the dedup key). */
export const claimKey = (serviceId: string, deployId: string): string => `deploy.render.rollback:deploy:${serviceId}:${deployId}`

/** What tripped. */
export type Trigger = "error_rate" | "health" | "crash_loop"

/** The signal of a suspect deploy. */
export const signalOf = (
  serviceId: string,
  deployId: string,
  trigger: Trigger,
  observedAt: number,
  extra: { readonly commitId?: string | null; readonly healthFailingSince?: number; readonly healthFailingProbes?: number } = {}
): Signal.Signal => ({
  type: SIGNAL_TYPE,
  target: targetOf(serviceId),
  observedAt,
  evidence: {
    serviceId,
    deployId,
    trigger,
    ...(extra.commitId ? { commitId: extra.commitId } : {}),
    ...(extra.healthFailingSince !== undefined ? { healthFailingSince: extra.healthFailingSince } : {}),
    ...(extra.healthFailingProbes !== undefined ? { healthFailingProbes: extra.healthFailingProbes } : {})
  },
  source: "render/poll"
})

/** Options of {@link make}. */
export interface Options {
  /** The services watched (ids `srv-…`). */
  readonly services: ReadonlyArray<string>
  readonly thresholds?: Partial<Thresholds>
  /** Health URL per service (default the service's `url` + `healthCheckPath`). */
  readonly healthUrls?: Readonly<Record<string, string>>
  /** A probe's timeout, ms (default 5 000). */
  readonly probeTimeoutMs?: number
  /** Poll schedule (default every 15 s). */
  readonly schedule?: Schedule.Schedule<unknown>
}

/** A poller's state per service: the deploy watched, its health streak, whether its window was evaluated. */
export interface WatchState {
  deployId?: string
  streak: HealthStreak
  rateChecked: boolean
  done: boolean
}

/** The state of a poller. */
export type PollState = Map<string, WatchState>

/** One poll: the newly suspect deploys, claimed. */
export const pollOnce = (options: Options, state: PollState): Effect.Effect<ReadonlyArray<Signal.Signal>, never, Render | GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const t = { ...defaultThresholds, ...(options.thresholds ?? {}) }
    const render = yield* Render
    const store = yield* GuardrailStore.GuardrailStore
    const out: Array<Signal.Signal> = []
    for (const serviceId of options.services) {
      const step = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const newest = (yield* render.listDeploys(serviceId, 1))[0]
        if (!newest) return
        const d = toDeployFacts(newest)
        let w = state.get(serviceId)
        if (!w || w.deployId !== d.id) {
          w = { deployId: d.id, streak: emptyStreak, rateChecked: false, done: false }
          state.set(serviceId, w)
        }
        if (w.done || d.status !== "live" || d.liveAt === null) return
        const liveAt = d.liveAt
        let trigger: Trigger | undefined
        const url = options.healthUrls?.[serviceId] ?? healthUrlOf(yield* render.getService(serviceId))
        if (url !== null) {
          const probe = yield* render.probe(url, options.probeTimeoutMs ?? 5000, now)
          w.streak = stepStreak(w.streak, probe)
          if (healthFailing(failingFor(w.streak), t)) trigger = "health"
        }
        if (!trigger) {
          if (crashesOf(yield* render.listEvents(serviceId, liveAt), liveAt).failures >= t.crashLoopFailures) trigger = "crash_loop"
        }
        if (!trigger && !w.rateChecked && now >= liveAt + t.windowMs) {
          w.rateChecked = true
          const before = yield* render.requestCounts(serviceId, liveAt - t.windowMs, liveAt)
          const after = yield* render.requestCounts(serviceId, liveAt, liveAt + t.windowMs)
          const r = errorRateAt(liveAt, now, before, after, t)
          if (typeof r !== "string" && errorRateSpiking(r, t)) trigger = "error_rate"
        }
        if (!trigger) return
        const fresh = yield* store.compareAndSet(claimKey(serviceId, d.id), 0, { trigger, at: now })
        w.done = true
        if (!fresh) return
        out.push(signalOf(serviceId, d.id, trigger, now, {
          commitId: d.commitId,
          ...(w.streak.since !== null ? { healthFailingSince: w.streak.since, healthFailingProbes: w.streak.failingProbes } : {})
        }))
      })
      yield* step.pipe(Effect.catch((e) => Effect.logWarning(`deploy.render.rollback: polling ${serviceId} failed: ${e.message}`)))
    }
    return out
  })

/** The polling detector. */
export const make = (options: Options): Detector.Detector<never, Render | GuardrailStore.GuardrailStore> => {
  const state: PollState = new Map()
  return Detector.poll("render.poll", {
    schedule: options.schedule ?? Schedule.spaced("15 seconds"),
    poll: pollOnce(options, state)
  })
}
