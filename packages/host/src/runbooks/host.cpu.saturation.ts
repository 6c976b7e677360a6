/**
 * `host.cpu.saturation` — "Detects sustained CPU saturation on Linux hosts (>85% for 90 continuous
 * seconds) and safely restarts non-critical high-CPU processes — with oom_score_adj tuning as an
 * intermediate step before full restart."
 *
 * Every part is exported:
 *
 * 1. **Detect** — `sampler` / `detector`: `/proc/stat` every `sampleSeconds` (default 5); busy =
 *    1 − Δ(idle+iowait)/Δtotal; over `busyPercent` (default 85, strictly) in **every** sample for
 *    `windowSeconds` (default 90) continuous seconds fires `host.cpu.saturation` (a dip resets).
 * 2. **Diagnose** — `diagnoser`: one sample of `/proc/stat` and every process over `sampleMillis`
 *    (default 1 s): busy, steal, the top consumers by Δ(utime+stime) with identity, unit, nice,
 *    oom_score_adj and the `ProcessGuard` verdict.
 * 3. **Classify** — `classifier` (first match, ≥ 0.70):
 *
 *    | class | rule | confidence |
 *    |---|---|---|
 *    | steal_dominated | steal ≥ `stealShare` (default 0.5) of busy time: the hypervisor, not a process | 0.85 |
 *    | runaway_process | still over the threshold, the top consumer may be touched | 0.80 |
 *    | protected_consumer | still over the threshold, the top consumer is in the never-touched set, stateful or in a pod | 0.75 |
 *
 * 4. **Remediate** — `planOf`: runaway_process → raise its oom_score_adj to `oomScoreAdj` (default
 *    500: the seed's "oom_score_adj tuning"; it changes which process the OOM killer picks, not CPU
 *    share, so the step that relieves CPU is the next one), renice it to +`renice` (default 10),
 *    then re-sample (`Plan.waitFor` on `host.cpu.below` for `resampleSeconds`, default 60) and
 *    restart its unit through the `ServiceManager` only if still saturated (no unit → escalate,
 *    never a kill). steal_dominated and protected_consumer → escalate (a pod is named by uid).
 * 5. **Verify** — `verifier`: a fresh sample at or under the threshold → Recovered.
 *
 * @since 0.1.0
 */
import { Action, Check, Classifier, Detector, Diagnoser, Plan, Settings, Signal, TargetRef } from "@byteport/core"
import type { Runbook } from "@byteport/core"
import type { ActionHandler, Classification, Fact, Verifier } from "@byteport/core"
import { Clock, Config, Effect, Schedule } from "effect"
import * as os from "node:os"
import * as ProcessControl from "../process/ProcessControl"
import * as CpuStat from "../readers/CpuStat"
import * as ProcSample from "../saturation/ProcSample"
import * as Sustained from "../saturation/Sustained"
import * as Wiring from "../saturation/Wiring"
import type * as ServiceManager from "../services/ServiceManager"

/** The runbook id. */
export const ID = "host.cpu.saturation"
/** The signal type. */
export const SIGNAL_TYPE = "host.cpu.saturation"
/** The re-sample check kind. */
export const CHECK = "host.cpu.below"

/** Settings (every seed number a default). */
export interface CpuSettings {
  /** `BYTEPORT_CPU_BUSY_PERCENT` (85): busy strictly over it counts. */
  readonly busyPercent: number
  /** `BYTEPORT_CPU_WINDOW_SECONDS` (90): continuous seconds over it to fire. */
  readonly windowSeconds: number
  /** `BYTEPORT_CPU_SAMPLE_SECONDS` (5): the detector's reading interval. */
  readonly sampleSeconds: number
  /** `BYTEPORT_CPU_STEAL_SHARE` (0.5): steal at or above this share of busy time → steal_dominated. */
  readonly stealShare: number
  /** `BYTEPORT_CPU_OOM_SCORE_ADJ` (500): the oom_score_adj the top consumer is raised to. */
  readonly oomScoreAdj: number
  /** `BYTEPORT_CPU_RENICE` (10): the nice value it is lowered to. */
  readonly renice: number
  /** `BYTEPORT_CPU_RESAMPLE_SECONDS` (60): how long the re-sample waits for relief before the restart. */
  readonly resampleSeconds: number
}

