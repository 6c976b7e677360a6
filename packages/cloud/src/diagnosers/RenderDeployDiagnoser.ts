/**
 * `RenderDeployDiagnoser`: the facts of a suspect Render deploy, re-read from Render (a signal
 * only names the service and the deploy): the service (autoDeploy, health URL), the last 5
 * deploys (newest first), the suspect deploy, the 5xx rate in the window after it went live
 * against the window before (Render's HTTP request metrics), the health endpoint (one probe now;
 * the streak of failing probes the detector saw, which the probe must continue) and the
 * `server_failed` events since it went live.
 *
 * @since 0.1.0
 */
import { Diagnoser, Fact, type Signal } from "@byteport/core"
import { Clock, Effect, Schema } from "effect"
import type { CrashFacts, DeployFacts, ErrorRateFacts, HealthFacts, RenderDeployFacts, ServiceFacts, Thresholds } from "../classifiers/RenderBadDeploy"
import { defaultThresholds, errorRateOf } from "../classifiers/RenderBadDeploy"
import { countsOf, type Deploy, DeployList, type Event, EventList, healthy, type HealthProbe, MetricSeries, Render, type RequestCounts, Service } from "../render/Render"

/** What a signal's evidence names. */
export interface DeployRef {
  readonly serviceId: string
  readonly deployId: string
  /** Epoch ms of the first failing health probe of the detector's streak (absent: none failing). */
  readonly healthFailingSince?: number
  readonly healthFailingProbes?: number
}

/** Reads the deploy reference from a signal's evidence. */
export const refOf = (signal: Signal.Signal): DeployRef => {
  const e = signal.evidence
  const serviceId = e["serviceId"]
  const deployId = e["deployId"]
  if (typeof serviceId !== "string" || serviceId.length === 0) throw new Error("signal evidence has no serviceId")
  if (typeof deployId !== "string" || deployId.length === 0) throw new Error("signal evidence has no deployId")
  const since = e["healthFailingSince"]
  const probes = e["healthFailingProbes"]
  return {
    serviceId,
    deployId,
    ...(typeof since === "number" && Number.isFinite(since) ? { healthFailingSince: since } : {}),
    ...(typeof probes === "number" && Number.isFinite(probes) ? { healthFailingProbes: probes } : {})
  }
}

/** A deploy's facts from the API's deploy object. */
export const toDeployFacts = (d: Deploy): DeployFacts => {
  const fin = d.finishedAt ?? null
  const wentLive = (d.status === "live" || d.status === "deactivated") && fin !== null
  return {
    id: d.id,
    commitId: d.commit?.id ?? null,
    status: d.status,
    trigger: d.trigger ?? null,
    createdAt: Date.parse(d.createdAt),
    liveAt: wentLive ? Date.parse(fin) : null
  }
}

/** The health URL of a service: `serviceDetails.url` + `healthCheckPath` (null when either is missing). */
export const healthUrlOf = (s: Service): string | null => {
  const url = s.serviceDetails?.url
  const path = s.serviceDetails?.healthCheckPath
  if (!url || !path) return null
  return `${url.replace(/\/+$/, "")}${path.startsWith("/") ? path : `/${path}`}`
}

/** The service's facts. */
export const toServiceFacts = (s: Service, healthUrl?: string): ServiceFacts => ({
  id: s.id,
  name: s.name,
  autoDeploy: s.autoDeploy === "yes",
  healthUrl: healthUrl ?? healthUrlOf(s)
})

/** The last green deploy: the newest deploy older than the suspect that went live (null: none). */
export const lastGreen = (deploys: ReadonlyArray<DeployFacts>, suspectId: string): DeployFacts | null => {
  const i = deploys.findIndex((d) => d.id === suspectId)
  const older = i < 0 ? [] : deploys.slice(i + 1)
  return older.find((d) => d.liveAt !== null && d.commitId !== null) ?? null
}

