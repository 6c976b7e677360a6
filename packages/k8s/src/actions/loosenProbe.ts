/**
 * `k8s.loosenProbe`: doubles the failing part of one container's liveness budget, measured
 * from the lease baseline, and nothing else:
 *
 * - `timeoutSeconds` — the liveness probe times out: its `timeoutSeconds` goes to 2× the
 *   baseline;
 * - `startupBudgetSeconds` — the container is killed before its first Ready: a startupProbe with
 *   the liveness probe's own handler (same `httpGet`/`tcpSocket`/`exec`/`grpc`) gets 2× the
 *   baseline startup budget (`initialDelaySeconds + failureThreshold × periodSeconds` of the
 *   existing startupProbe, else of the liveness probe: the time before the first kill); an
 *   existing startupProbe keeps its handler and only its `failureThreshold` grows.
 *
 * The patch is computed from the live container by `loosen` (pure, property-tested): it never
 * changes a handler, never removes a probe, never shortens anything. Strategic merge,
 * conditional on the workload's resourceVersion; `dryRun=All` in dry_run; a `ProbeLoosened`
 * Event otherwise. `observe`: the field at `to` → applied, at `from` → not applied, else unknown.
 *
 * Guardrails (on the kind):
 * - `ceiling(2× baseline probe budget)`: `to` ≤ 2 × the lease baseline (`baseline.livenessTimeoutSeconds`
 *   / `baseline.startupBudgetSeconds`, else the plan's `from`), so loosenings never compound;
 * - `ceiling(maxProbeBudgetSeconds)`: the whole budget after the change ≤ `maxProbeBudgetSeconds`
 *   (default 600, `BYTEPORT_MAX_PROBE_BUDGET_SECONDS`);
 * - `probe_loosenings_per_workload_container(1/24h)`: one per workload container per 24 h.
 *
 * @since 0.3.0
 */
import { ActionHandler, Guardrail } from "@byteport/core"
import type { V1Container, V1Probe } from "@kubernetes/client-node"
import { Config, Effect, Schema } from "effect"
import type { EventRecorder } from "../events/EventRecorder"
import type { Kube } from "../Kube"
import * as W from "./podWorkload"

/** The action kind. */
export const KIND = "k8s.loosenProbe"

/** The default `maxProbeBudgetSeconds`. */
export const DEFAULT_MAX_PROBE_BUDGET_SECONDS = 600

/** `maxProbeBudgetSeconds` from `BYTEPORT_MAX_PROBE_BUDGET_SECONDS` (default 600). */
export const maxBudgetConfig: Config.Config<number> = Config.Int("BYTEPORT_MAX_PROBE_BUDGET_SECONDS").pipe(Config.withDefault(DEFAULT_MAX_PROBE_BUDGET_SECONDS))

/** Which part of the budget fails. */
export const Field = Schema.Literals(["timeoutSeconds", "startupBudgetSeconds"])

/** Which part of the budget fails. */
export type Field = typeof Field.Type

/** The params. */
export const Params = Schema.Struct({
  container: Schema.String,
  field: Field,
  /** The field's value when planned (seconds). */
  from: Schema.Number,
  /** The planned value (seconds). */
  to: Schema.Number.check(Schema.isGreaterThan(0)),
  /** The baseline the plan doubled (seconds; the lease baseline). */
  baseline: Schema.Number,
  /** The whole liveness budget after the change (seconds): checked against `maxProbeBudgetSeconds`. */
  budgetAfterSeconds: Schema.Number,
  reason: Schema.String
})

/** The params. */
export type Params = typeof Params.Type

const HANDLERS = ["httpGet", "tcpSocket", "exec", "grpc"] as const

/** The handler part of a probe (what it calls), for equality checks. */
export const handlerOf = (p: V1Probe | undefined): Partial<Pick<V1Probe, (typeof HANDLERS)[number]>> => {
  const out: Record<string, unknown> = {}
  for (const k of HANDLERS) if (p?.[k] !== undefined) out[k] = p[k]
  return out
}