/** The defaults. */
export const DEFAULTS: CpuSettings = { busyPercent: 85, windowSeconds: 90, sampleSeconds: 5, stealShare: 0.5, oomScoreAdj: 500, renice: 10, resampleSeconds: 60 }

/** The settings from configuration (validated at startup). */
export const settings: Config.Config<CpuSettings> = Config.all({
  busyPercent: Settings.positiveNumber("BYTEPORT_CPU_BUSY_PERCENT").pipe(Config.withDefault(DEFAULTS.busyPercent)),
  windowSeconds: Settings.positiveInt("BYTEPORT_CPU_WINDOW_SECONDS").pipe(Config.withDefault(DEFAULTS.windowSeconds)),
  sampleSeconds: Settings.positiveInt("BYTEPORT_CPU_SAMPLE_SECONDS").pipe(Config.withDefault(DEFAULTS.sampleSeconds)),
  stealShare: Settings.ratio("BYTEPORT_CPU_STEAL_SHARE").pipe(Config.withDefault(DEFAULTS.stealShare)),
  oomScoreAdj: Settings.nonNegativeInt("BYTEPORT_CPU_OOM_SCORE_ADJ").pipe(Config.withDefault(DEFAULTS.oomScoreAdj)),
  renice: Settings.nonNegativeInt("BYTEPORT_CPU_RENICE").pipe(Config.withDefault(DEFAULTS.renice)),
  resampleSeconds: Settings.positiveInt("BYTEPORT_CPU_RESAMPLE_SECONDS").pipe(Config.withDefault(DEFAULTS.resampleSeconds))
})

/** Where the runbook reads (recorded copies in tests) and which processes it considers. */
export interface Sources {
  /** `/proc/stat` (default). */
  readonly statPath?: string
  /** `/proc` (default). */
  readonly procRoot?: string
  /** Only processes this accepts are candidates (default all). */
  readonly filter?: (p: import("../process/ProcessGuard").Proc) => boolean
  /** The never-touched additions. */
  readonly operatorList?: ReadonlyArray<string>
  readonly statefulAllowlist?: ReadonlyArray<string>
  /** How long the diagnoser and the check sample, ms (default 1000). */
  readonly sampleMillis?: number
}

// ---------------------------------------------------------------------------------------------
// detect

/** The host target of the signal. */
export const target = (host = os.hostname()): TargetRef.TargetRef => TargetRef.make("host.cpu", host)

/**
 * A stateful sampler: each run reads `/proc/stat`, feeds the busy fraction since the previous run
 * to the window, and returns the signal once the window is sustained (on every run while it stays).
 */
export const sampler = (options: Partial<CpuSettings> & Pick<Sources, "statPath"> & { readonly host?: string } = {}): Effect.Effect<ReadonlyArray<Signal.Signal>> => {
  const s = { ...DEFAULTS, ...options }
  let state = Sustained.initial
  let prev: CpuStat.CpuTimes | undefined
  return Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    const r = yield* Effect.option(CpuStat.read(options.statPath))
    if (r._tag === "None") return []
    const before = prev
    prev = r.value.total
    const busy = before === undefined ? undefined : CpuStat.busyFraction(before, r.value.total)
    const steal = before === undefined ? 0 : CpuStat.stealFraction(before, r.value.total)
    const st = Sustained.step(state, at, busy === undefined ? undefined : busy * 100, s.busyPercent, s.windowSeconds * 1000)
    state = st.state
    if (!st.sustained) return []
    return [Signal.make({
      type: SIGNAL_TYPE,
      target: target(options.host),
      observedAt: at,
      source: "host.CpuSaturation",
      evidence: {
        busyPercent: Math.round(busy! * 1000) / 10,
        stealPercent: Math.round(steal * 1000) / 10,
        thresholdPercent: s.busyPercent,
        windowSeconds: s.windowSeconds,
        forSeconds: Math.round(st.forMs / 1000),
        reasons: [`CPU ${Math.round(busy! * 100)}% busy (> ${s.busyPercent}%) for ${Math.round(st.forMs / 1000)} s`]
      }
    })]
  })
}