/** The health facts from the diagnoser's probe and the detector's streak (a 2xx ends the streak). */
export const healthOf = (last: HealthProbe | null, ref: Pick<DeployRef, "healthFailingSince" | "healthFailingProbes">): HealthFacts =>
  last === null
    ? { failingForMs: 0, failingProbes: 0, last: null }
    : last.ok || ref.healthFailingSince === undefined
    ? { failingForMs: 0, failingProbes: last.ok ? 0 : 1, last }
    : { failingForMs: last.at - ref.healthFailingSince, failingProbes: (ref.healthFailingProbes ?? 0) + 1, last }

/** The crash facts: `server_failed` events at or after the deploy went live. */
export const crashesOf = (events: ReadonlyArray<Event>, liveAt: number | null): CrashFacts => {
  if (liveAt === null) return { failures: 0, firstAt: null, lastAt: null }
  const failed = events.filter((e) => e.type === "server_failed" && Date.parse(e.timestamp) >= liveAt).map((e) => Date.parse(e.timestamp)).sort((a, b) => a - b)
  return { failures: failed.length, firstAt: failed[0] ?? null, lastAt: failed[failed.length - 1] ?? null }
}

/** The error-rate facts of the windows around `liveAt`, at `now` (a string: why the rate is unknown). */
export const errorRateAt = (liveAt: number, now: number, before: RequestCounts, after: RequestCounts, t: Thresholds): ErrorRateFacts | string => {
  const end = Math.min(now, liveAt + t.windowMs)
  return errorRateOf({ from: liveAt - t.windowMs, to: liveAt, ...before }, { from: liveAt, to: end, ...after }, now >= liveAt + t.windowMs, t)
}

/**
 * A recording of what the diagnoser reads, as Render returns it: the signal's reference, the
 * time of diagnosis, the service, the deploys page, both metrics responses, the events page and
 * the health probe's status.
 */
export const Recording = Schema.Struct({
  signal: Schema.Struct({
    serviceId: Schema.String,
    deployId: Schema.String,
    trigger: Schema.Literals(["error_rate", "health", "crash_loop"]),
    observedAt: Schema.Number,
    healthFailingSince: Schema.optionalKey(Schema.Number),
    healthFailingProbes: Schema.optionalKey(Schema.Number)
  }),
  now: Schema.Number,
  service: Service,
  deploys: DeployList,
  metricsBefore: MetricSeries,
  metricsAfter: MetricSeries,
  events: EventList,
  probe: Schema.Struct({ status: Schema.Union([Schema.Number, Schema.Literals(["timeout", "error"])]) })
})
/** A recording. */
export type Recording = typeof Recording.Type

/** The facts of a recording (for classifier tests and golden plans), as the diagnoser computes them. */
export const factsOf = (rec: Recording, options: Options = {}): Fact.Facts<RenderDeployFacts> => {
  const t = { ...defaultThresholds, ...(options.thresholds ?? {}) }
  const deploys = rec.deploys.map((d) => toDeployFacts(d.deploy))
  const service = toServiceFacts(rec.service, options.healthUrls?.[rec.service.id])
  const suspect = deploys.find((d) => d.id === rec.signal.deployId)
  const rate = suspect?.liveAt == null ? "the deploy never went live" : errorRateAt(suspect.liveAt, rec.now, countsOf(rec.metricsBefore), countsOf(rec.metricsAfter), t)
  return {
    service: Fact.known(service),
    deploys: Fact.known(deploys),
    suspect: suspect ? Fact.known(suspect) : Fact.unknown("render.deploy", "not among the recorded deploys"),
    errorRate: typeof rate === "string" ? Fact.unknown("render.metrics.http_requests", rate) : Fact.known(rate),
    health: Fact.known(healthOf(service.healthUrl === null ? null : { at: rec.now, status: rec.probe.status, ok: healthy(rec.probe.status) }, rec.signal)),
    crashes: Fact.known(crashesOf(rec.events.map((e) => e.event), suspect?.liveAt ?? null))
  }
}