// A probe field the API server would reject (not a finite integer at or over its minimum: a fixture
// or an object read from a proxy may carry anything) reads as the API's default, so no budget is NaN
const field = (v: unknown, min: number, dflt: number): number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= min ? v : dflt
const period = (p: V1Probe) => field(p.periodSeconds, 1, 10)
const threshold = (p: V1Probe) => field(p.failureThreshold, 1, 3)
const timeout = (p: V1Probe) => field(p.timeoutSeconds, 1, 1)

/** Seconds from container start to the first kill by this probe. */
export const startupBudget = (p: V1Probe): number => field(p.initialDelaySeconds, 0, 0) + threshold(p) * period(p)

/** The whole liveness budget: the time to the first kill plus one probe timeout. */
export const livenessBudget = (p: V1Probe): number => startupBudget(p) + timeout(p)

/** The current value of a field on a container (undefined: no liveness probe). */
export const current = (c: V1Container, field: Field): number | undefined => {
  const l = c.livenessProbe
  if (l === undefined) return undefined
  if (field === "timeoutSeconds") return timeout(l)
  return c.startupProbe ? startupBudget(c.startupProbe) : startupBudget(l)
}

/** What `loosen` computed: the container's new probes and the values the guardrails check. */
export interface Loosened {
  readonly livenessProbe: V1Probe
  readonly startupProbe?: V1Probe | undefined
  readonly from: number
  readonly to: number
  readonly budgetAfterSeconds: number
}

/**
 * The container's probes with the failing part doubled from `baseline` (the value at lease
 * time; default the current one). Fails (undefined) without a liveness probe or when nothing
 * would loosen. Handlers and every other field are copied unchanged.
 */
export const loosen = (c: V1Container, field: Field, baseline?: number): Loosened | undefined => {
  const l = c.livenessProbe
  const from = current(c, field)
  if (l === undefined || from === undefined) return undefined
  const base = baseline !== undefined && baseline > 0 ? baseline : from
  if (field === "timeoutSeconds") {
    const to = Math.max(from, 2 * base)
    if (to <= from) return undefined
    const liveness = { ...l, timeoutSeconds: to }
    return { livenessProbe: liveness, ...(c.startupProbe ? { startupProbe: c.startupProbe } : {}), from, to, budgetAfterSeconds: livenessBudget(liveness) + (c.startupProbe ? startupBudget(c.startupProbe) : 0) }
  }
  const sp = c.startupProbe
  if (sp) {
    const needed = Math.floor((2 * base - (sp.initialDelaySeconds ?? 0)) / period(sp))
    if (needed <= threshold(sp)) return undefined
    const startup = { ...sp, failureThreshold: needed }
    return { livenessProbe: l, startupProbe: startup, from, to: startupBudget(startup), budgetAfterSeconds: startupBudget(startup) + livenessBudget(l) }
  }
  const p = period(l)
  const startup: V1Probe = { ...handlerOf(l), periodSeconds: p, timeoutSeconds: timeout(l), successThreshold: 1, failureThreshold: Math.max(1, Math.floor((2 * base) / p)) }
  if (startupBudget(startup) <= from) return undefined
  return { livenessProbe: l, startupProbe: startup, from, to: startupBudget(startup), budgetAfterSeconds: startupBudget(startup) + livenessBudget(l) }
}

/** The strategic-merge body of a loosening (only the changed probe fields). */
export const patchBody = (container: string, field: Field, l: Loosened) => ({
  spec: {
    template: {
      spec: {
        containers: [
          field === "timeoutSeconds"
            ? { name: container, livenessProbe: { timeoutSeconds: l.livenessProbe.timeoutSeconds } }
            : { name: container, startupProbe: l.startupProbe }
        ]
      }
    }
  }
})

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

/** Options of the guardrails. */
export interface Options {
  /** The cap of the whole liveness budget (default 600 s). */
  readonly maxProbeBudgetSeconds?: number | undefined
  /** Loosenings per workload container per 24 h (default 1). */
  readonly perDay?: number | undefined
}

