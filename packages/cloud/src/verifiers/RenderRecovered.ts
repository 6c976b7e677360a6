/**
 * `RenderRecovered`: after a rollback (or a deploy of the last green commit), the new deploy is
 * `live` and the health endpoint answers 2xx. Polled on `Verifier.schedules.every15sUpTo90s` by
 * default (the seed's "poll health endpoint every 15 s for up to 90 s").
 *
 * @since 0.1.0
 */
import { Fact, Verdict, type Verifier } from "@byteport/core"
import { Clock, Effect } from "effect"
import * as RenderActions from "../actions/RenderActions"
import type { RenderDeployFacts } from "../classifiers/RenderBadDeploy"
import { refOf } from "../diagnosers/RenderDeployDiagnoser"
import { Render } from "../render/Render"

/** The verifier (`probeTimeoutMs`: a health probe's timeout, default 5 000). */
export const make = (options: { readonly probeTimeoutMs?: number; readonly healthUrls?: Readonly<Record<string, string>> } = {}): Verifier.Verifier<Pick<RenderDeployFacts, "service">, Render> => (ctx) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const outcome = [...ctx.outcomes].reverse().find((o) => (o.kind === RenderActions.ROLLBACK || o.kind === RenderActions.DEPLOY_COMMIT) && o.status === "applied")
    const deployId = outcome?.result?.["deployId"]
    if (typeof deployId !== "string") return Verdict.inconclusive("no rollback deploy was started", now)
    const { serviceId } = refOf(ctx.signal)
    const render = yield* Render
    const d = yield* render.getDeploy(serviceId, deployId)
    const url = options.healthUrls?.[serviceId] ?? Fact.value(ctx.facts.service)?.healthUrl ?? null
    const probe = url === null ? undefined : yield* render.probe(url, options.probeTimeoutMs ?? 5000, now)
    return Verdict.fromChecks([
      { name: "rollback_deploy_live", ok: d.status === "live", detail: `deploy ${d.id} (${d.commit?.id.slice(0, 7) ?? "?"}) is ${d.status}`, observed: { deployId: d.id, status: d.status } },
      { name: "health_2xx", ok: probe?.ok === true, detail: probe === undefined ? "no health URL" : `health ${String(probe.status)}`, observed: { status: String(probe?.status ?? "none") } }
    ], now)
  }).pipe(Effect.catchCause((cause) => Effect.map(Clock.currentTimeMillis, (now) => Verdict.inconclusive(`could not read the rollback deploy: ${String(cause)}`, now))))