/** Options of {@link make}. */
export interface Options {
  readonly thresholds?: Partial<Thresholds>
  /** The health URL per service id (default: the service's `url` + `healthCheckPath`). */
  readonly healthUrls?: Readonly<Record<string, string>>
  /** A health probe's timeout, ms (default 5 000). */
  readonly probeTimeoutMs?: number
  /** Deploys read (default 5, the seed's). */
  readonly deployCount?: number
}

/** The diagnoser. */
export const make = (options: Options = {}): Diagnoser.Diagnoser<RenderDeployFacts, Render> => {
  const t = { ...defaultThresholds, ...(options.thresholds ?? {}) }
  const first = Diagnoser.make<{ readonly service: ServiceFacts; readonly deploys: ReadonlyArray<DeployFacts> }, Render>({
    service: Diagnoser.probe("render.service", (signal) =>
      Effect.gen(function*() {
        const ref = yield* Effect.try(() => refOf(signal))
        return toServiceFacts(yield* (yield* Render).getService(ref.serviceId), options.healthUrls?.[ref.serviceId])
      })),
    deploys: Diagnoser.probe("render.deploys", (signal) =>
      Effect.gen(function*() {
        const ref = yield* Effect.try(() => refOf(signal))
        return (yield* (yield* Render).listDeploys(ref.serviceId, options.deployCount ?? 5)).map(toDeployFacts)
      }))
  })
  return Diagnoser.andThen(first, (facts: Fact.Facts<{ readonly service: ServiceFacts; readonly deploys: ReadonlyArray<DeployFacts> }>) => {
    const suspectOf = (signal: Signal.Signal) =>
      Effect.gen(function*() {
        const ref = yield* Effect.try(() => refOf(signal))
        const listed = facts.deploys._tag === "Known" ? facts.deploys.value.find((d) => d.id === ref.deployId) : undefined
        return listed ?? toDeployFacts(yield* (yield* Render).getDeploy(ref.serviceId, ref.deployId))
      })
    return Diagnoser.make<{ readonly suspect: DeployFacts; readonly errorRate: ErrorRateFacts; readonly health: HealthFacts; readonly crashes: CrashFacts }, Render>({
      suspect: Diagnoser.probe("render.deploy", suspectOf),
      errorRate: Diagnoser.probe("render.metrics.http_requests", (signal) =>
        Effect.gen(function*() {
          const suspect = yield* suspectOf(signal)
          if (suspect.liveAt === null) return yield* Effect.fail(new Error(`deploy ${suspect.id} never went live (${suspect.status})`))
          const now = yield* Clock.currentTimeMillis
          const render = yield* Render
          const { serviceId } = refOf(signal)
          const liveAt = suspect.liveAt
          const end = Math.min(now, liveAt + t.windowMs)
          const before = yield* render.requestCounts(serviceId, liveAt - t.windowMs, liveAt)
          const after = end > liveAt ? yield* render.requestCounts(serviceId, liveAt, end) : { total: 0, errors: 0 }
          const r = errorRateAt(liveAt, now, before, after, t)
          if (typeof r === "string") return yield* Effect.fail(new Error(r))
          return r
        })),
      health: Diagnoser.probe("render.health", (signal) =>
        Effect.gen(function*() {
          const ref = yield* Effect.try(() => refOf(signal))
          const url = facts.service._tag === "Known" ? facts.service.value.healthUrl : options.healthUrls?.[ref.serviceId] ?? null
          const now = yield* Clock.currentTimeMillis
          if (url === null) return healthOf(null, ref)
          return healthOf(yield* (yield* Render).probe(url, options.probeTimeoutMs ?? 5000, now), ref)
        }), { timeout: "30 seconds" }),
      crashes: Diagnoser.probe("render.events", (signal) =>
        Effect.gen(function*() {
          const suspect = yield* suspectOf(signal)
          if (suspect.liveAt === null) return crashesOf([], null)
          return crashesOf(yield* (yield* Render).listEvents(refOf(signal).serviceId, suspect.liveAt), suspect.liveAt)
        }))
    })
  })
}