/** The guardrails of the kind. */
export const guardrails = (o: Options = {}): ReadonlyArray<Guardrail.Guardrail<never>> => {
  const max = o.maxProbeBudgetSeconds ?? DEFAULT_MAX_PROBE_BUDGET_SECONDS
  return [
    Guardrail.ceiling({
      name: "ceiling(2× baseline probe budget)",
      proposed: (c) => num(c.action.params["to"]),
      limit: (c) => {
        const key = c.action.params["field"] === "timeoutSeconds" ? "livenessTimeoutSeconds" : "startupBudgetSeconds"
        const base = Guardrail.numberFromJson(c.baseline[key]) ?? num(c.action.params["from"])
        return base === undefined || base <= 0 ? undefined : 2 * base
      },
      describe: (n) => `${n}s`
    }),
    Guardrail.ceiling({
      name: `ceiling(maxProbeBudgetSeconds ${max})`,
      proposed: (c) => num(c.action.params["budgetAfterSeconds"]),
      limit: () => max,
      describe: (n) => `${n}s`
    }),
    Guardrail.rateLimit({
      name: `probe_loosenings_per_workload_container(${o.perDay ?? 1}/24h)`,
      key: Guardrail.keys.perTarget("k8s.loosen-probe"),
      max: o.perDay ?? 1,
      window: "24 hours"
    })
  ]
}

/** The handler. */
export const make = (o: Options = {}): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make<Params, Kube | EventRecorder>({
    kind: KIND,
    params: Params,
    guardrails: guardrails(o),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const t = yield* W.containerTarget(KIND, ctx.action.target, p.container)
        const live = yield* W.readOrFail(KIND, t)
        const c = W.containerOf(live, t.container)
        if (c === undefined) return yield* W.failed(KIND, `${t.kind} ${t.namespace}/${t.name} has no container ${t.container}`)
        if (c.livenessProbe === undefined) return yield* W.failed(KIND, `container ${t.container} of ${t.kind} ${t.namespace}/${t.name} has no liveness probe to loosen`)
        const now = current(c, p.field)
        if (now !== p.from) return yield* W.failed(KIND, `container ${t.container} ${p.field} is ${now}s, not the planned ${p.from}s`, { conflict: true })
        const l = loosen(c, p.field, p.baseline)
        if (l === undefined || l.to !== p.to) return yield* W.failed(KIND, `loosening ${p.field} of container ${t.container} from ${p.from}s does not give the planned ${p.to}s`)
        const max = o.maxProbeBudgetSeconds ?? DEFAULT_MAX_PROBE_BUDGET_SECONDS
        if (l.budgetAfterSeconds > max) return yield* W.failed(KIND, `the liveness budget would be ${l.budgetAfterSeconds}s, above maxProbeBudgetSeconds ${max}`)
        const patched = yield* W.patch(KIND, t, W.preconditionOf(ctx.action.precondition, live), patchBody(t.container, p.field, l), ctx.dryRun)
        const what = `${t.kind} ${t.namespace}/${t.name} container ${t.container} ${p.field} ${p.from}s → ${p.to}s`
        yield* W.event(t, patched, "ProbeLoosened", `BytePort loosened ${what} (${p.reason}; incident ${ctx.incidentId})`, ctx.dryRun)
        return {
          detail: ctx.dryRun ? `would loosen ${what} (validated by the apiserver with dryRun=All)` : `loosened ${what}`,
          result: { field: p.field, from: p.from, to: p.to, budgetAfterSeconds: l.budgetAfterSeconds, dryRun: ctx.dryRun, resourceVersion: patched.metadata?.resourceVersion ?? "" }
        }
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const t = yield* W.containerTarget(KIND, ctx.action.target, p.container)
        const c = W.containerOf(yield* W.read(t), t.container)
        const now = c ? current(c, p.field) : undefined
        const what = `container ${t.container} of ${t.kind} ${t.namespace}/${t.name} ${p.field} is ${now ?? "unset"}`
        return now === p.to ? ActionHandler.applied(what) : now === p.from ? ActionHandler.notApplied(what) : ActionHandler.unknown(what)
      })
  })

/** The handler with the default guardrails. */
export const handler = make()

/** Plans params for a container (undefined when there is nothing to loosen). */
export const paramsFor = (c: V1Container, field: Field, options: { readonly baseline?: number | undefined; readonly reason: string }): Params | undefined => {
  const l = loosen(c, field, options.baseline)
  return l === undefined ? undefined : { container: c.name, field, from: l.from, to: l.to, baseline: options.baseline !== undefined && options.baseline > 0 ? options.baseline : l.from, budgetAfterSeconds: l.budgetAfterSeconds, reason: options.reason }
}
