/**
 * `host.memory.runaway` — "Detects runaway memory consumers and autonomously restarts the
 * offending service with deploy-correlation hand-off and crash-loop guard. Works across Render,
 * Kubernetes, and bare-metal/systemd."
 *
 * Every part is exported:
 *
 * 1. **Detect** — `sampler` / `detector`: every `sampleSeconds` (default 30) the largest-RSS
 *    process of each systemd unit; its RSS growth strictly over `growthMiBPerMinute` (default 10)
 *    in every interval for `windowSeconds` (default 600) continuous seconds fires
 *    `host.memory.runaway` on the unit (`host.unit`). A plateau or a new pid + starttime resets.
 *    Kubernetes (`k8s.workload`) and Render (`render.service`) runaways arrive as the same signal
 *    type from their own detectors; the runbook acts on them only through hand-offs.
 * 2. **Diagnose** — `diagnoser`: the subject (systemd: the unit's MainPID through the
 *    `ServiceManager`, its starttime and the `ProcessGuard` verdict); the latest deploy from the
 *    pluggable `DeploySource` (default `none`); the restarts this runbook made or requested for the
 *    target in the last hour (the crash-loop budget's window in the GuardrailStore).
 * 3. **Classify** — `classifier` (first match, ≥ 0.70):
 *
 *    | class | rule | confidence |
 *    |---|---|---|
 *    | deploy_regression | the latest deploy went live within `deployWindowMinutes` (30) | 0.85 |
 *    | crash_loop | ≥ `maxRestartsPerHour` (3) restarts of the target in the last hour | 0.90 |
 *    | runaway_service | systemd: the main process may be touched and a manager is given; Kubernetes / Render: always | 0.85 |
 *    | protected_consumer | systemd: no manager, the unit's MainPID is not the grower, or the never-touched set / stateful / a pod | 0.75 |
 *
 * 4. **Remediate** — `planOf`: deploy_regression → the awaited `deployment regression` hand-off,
 *    no restart; crash_loop → no restart: with a known deploy, the awaited `deployment regression`
 *    hand-off, else an escalation; runaway_service → systemd: `host.service.restart` through the
 *    ServiceManager, only while MainPID is the diagnosed pid + starttime; Kubernetes / Render: the
 *    restart is counted (`host.memory.runaway.restart-requested`) and the awaited
 *    `rollout restart requested` hand-off goes to its owner, who decides; protected_consumer →
 *    escalate naming it (a pod by uid).
 * 5. **Guard** — `guardrails`: `rateLimit` of `maxRestartsPerHour` per target per hour on the
 *    restart and the restart request (key `restartBudgetKey(target)`), the backstop of crash_loop.
 * 6. **Verify** — `verifier`: a restarted unit runs under a new MainPID; a hand-off's child
 *    incident recovered.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Classifier, Detector, Diagnoser, Guardrail, GuardrailStore, HandOffs, Plan, Runbook, Settings, Signal, TargetRef, Verdict, Verifier as VerifierApi } from "@byteport/core"
import type { Classification, Fact, Verifier } from "@byteport/core"
import { Clock, Config, Duration, Effect, Schedule, Schema } from "effect"
import * as os from "node:os"
import * as RestartBudget from "../process/RestartBudget"
import * as ProcessControl from "../process/ProcessControl"
import * as ProcessGuard from "../process/ProcessGuard"
import * as DeploySource from "../runaway/DeploySource"
import * as Growth from "../runaway/Growth"
import type * as ServiceManager from "../services/ServiceManager"

/** The runbook id. */
export const ID = "host.memory.runaway"
/** The signal type. */
export const SIGNAL_TYPE = "host.memory.runaway"
/** The action kind that counts a restart requested through a hand-off against the crash-loop budget. */
export const RESTART_REQUESTED = "host.memory.runaway.restart-requested"

