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
import { Diagnoser, type Fact, type Signal } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { CrashFacts, DeployFacts, ErrorRateFacts, HealthFacts, RenderDeployFacts, ServiceFacts, Thresholds } from "../classifiers/RenderBadDeploy"
import { defaultThresholds, errorRateOf } from "../classifiers/RenderBadDeploy"
import { type Deploy, Render, type Service } from "../render/Render"

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
          const r = errorRateOf({ from: liveAt - t.windowMs, to: liveAt, ...before }, { from: liveAt, to: end, ...after }, now >= liveAt + t.windowMs, t)
          if (typeof r === "string") return yield* Effect.fail(new Error(r))
          return r
        })),
      health: Diagnoser.probe("render.health", (signal) =>
        Effect.gen(function*() {
          const ref = yield* Effect.try(() => refOf(signal))
          const url = facts.service._tag === "Known" ? facts.service.value.healthUrl : options.healthUrls?.[ref.serviceId] ?? null
          const now = yield* Clock.currentTimeMillis
          if (url === null) return { failingForMs: 0, failingProbes: 0, last: null }
          const last = yield* (yield* Render).probe(url, options.probeTimeoutMs ?? 5000, now)
          const since = ref.healthFailingSince
          return last.ok || since === undefined
            ? { failingForMs: 0, failingProbes: last.ok ? 0 : 1, last }
            : { failingForMs: now - since, failingProbes: (ref.healthFailingProbes ?? 0) + 1, last }
        }), { timeout: "30 seconds" }),
      crashes: Diagnoser.probe("render.events", (signal) =>
        Effect.gen(function*() {
          const suspect = yield* suspectOf(signal)
          if (suspect.liveAt === null) return { failures: 0, firstAt: null, lastAt: null }
          const events = yield* (yield* Render).listEvents(refOf(signal).serviceId, suspect.liveAt)
          const failed = events.filter((e) => e.type === "server_failed" && Date.parse(e.timestamp) >= suspect.liveAt!).map((e) => Date.parse(e.timestamp)).sort((a, b) => a - b)
          return { failures: failed.length, firstAt: failed[0] ?? null, lastAt: failed[failed.length - 1] ?? null }
        }))
    })
  })
}