/** The poll detector (every `sampleSeconds`). */
export const detector = (options: Partial<CpuSettings> & Pick<Sources, "statPath"> = {}): Detector.Detector<never> =>
  Detector.poll("host.cpu.saturation/proc-stat", {
    schedule: Schedule.spaced(`${options.sampleSeconds ?? DEFAULTS.sampleSeconds} seconds`),
    poll: sampler(options)
  })

// ---------------------------------------------------------------------------------------------
// diagnose

/** One diagnosis sample. */
export interface CpuSample {
  readonly busyPercent: number
  readonly stealPercent: number
  /** Top consumers by Δ(utime+stime), largest first. */
  readonly consumers: ReadonlyArray<ProcSample.Consumer>
}

/** The facts. */
export interface CpuFacts {
  readonly sample: CpuSample
}

/** Samples `/proc/stat` and every process over `sampleMillis`. */
export const sample = (sources: Sources = {}): Effect.Effect<CpuSample, unknown> =>
  Effect.gen(function*() {
    const a = yield* CpuStat.read(sources.statPath)
    const first = ProcSample.begin(sources.procRoot, Date.now())
    yield* Effect.sleep(`${sources.sampleMillis ?? 1000} millis`)
    const b = yield* CpuStat.read(sources.statPath)
    const consumers = ProcSample.finish(first, Wiring.finishOptions("cpu", sources))
    return {
      busyPercent: Math.round(CpuStat.busyFraction(a.total, b.total) * 1000) / 10,
      stealPercent: Math.round(CpuStat.stealFraction(a.total, b.total) * 1000) / 10,
      consumers
    }
  })

/** The diagnoser. */
export const diagnoser = (sources: Sources = {}): Diagnoser.Diagnoser<CpuFacts> =>
  Diagnoser.make<CpuFacts>({ sample: Diagnoser.probe("sample", () => sample(sources)) }, { timeout: "30 seconds" })

// ---------------------------------------------------------------------------------------------
// classify

/** The classes and their confidences. */
export const CONFIDENCES = { steal_dominated: 0.85, runaway_process: 0.8, protected_consumer: 0.75 } as const

/** The rules, in order. */
export const rules = (s: Pick<CpuSettings, "busyPercent" | "stealShare"> = DEFAULTS): ReadonlyArray<Classifier.Rule<CpuFacts>> => [
  Classifier.rule<CpuFacts>()({
    class: "steal_dominated",
    confidence: CONFIDENCES.steal_dominated,
    needs: ["sample"],
    when: ({ sample }) => ({
      matched: sample.busyPercent > 0 && sample.stealPercent >= s.stealShare * sample.busyPercent,
      reasons: [`steal ${sample.stealPercent}% of ${sample.busyPercent}% busy (≥ ${s.stealShare * 100}% of it): the hypervisor takes the CPU`],
      evidence: { busyPercent: sample.busyPercent, stealPercent: sample.stealPercent }
    })
  }),
  Classifier.rule<CpuFacts>()({
    class: "runaway_process",
    confidence: CONFIDENCES.runaway_process,
    needs: ["sample"],
    when: ({ sample }) => {
      const top = sample.consumers[0]
      return {
        matched: sample.busyPercent > s.busyPercent && top !== undefined && top.verdict === "Allowed",
        reasons: top ? [`top consumer ${top.comm} (pid ${top.pid}${top.unit ? `, ${top.unit}` : ""}): ${Math.round(top.cpuShare * 100)}% of a CPU`] : ["no consumer"],
        evidence: { busyPercent: sample.busyPercent, ...(top ? { pid: top.pid, comm: top.comm } : {}) }
      }
    }
  }),
  Classifier.rule<CpuFacts>()({
    class: "protected_consumer",
    confidence: CONFIDENCES.protected_consumer,
    needs: ["sample"],
    when: ({ sample }) => {
      const top = sample.consumers[0]
      return {
        matched: sample.busyPercent > s.busyPercent && top !== undefined && top.verdict !== "Allowed",
        reasons: top ? [`top consumer ${top.comm} (pid ${top.pid}) may not be touched: ${top.verdictReason}`] : ["no consumer"],
        evidence: { busyPercent: sample.busyPercent, ...(top ? { pid: top.pid, comm: top.comm } : {}) }
      }
    }
  })
]