/** Settings (every seed number a default). */
export interface RunawaySettings extends Growth.GrowthSettings {
  /** `BYTEPORT_RUNAWAY_SAMPLE_SECONDS` (30). */
  readonly sampleSeconds: number
  /** `BYTEPORT_RUNAWAY_DEPLOY_WINDOW_MINUTES` (30): a deploy this recent → `deployment regression`. */
  readonly deployWindowMinutes: number
  /** `BYTEPORT_RUNAWAY_MAX_RESTARTS_PER_HOUR` (3): the crash-loop guard. */
  readonly maxRestartsPerHour: number
  /** `BYTEPORT_RUNAWAY_HANDOFF_AWAIT_MINUTES` (30): how long an awaited hand-off waits for its owner. */
  readonly handOffAwaitMinutes: number
}

/** The defaults. */
export const DEFAULTS: RunawaySettings = { growthMiBPerMinute: 10, windowSeconds: 600, sampleSeconds: 30, deployWindowMinutes: 30, maxRestartsPerHour: 3, handOffAwaitMinutes: 30 }

/** The settings from configuration. */
export const settings: Config.Config<RunawaySettings> = Config.all({
  growthMiBPerMinute: Settings.positiveNumber("BYTEPORT_RUNAWAY_GROWTH_MIB_PER_MINUTE").pipe(Config.withDefault(DEFAULTS.growthMiBPerMinute)),
  windowSeconds: Settings.positiveInt("BYTEPORT_RUNAWAY_WINDOW_SECONDS").pipe(Config.withDefault(DEFAULTS.windowSeconds)),
  sampleSeconds: Settings.positiveInt("BYTEPORT_RUNAWAY_SAMPLE_SECONDS").pipe(Config.withDefault(DEFAULTS.sampleSeconds)),
  deployWindowMinutes: Settings.positiveNumber("BYTEPORT_RUNAWAY_DEPLOY_WINDOW_MINUTES").pipe(Config.withDefault(DEFAULTS.deployWindowMinutes)),
  maxRestartsPerHour: Settings.positiveInt("BYTEPORT_RUNAWAY_MAX_RESTARTS_PER_HOUR").pipe(Config.withDefault(DEFAULTS.maxRestartsPerHour)),
  handOffAwaitMinutes: Settings.positiveNumber("BYTEPORT_RUNAWAY_HANDOFF_AWAIT_MINUTES").pipe(Config.withDefault(DEFAULTS.handOffAwaitMinutes))
})

/** The platform of a target, by its TargetRef kind. */
export type Platform = "systemd" | "kubernetes" | "render"

/** TargetRef kinds: `host.unit` (systemd), `k8s.workload` (Kubernetes), `render.service` (Render). */
export const platformOf = (target: TargetRef.TargetRef): Platform | undefined =>
  target.kind === "host.unit" ? "systemd" : target.kind === "k8s.workload" ? "kubernetes" : target.kind === "render.service" ? "render" : undefined

/** The host target (parent of the unit targets). */
export const hostTarget = (host = os.hostname()): TargetRef.TargetRef => TargetRef.make("host", host)

/** A unit's target. */
export const unitTarget = (unit: string, host = os.hostname()): TargetRef.TargetRef => TargetRef.make("host.unit", unit, hostTarget(host))

/** The crash-loop budget's key for a target: the service's restart budget, shared with `host.memory.five-class` (`RestartBudget.key`). */
export const restartBudgetKey = RestartBudget.key

const HOUR = 3_600_000
const MiB = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// detect

/** Options of the sampler. */
export interface SamplerOptions extends Partial<RunawaySettings>, Growth.ReadOptions {
  readonly host?: string
  /** The readings (default `Growth.readUnits`): tests feed their own. */
  readonly read?: () => ReadonlyArray<Growth.Reading>
}

/** A stateful sampler: each run reads every unit's RSS and returns a signal for each unit growing over the rate for the whole window. */
export const sampler = (options: SamplerOptions = {}): Effect.Effect<ReadonlyArray<Signal.Signal>> => {
  const s = { ...DEFAULTS, ...options }
  const tracks = new Map<string, Growth.Track>()
  return Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    const readings = options.read ? options.read() : Growth.readUnits(options)
    const seen = new Set<string>()
    const out: Array<Signal.Signal> = []
    for (const r of readings) {
      seen.add(r.unit)
      const st = Growth.step(tracks.get(r.unit), at, r, s)
      tracks.set(r.unit, st.track)
      if (!st.sustained) continue
      const rate = Math.round((st.rateMiBPerMinute ?? 0) * 10) / 10
      out.push(Signal.make({
        type: SIGNAL_TYPE,
        target: unitTarget(r.unit, options.host),
        observedAt: at,
        source: "host.MemoryRunaway",
        evidence: {
          platform: "systemd",
          unit: r.unit,
          pid: r.pid,
          starttime: r.starttime,
          comm: r.comm,
          rssBytes: r.rssBytes,
          grownBytes: st.grownBytes,
          rateMiBPerMinute: rate,
          thresholdMiBPerMinute: s.growthMiBPerMinute,
          windowSeconds: s.windowSeconds,
          forSeconds: Math.round(st.forMs / 1000),
          reasons: [`${r.unit} (${r.comm}, pid ${r.pid}) grew ${Math.round(st.grownBytes / MiB)} MiB in ${Math.round(st.forMs / 1000)} s, over ${s.growthMiBPerMinute} MiB/min in every interval`]
        }
      }))
    }
    for (const k of [...tracks.keys()]) if (!seen.has(k)) tracks.delete(k)
    return out
  })
}

/** The poll detector. */
export const detector = (options: SamplerOptions = {}): Detector.Detector<never> =>
  Detector.poll("host.memory.runaway/rss", {
    schedule: Schedule.spaced(`${options.sampleSeconds ?? DEFAULTS.sampleSeconds} seconds`),
    poll: sampler(options)
  })

// ---------------------------------------------------------------------------------------------
// diagnose

/** What the diagnoser knows of the target. */
export interface Subject {
  readonly platform: Platform
  readonly target: TargetRef.TargetRef
  /** systemd: the unit. */
  readonly unit?: string | undefined
  /** systemd: the unit's main process now. */
  readonly pid?: number | undefined
  readonly starttime?: number | undefined
  readonly comm?: string | undefined
  /** RSS from the signal's evidence, bytes. */
  readonly rssBytes?: number | undefined
  /** systemd: whether a restart through the manager is possible, and why not. */
  readonly restartable: boolean
  readonly reason?: string | undefined
  /** systemd: the Kubernetes pod the process runs in, when any. */
  readonly podUid?: string | undefined
}

/** The facts. */
export interface RunawayFacts {
  readonly subject: Subject
  /** The latest deploy of the target (null: none known). */
  readonly deploy: DeploySource.Deploy | null
  /** Restarts made or requested by this runbook for the target in the last hour. */
  readonly restarts: number
}