/** The classifier (first match, minimum 0.70). */
export const classifier = (s?: Pick<CpuSettings, "busyPercent" | "stealShare">): Classifier.Classifier<CpuFacts> =>
  Classifier.firstMatch(rules(s), { minConfidence: 0.7 })

// ---------------------------------------------------------------------------------------------
// remediate

/** The re-sample check reference. */
export const below = (busyPercent: number, sources: Pick<Sources, "statPath" | "sampleMillis"> = {}, host = os.hostname()): Plan.CheckRef =>
  Plan.check(CHECK, target(host), { busyPercent, statPath: sources.statPath ?? "/proc/stat", sampleMillis: sources.sampleMillis ?? 1000 }, `CPU busy at or under ${busyPercent}%`)

/** The `host.cpu.below` check: busy over `sampleMillis` at or under `busyPercent`. */
export const check = (): Check.Check =>
  Check.make(CHECK, (r) =>
    Check.safely(
      CHECK,
      Effect.gen(function*() {
        const path = typeof r.params["statPath"] === "string" ? r.params["statPath"] : "/proc/stat"
        const limit = typeof r.params["busyPercent"] === "number" ? r.params["busyPercent"] : DEFAULTS.busyPercent
        const a = yield* CpuStat.read(path)
        yield* Effect.sleep(`${typeof r.params["sampleMillis"] === "number" ? r.params["sampleMillis"] : 1000} millis`)
        const b = yield* CpuStat.read(path)
        const busy = Math.round(CpuStat.busyFraction(a.total, b.total) * 1000) / 10
        return { name: CHECK, ok: busy <= limit, detail: `CPU ${busy}% busy (limit ${limit}%)`, observed: { busyPercent: busy } }
      })
    ))

const who = Wiring.who

const targetOf = (c: ProcSample.Consumer, host: TargetRef.TargetRef) => TargetRef.make("host.process", `${c.pid}:${c.starttime}`, host)
const identity = (c: ProcSample.Consumer) => ({ pid: c.pid, starttime: c.starttime, comm: c.comm })