/** Where the runbook reads and what it may touch. */
export interface Sources extends ProcessGuard.Policy {
  /** The service manager of systemd targets (no manager: no restart). */
  readonly manager?: ServiceManager.ServiceManagerShape
  /** The deploy source (default `DeploySource.none`). */
  readonly deploys?: DeploySource.DeploySource
  /** `/proc` (default). */
  readonly procRoot?: string
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

/** The subject probe. */
export const subject = (sources: Sources = {}) => (signal: Signal.Signal): Effect.Effect<Subject, string> =>
  Effect.gen(function*() {
    const platform = platformOf(signal.target)
    if (platform === undefined) return yield* Effect.fail(`unsupported target kind ${signal.target.kind}`)
    const rssBytes = num(signal.evidence["rssBytes"])
    const base = { platform, target: signal.target, ...(rssBytes !== undefined ? { rssBytes } : {}) }
    if (platform !== "systemd") return { ...base, restartable: true }
    const unit = signal.target.ref
    const planned = num(signal.evidence["pid"])
    if (sources.manager === undefined) return { ...base, unit, pid: planned, restartable: false, reason: "no ServiceManager for this host: no restart (no manager, no kill)" }
    const shown = yield* Effect.mapError(sources.manager.show(unit), (e) => e.message)
    if (shown._tag === "Unknown") return { ...base, unit, pid: planned, restartable: false, reason: `the service manager cannot tell ${unit}'s state (${shown.reason})` }
    if (shown.value === undefined) return { ...base, unit, pid: planned, restartable: false, reason: `${unit}: no such unit` }
    const pid = shown.value.mainPid
    if (pid === undefined) return { ...base, unit, restartable: false, reason: `${unit} has no main process (${shown.value.activeState})` }
    const table = ProcessGuard.snapshot(sources.procRoot)
    const p = table.get(pid)
    if (p === undefined) return { ...base, unit, pid, restartable: false, reason: `${unit}'s main process ${pid} is gone` }
    const plannedStart = num(signal.evidence["starttime"])
    const same = planned === undefined || (planned === pid && (plannedStart === undefined || plannedStart === p.starttime))
    const v = ProcessGuard.decide(table, pid, sources)
    const who = { ...base, unit, pid, starttime: p.starttime, comm: p.comm }
    if (!same) return { ...who, restartable: false, reason: `${unit}'s main process is pid ${pid} (starttime ${p.starttime}) now, not the grower ${planned}: it was restarted already` }
    if (v._tag !== "Allowed") return { ...who, restartable: false, reason: v.reason, ...(v._tag === "Container" && v.podUid !== undefined ? { podUid: v.podUid } : {}) }
    return { ...who, restartable: true }
  })

/** The restart-budget probe: the count in the last hour (a peek, never a write). */
export const restarts = (signal: Signal.Signal): Effect.Effect<number, unknown, GuardrailStore.GuardrailStore> => RestartBudget.used(signal.target)

/** The diagnoser. */
export const diagnoser = (sources: Sources = {}): Diagnoser.Diagnoser<RunawayFacts, GuardrailStore.GuardrailStore> =>
  Diagnoser.make<RunawayFacts, GuardrailStore.GuardrailStore>({
    subject: Diagnoser.probe("subject", subject(sources)),
    deploy: Diagnoser.probe("deploy", (s) => Effect.map((sources.deploys ?? DeploySource.none).latest(s.target), (d) => d ?? null)),
    restarts: Diagnoser.probe("restarts", restarts)
  }, { timeout: "30 seconds" })

// ---------------------------------------------------------------------------------------------
// classify

/** The classes and their confidences. */
export const CONFIDENCES = { deploy_regression: 0.85, crash_loop: 0.9, runaway_service: 0.85, protected_consumer: 0.75 } as const

/** The rules, in order; `now` is the classification time (the Clock's). */
export const rules = (s: Pick<RunawaySettings, "deployWindowMinutes" | "maxRestartsPerHour"> = DEFAULTS, now: () => number = Date.now): ReadonlyArray<Classifier.Rule<RunawayFacts>> => {
  const rule = Classifier.rule<RunawayFacts>()
  return [
    rule({
      class: "deploy_regression",
      confidence: CONFIDENCES.deploy_regression,
      needs: ["deploy"],
      when: ({ deploy }) => {
        const t = now()
        return {
          matched: DeploySource.isRecent(deploy ?? undefined, t, s.deployWindowMinutes * 60_000),
          reasons: deploy ? [`deploy ${deploy.revision} went live ${Math.round((t - deploy.deployedAt) / 60_000)} min ago (window ${s.deployWindowMinutes} min)`] : ["no deploy known"],
          evidence: deploy ? { revision: deploy.revision, deployedAt: deploy.deployedAt } : {}
        }
      }
    }),
    rule({
      class: "crash_loop",
      confidence: CONFIDENCES.crash_loop,
      needs: ["restarts"],
      when: ({ restarts: n }) => ({
        matched: n >= s.maxRestartsPerHour,
        reasons: [`${n} restart(s) in the last hour (max ${s.maxRestartsPerHour})`],
        evidence: { restarts: n, maxRestartsPerHour: s.maxRestartsPerHour }
      })
    }),
    rule({
      class: "runaway_service",
      confidence: CONFIDENCES.runaway_service,
      needs: ["subject"],
      when: ({ subject: x }) => ({
        matched: x.restartable,
        reasons: [x.platform === "systemd" ? `${x.unit} (${x.comm}, pid ${x.pid}) may be restarted through the service manager` : `${TargetRef.key(x.target)}: its owner restarts it (rollout restart requested)`],
        evidence: { platform: x.platform, ...(x.pid !== undefined ? { pid: x.pid } : {}) }
      })
    }),
    rule({
      class: "protected_consumer",
      confidence: CONFIDENCES.protected_consumer,
      needs: ["subject"],
      when: ({ subject: x }) => ({
        matched: !x.restartable,
        reasons: [x.reason ?? "not restartable"],
        evidence: { platform: x.platform }
      })
    })
  ]
}

/** The classifier (first match, minimum 0.70). */
export const classifier = (s?: Pick<RunawaySettings, "deployWindowMinutes" | "maxRestartsPerHour">, now?: () => number): Classifier.Classifier<RunawayFacts> =>
  Classifier.firstMatch(rules(s, now), { minConfidence: 0.7 })

// ---------------------------------------------------------------------------------------------
// remediate

const describeSubject = (x: Subject | undefined, target: TargetRef.TargetRef): string =>
  x?.platform === "systemd" ? `${x.unit}${x.pid !== undefined ? ` (${x.comm ?? "main process"}, pid ${x.pid})` : ""}` : `${x?.platform ?? "target"} ${TargetRef.key(target)}`

const rssText = (signal: Signal.Signal): string => {
  const rss = num(signal.evidence["rssBytes"])
  const rate = num(signal.evidence["rateMiBPerMinute"])
  return [rss !== undefined ? `RSS ${Math.round(rss / MiB)} MiB` : undefined, rate !== undefined ? `growing ${rate} MiB/min` : undefined].filter((x) => x !== undefined).join(", ")
}

/** The `deployment regression` hand-off signal. */
export const regressionSignal = (signal: Signal.Signal, deploy: DeploySource.Deploy, symptom: string): Effect.Effect<Signal.Signal, HandOffs.InvalidHandOff> =>
  HandOffs.signal(HandOffs.DeploymentRegression, {
    target: signal.target,
    observedAt: signal.observedAt,
    source: ID,
    evidence: { revision: deploy.revision, ...(deploy.previousRevision !== undefined ? { previousRevision: deploy.previousRevision } : {}), deployedAt: deploy.deployedAt, symptom }
  })

/** The `rollout restart requested` hand-off signal. */
export const rolloutSignal = (signal: Signal.Signal, reason: string): Effect.Effect<Signal.Signal, HandOffs.InvalidHandOff> =>
  HandOffs.signal(HandOffs.RolloutRestartRequested, { target: signal.target, observedAt: signal.observedAt, source: ID, evidence: { reason } })

/** Plan options. */
export interface PlanOptions extends Pick<RunawaySettings, "handOffAwaitMinutes" | "maxRestartsPerHour"> {}

/** The plan (an Effect only because hand-off evidence is encoded with its Schema). */
export const planOf = (classification: Classification.Classified, facts: Fact.Facts<RunawayFacts>, signal: Signal.Signal, options: Partial<PlanOptions> = {}): Effect.Effect<Plan.Plan> =>
  Effect.gen(function*() {
    const o = { ...DEFAULTS, ...options }
    const x = facts.subject?._tag === "Known" ? facts.subject.value : undefined
    const deploy = facts.deploy?._tag === "Known" ? facts.deploy.value : null
    const n = facts.restarts?._tag === "Known" ? facts.restarts.value : undefined
    const name = describeSubject(x, signal.target)
    const rss = rssText(signal)
    const awaitFor = Duration.minutes(o.handOffAwaitMinutes)
    const regression = (why: string) =>
      Effect.gen(function*() {
        const h = yield* Effect.orDie(regressionSignal(signal, deploy!, `runaway memory on ${name}${rss ? ` (${rss})` : ""}${why}`))
        return Plan.handOff(h, { await: awaitFor, reason: `deployment regression: ${deploy!.revision} on ${TargetRef.key(signal.target)}` })
      })
    switch (classification.class) {
      case "deploy_regression":
        return Plan.make(ID, classification.class, `deploy ${deploy!.revision} is recent: hand the regression to its owner, no restart`, yield* regression(""))
      case "crash_loop":
        if (deploy !== null) {
          return Plan.make(ID, classification.class, `restarted ${n} times in the last hour: no restart; hand the regression of ${deploy.revision} to its owner`, yield* regression(` after ${n} restart(s) in the last hour`))
        }
        return Plan.make(ID, classification.class, `restarted ${n} times in the last hour: no restart, escalate`, Plan.escalate(
          `${name} keeps running away: ${n} restart(s) in the last hour (max ${o.maxRestartsPerHour}); a restart only buys time${rss ? ` (${rss})` : ""}`,
          [
            "take a heap dump / snapshot of the current process before it is killed",
            "look for the leak in code or configuration changed outside a tracked deploy",
            "raise the memory limit only as a stopgap",
            `the crash-loop guard allows restarts again once fewer than ${o.maxRestartsPerHour} fall in the last hour`
          ]
        ))
      case "runaway_service":
        if (x?.platform === "systemd" && x.unit !== undefined && x.pid !== undefined && x.starttime !== undefined) {
          return Plan.make(ID, classification.class, `restart ${x.unit} through the service manager`, Plan.act(Action.make({
            kind: ProcessControl.RESTART,
            target: signal.target,
            params: { unit: x.unit, pid: x.pid, starttime: x.starttime, comm: x.comm ?? "" },
            idempotencyKey: `${ProcessControl.RESTART}:${x.unit}:${x.pid}:${x.starttime}`,
            description: `restart ${x.unit} (runaway main process ${x.comm}, pid ${x.pid}${rss ? `, ${rss}` : ""})`
          })))
        }
        if (x !== undefined && x.platform !== "systemd") {
          const reason = `runaway memory${rss ? ` (${rss})` : ""}: restart requested by ${ID}`
          const h = yield* Effect.orDie(rolloutSignal(signal, reason))
          return Plan.make(ID, classification.class, `ask the owner of ${TargetRef.key(signal.target)} for a rollout restart`, Plan.seq(
            Plan.act(Action.make({
              kind: RESTART_REQUESTED,
              target: signal.target,
              params: { platform: x.platform },
              idempotencyKey: `${RESTART_REQUESTED}:${TargetRef.key(signal.target)}:${signal.observedAt}`,
              description: `count a restart of ${TargetRef.key(signal.target)} against the crash-loop budget (${o.maxRestartsPerHour}/hour)`
            })),
            Plan.handOff(h, { await: awaitFor, reason: `rollout restart of ${TargetRef.key(signal.target)} (${x.platform})` })
          ))
        }
        break
    }
    return Plan.make(ID, classification.class, `${name} cannot be restarted: escalate`, Plan.escalate(
      `${name} is running away${rss ? ` (${rss})` : ""} and cannot be restarted: ${x?.reason ?? "unknown target"}`,
      [...(x?.podUid !== undefined ? [`look at Kubernetes pod ${x.podUid} (its memory limit, its workload)`] : []), "restart it by hand once its owner agrees; take a heap dump first"]
    ))
  })

/** The remediator. */
export const remediator = (options: Partial<PlanOptions> = {}) => (classification: Classification.Classified, facts: Fact.Facts<RunawayFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  planOf(classification, facts, signal, options)

// ---------------------------------------------------------------------------------------------
// guard

/** The crash-loop budget: at most `max` restarts (made or requested) per target per hour. */
export const guardrails = (max: number = DEFAULTS.maxRestartsPerHour): ReadonlyArray<Guardrail.Guardrail> => [
  RestartBudget.guardrail({ name: "runaway_restarts_per_target_per_hour", max })
]

/** The `host.memory.runaway.restart-requested` handler: nothing to mutate (the guardrail takes the budget); observe: Unknown. */
export const restartRequestedHandler = (): ActionHandler.ActionHandler =>
  ActionHandler.make({
    kind: RESTART_REQUESTED,
    params: Schema.Struct({ platform: Schema.Literals(["kubernetes", "render"]) }),
    apply: (p, ctx) => Effect.succeed({ detail: `${ctx.dryRun ? "would count" : "counted"} a ${p.platform} restart request against the crash-loop budget`, result: { platform: p.platform, dryRun: ctx.dryRun } }),
    observe: () => Effect.succeed(ActionHandler.unknown("a counted request leaves nothing to observe but the budget"))
  })

// ---------------------------------------------------------------------------------------------
// verify

/** The verifier: a restarted unit runs under a new MainPID; every awaited hand-off's child recovered. */
export const verifier = (sources: Pick<Sources, "manager"> = {}): Verifier.Verifier<RunawayFacts> => (ctx) =>
  Effect.gen(function*() {
    const checks: Array<Verdict.CheckResult> = []
    for (const c of HandOffs.childResults(ctx.outcomes)) {
      checks.push({ name: `${c.signalType} handled`, ok: c.status === "recovered", detail: `${c.runbook ?? "no owner"}: ${c.status}${c.reason ? ` (${c.reason})` : ""}` })
    }
    for (const a of ctx.applied) {
      if (a.kind !== ProcessControl.RESTART) continue
      const unit = String(a.params["unit"])
      if (sources.manager === undefined) {
        checks.push({ name: "unit restarted", ok: false, detail: "no ServiceManager to check with" })
        continue
      }
      const shown = yield* Effect.option(sources.manager.show(unit))
      const st = shown._tag === "Some" && shown.value._tag === "Known" ? shown.value.value : undefined
      const ok = st !== undefined && st.activeState === "active" && st.mainPid !== undefined && st.mainPid !== a.params["pid"]
      checks.push({ name: "unit restarted", ok, detail: st ? `${unit} ${st.activeState}, MainPID ${st.mainPid ?? "none"} (was ${String(a.params["pid"])})` : `${unit}: state unknown` })
    }
    if (checks.length === 0) checks.push({ name: "remediated", ok: false, detail: "nothing was restarted or handed off" })
    const at = yield* Clock.currentTimeMillis
    return Verdict.fromChecks(checks, at)
  })

// ---------------------------------------------------------------------------------------------
// runbook

/** Options of the runbook. */
export interface Options extends Partial<RunawaySettings>, Sources, Pick<SamplerOptions, "filter" | "read" | "host"> {
  readonly detect?: boolean
  /** Delay before verifying, seconds (default 30). */
  readonly verifyAfterSeconds?: number
  readonly defaultMode?: "observe" | "dry_run" | "auto"
  /** The per-target cooldown after an incident closes (core's default, 5 minutes). */
  readonly cooldown?: Duration.Input
}

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<RunawayFacts, GuardrailStore.GuardrailStore> => {
  const s = { ...DEFAULTS, ...options }
  let now = Date.now()
  return Runbook.make<RunawayFacts, GuardrailStore.GuardrailStore>({
    id: ID,
    family: "host.memory",
    description: "Runaway memory consumers: restart the systemd unit, or hand Kubernetes / Render restarts to their owner; a recent deploy → deployment regression; ≤ 3 restarts per target per hour",
    signals: [SIGNAL_TYPE],
    precedence: 45,
    ...(options.detect ? { detector: detector(options) } : {}),
    diagnose: (signal) =>
      Effect.flatMap(diagnoser(options)(signal), (facts) => Effect.map(Clock.currentTimeMillis, (t) => {
        now = t
        return facts
      })),
    classify: classifier(s, () => now),
    remediate: remediator(s),
    guardrails: guardrails(s.maxRestartsPerHour),
    verify: verifier(options),
    verifySchedule: VerifierApi.once(`${options.verifyAfterSeconds ?? 30} seconds`),
    config: [settings],
    ...(options.cooldown !== undefined ? { cooldown: options.cooldown } : {}),
    defaultMode: options.defaultMode ?? "dry_run"
  })
}

/** The handlers the plans use (`host.service.restart` needs the ServiceManager). */
export const handlers = (manager: ServiceManager.ServiceManagerShape, options: ProcessControl.Options = {}): ReadonlyArray<ActionHandler.ActionHandler> =>
  [ProcessControl.restartHandler(manager, options), restartRequestedHandler()]