/** Pure: the plan. */
export const planOf = (
  classification: Classification.Classified,
  facts: Fact.Facts<CpuFacts>,
  signal: Signal.Signal,
  options: Partial<CpuSettings> & Pick<Sources, "statPath" | "sampleMillis"> = {}
): Plan.Plan => {
  const s = { ...DEFAULTS, ...options }
  const sampleFact = facts.sample
  const smp = sampleFact !== undefined && sampleFact._tag === "Known" ? sampleFact.value : undefined
  const top = smp?.consumers[0]
  const list = (smp?.consumers ?? []).map((c) => `${who(c)}: ${Math.round(c.cpuShare * 100)}% of a CPU`)
  if (classification.class === "steal_dominated") {
    return Plan.make(ID, classification.class, "steal-dominated: escalate", Plan.escalate(
      `CPU saturation is hypervisor steal (${smp?.stealPercent}% of ${smp?.busyPercent}% busy): no process here is the cause`,
      ["move the VM to another host or a larger instance type", "check the hypervisor / cloud provider for noisy neighbours", ...list.map((l) => `top: ${l}`)]
    ))
  }
  if (classification.class !== "runaway_process" || top === undefined) {
    return Plan.make(ID, classification.class, "the top consumer may not be touched: escalate", Plan.escalate(
      top ? `CPU ${smp?.busyPercent}% busy; the top consumer ${who(top)} may not be touched (${top.verdictReason})` : "CPU saturated with no consumer found",
      [...(top?.verdict === "Container" ? [`look at pod ${top.podUid ?? "(uid unknown)"} (its CPU limit, its replicas)`] : []), ...list.map((l) => `top: ${l}`)]
    ))
  }
  const host = signal.target
  const steps: Array<Plan.Step> = []
  if (top.oomScoreAdj < s.oomScoreAdj) {
    steps.push(Plan.act(Action.make({
      kind: ProcessControl.OOM_SCORE_ADJ,
      target: targetOf(top, host),
      params: { ...identity(top), fromScore: top.oomScoreAdj, score: s.oomScoreAdj },
      idempotencyKey: `${ProcessControl.OOM_SCORE_ADJ}:${top.pid}:${top.starttime}:${s.oomScoreAdj}`,
      description: `raise oom_score_adj of ${who(top)} ${top.oomScoreAdj} → ${s.oomScoreAdj} (the OOM killer takes it first)`
    })))
  }
  if (top.nice < s.renice) {
    steps.push(Plan.act(Action.make({
      kind: ProcessControl.RENICE,
      target: targetOf(top, host),
      params: { ...identity(top), fromNice: top.nice, nice: s.renice },
      idempotencyKey: `${ProcessControl.RENICE}:${top.pid}:${top.starttime}:${s.renice}`,
      description: `renice ${who(top)} ${top.nice} → +${s.renice}`
    })))
  }
  const restart = top.unit !== undefined
    ? Wiring.restartStep({ ...top, unit: top.unit }, host, `restart ${top.unit} through the service manager (main process ${top.comm}, pid ${top.pid})`)
    : Plan.escalate(`still saturated after renice; ${who(top)} belongs to no service unit, so it is not restarted (never killed)`, list.map((l) => `top: ${l}`))
  steps.push(Plan.fallback(
    Plan.waitFor(below(s.busyPercent, options, host.ref), { timeoutMs: s.resampleSeconds * 1000, intervalMs: Math.max(1000, (options.sampleMillis ?? 1000)) }),
    restart,
    { on: ["failed"] }
  ))
  return Plan.make(ID, classification.class, `tune ${who(top)}: oom_score_adj ${s.oomScoreAdj}, nice +${s.renice}; restart only if still over ${s.busyPercent}% after ${s.resampleSeconds} s`, Plan.seq(...steps))
}

/** The remediator. */
export const remediator = (options: Partial<CpuSettings> & Pick<Sources, "statPath" | "sampleMillis"> = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<CpuFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.sync(() => planOf(classification, facts, signal, options))

// ---------------------------------------------------------------------------------------------
// verify

/** The verifier: a fresh sample at or under the threshold → Recovered. */
export const verifier = (options: Partial<CpuSettings> & Pick<Sources, "statPath" | "sampleMillis"> = {}): Verifier.Verifier<CpuFacts> =>
  Wiring.verifyBy(check(), (signal) => below(options.busyPercent ?? DEFAULTS.busyPercent, options, signal.target.ref), "cpu below threshold")

// ---------------------------------------------------------------------------------------------
// runbook

/** Options of the runbook. */
export interface Options extends Partial<CpuSettings>, Sources, Wiring.RunbookOptions {}

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<CpuFacts> =>
  Wiring.runbook<CpuFacts>({
    id: ID,
    family: "host.cpu",
    description: "Sustained CPU saturation (> 85% for 90 s): oom_score_adj and renice the top non-critical consumer, restart its unit only if still saturated",
    signal: SIGNAL_TYPE,
    precedence: 50,
    detector: () => detector(options),
    diagnose: diagnoser(options),
    classify: classifier({ busyPercent: options.busyPercent ?? DEFAULTS.busyPercent, stealShare: options.stealShare ?? DEFAULTS.stealShare }),
    remediate: remediator(options),
    verify: verifier(options),
    config: settings
  }, options)

/** The handlers the plans use (restart only with a ServiceManager). */
export const handlers = (manager: ServiceManager.ServiceManagerShape | undefined, options: ProcessControl.Options = {}): ReadonlyArray<ActionHandler.ActionHandler> =>
  ProcessControl.handlers({ ...options, ...(manager ? { manager } : {}) })

/** The checks the plans use. */
export const checks = (): ReadonlyArray<Check.Check> => [check()]
