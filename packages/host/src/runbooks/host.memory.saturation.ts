/**
 * `host.memory.saturation` — "Detects host memory saturation (>90% for 90 seconds) and
 * distinguishes page-cache pressure from actual memory exhaustion before safely restarting
 * leaking processes."
 *
 * Every part is exported:
 *
 * 1. **Detect** — `sampler` / `detector`: `/proc/meminfo` every `sampleSeconds` (default 5); used =
 *    (MemTotal − MemAvailable) / MemTotal strictly over `usedPercent` (default 90) in every reading
 *    for `windowSeconds` (default 90) continuous seconds fires `host.memory.saturation`.
 * 2. **Diagnose** — `diagnoser`: `/proc/meminfo` again, and every process's VmRSS twice
 *    `sampleMillis` apart (default 1 s): the top RSS growers with identity, unit and the
 *    `ProcessGuard` verdict.
 * 3. **Classify** — `classifier` (first match, ≥ 0.70):
 *
 *    | class | rule | confidence |
 *    |---|---|---|
 *    | page_cache_pressure | used is at or under the threshold again and reclaimable page cache (Cached − Shmem) is ≥ `cacheShare` (default 0.2) of MemTotal: the kernel reclaimed cache, nothing is exhausted | 0.80 |
 *    | shmem_heavy | still over, and Shmem (tmpfs, shared memory) is ≥ `shmemShare` (default 0.3) of used memory: a restart frees none of it | 0.85 |
 *    | memory_exhaustion | still over; the top RSS grower belongs to a service unit and may be touched | 0.80 |
 *    | protected_grower | still over; the top grower is in the never-touched set, stateful, in a pod, or in no unit | 0.75 |
 *
 * 4. **Remediate** — `planOf`: page_cache_pressure → nothing (the plan only waits for the
 *    verifier; `drop_caches` is never written); shmem_heavy → escalate with the Shmem figure;
 *    memory_exhaustion → restart the grower's unit through the `ServiceManager`, only while its
 *    MainPID is the diagnosed pid + starttime; protected_grower → escalate naming it (a pod by uid).
 * 5. **Verify** — `verifier`: used at or under the threshold → Recovered.
 *
 * @since 0.1.0
 */
import { Check, Classifier, Detector, Diagnoser, Plan, Settings, Signal, TargetRef } from "@byteport/core"
import type { Runbook } from "@byteport/core"
import type { ActionHandler, Classification, Fact, Verifier } from "@byteport/core"
import { Clock, Config, Effect, Schedule } from "effect"
import * as os from "node:os"
import * as ProcessControl from "../process/ProcessControl"
import type * as ProcessGuard from "../process/ProcessGuard"
import * as Meminfo from "../readers/Meminfo"
import * as ProcSample from "../saturation/ProcSample"
import * as Sustained from "../saturation/Sustained"
import * as Wiring from "../saturation/Wiring"
import type * as ServiceManager from "../services/ServiceManager"

/** The runbook id. */
export const ID = "host.memory.saturation"
/** The signal type. */
export const SIGNAL_TYPE = "host.memory.saturation"
/** The check kind (used memory at or under the threshold). */
export const CHECK = "host.memory.below"

/** Settings (every seed number a default). */
export interface MemorySettings {
  /** `BYTEPORT_MEMORY_USED_PERCENT` (90). */
  readonly usedPercent: number
  /** `BYTEPORT_MEMORY_WINDOW_SECONDS` (90). */
  readonly windowSeconds: number
  /** `BYTEPORT_MEMORY_SAMPLE_SECONDS` (5). */
  readonly sampleSeconds: number
  /** `BYTEPORT_MEMORY_CACHE_SHARE` (0.2): reclaimable page cache share of MemTotal for page_cache_pressure. */
  readonly cacheShare: number
  /** `BYTEPORT_MEMORY_SHMEM_SHARE` (0.3): Shmem share of used memory for shmem_heavy. */
  readonly shmemShare: number
}

/** The defaults. */
export const DEFAULTS: MemorySettings = { usedPercent: 90, windowSeconds: 90, sampleSeconds: 5, cacheShare: 0.2, shmemShare: 0.3 }

/** The settings from configuration. */
export const settings: Config.Config<MemorySettings> = Config.all({
  usedPercent: Settings.positiveNumber("BYTEPORT_MEMORY_USED_PERCENT").pipe(Config.withDefault(DEFAULTS.usedPercent)),
  windowSeconds: Settings.positiveInt("BYTEPORT_MEMORY_WINDOW_SECONDS").pipe(Config.withDefault(DEFAULTS.windowSeconds)),
  sampleSeconds: Settings.positiveInt("BYTEPORT_MEMORY_SAMPLE_SECONDS").pipe(Config.withDefault(DEFAULTS.sampleSeconds)),
  cacheShare: Settings.ratio("BYTEPORT_MEMORY_CACHE_SHARE").pipe(Config.withDefault(DEFAULTS.cacheShare)),
  shmemShare: Settings.ratio("BYTEPORT_MEMORY_SHMEM_SHARE").pipe(Config.withDefault(DEFAULTS.shmemShare))
})

/** Where the runbook reads and which processes it considers. */
export interface Sources {
  /** `/proc/meminfo` (default). */
  readonly meminfoPath?: string
  /** `/proc` (default). */
  readonly procRoot?: string
  /** Only processes this accepts are candidates (default all). */
  readonly filter?: (p: ProcessGuard.Proc) => boolean
  readonly operatorList?: ReadonlyArray<string>
  readonly statefulAllowlist?: ReadonlyArray<string>
  /** How long the diagnoser samples RSS growth, ms (default 1000). */
  readonly sampleMillis?: number
}

const pct = (m: Meminfo.Meminfo): number => Math.round(Meminfo.usedFraction(m) * 1000) / 10

/** The host target. */
export const target = (host = os.hostname()): TargetRef.TargetRef => TargetRef.make("host.memory", host)

// ---------------------------------------------------------------------------------------------
// detect

/** A stateful sampler: each run reads meminfo and returns the signal once over the threshold for the whole window. */
export const sampler = (options: Partial<MemorySettings> & Pick<Sources, "meminfoPath"> & { readonly host?: string } = {}): Effect.Effect<ReadonlyArray<Signal.Signal>> => {
  const s = { ...DEFAULTS, ...options }
  let state = Sustained.initial
  return Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    const r = yield* Effect.option(Meminfo.read(options.meminfoPath))
    if (r._tag === "None") return []
    const used = pct(r.value)
    const st = Sustained.step(state, at, used, s.usedPercent, s.windowSeconds * 1000, true)
    state = st.state
    if (!st.sustained) return []
    return [Signal.make({
      type: SIGNAL_TYPE,
      target: target(options.host),
      observedAt: at,
      source: "host.MemorySaturation",
      evidence: {
        usedPercent: used,
        thresholdPercent: s.usedPercent,
        windowSeconds: s.windowSeconds,
        forSeconds: Math.round(st.forMs / 1000),
        memTotal: r.value.memTotal,
        memAvailable: r.value.memAvailable,
        cached: r.value.cached,
        shmem: r.value.shmem,
        reasons: [`memory ${used}% used (> ${s.usedPercent}%) for ${Math.round(st.forMs / 1000)} s`]
      }
    })]
  })
}

/** The poll detector. */
export const detector = (options: Partial<MemorySettings> & Pick<Sources, "meminfoPath"> = {}): Detector.Detector<never> =>
  Detector.poll("host.memory.saturation/meminfo", {
    schedule: Schedule.spaced(`${options.sampleSeconds ?? DEFAULTS.sampleSeconds} seconds`),
    poll: sampler(options)
  })

// ---------------------------------------------------------------------------------------------
// diagnose

/** What the diagnoser reads of memory. */
export interface MemorySample {
  readonly usedPercent: number
  readonly memTotal: number
  readonly memAvailable: number
  readonly cached: number
  readonly shmem: number
  /** Cached − Shmem: page cache the kernel can drop on its own. */
  readonly reclaimableCache: number
}

/** The facts. */
export interface MemoryFacts {
  readonly memory: MemorySample
  /** Top RSS growers (growth, then RSS), largest first. */
  readonly growers: ReadonlyArray<ProcSample.Consumer>
}

/** Reads meminfo into a MemorySample. */
export const memory = (meminfoPath?: string): Effect.Effect<MemorySample, unknown> =>
  Effect.map(Meminfo.read(meminfoPath), (m) => ({
    usedPercent: pct(m),
    memTotal: m.memTotal,
    memAvailable: m.memAvailable,
    cached: m.cached,
    shmem: m.shmem,
    reclaimableCache: Math.max(0, m.cached - m.shmem)
  }))

/** The top RSS growers over `sampleMillis`. */
export const growers = (sources: Sources = {}): Effect.Effect<ReadonlyArray<ProcSample.Consumer>> =>
  Effect.gen(function*() {
    const first = ProcSample.begin(sources.procRoot, Date.now())
    yield* Effect.sleep(`${sources.sampleMillis ?? 1000} millis`)
    return ProcSample.finish(first, Wiring.finishOptions("rss", sources))
  })

/** The diagnoser. */
export const diagnoser = (sources: Sources = {}): Diagnoser.Diagnoser<MemoryFacts> =>
  Diagnoser.make<MemoryFacts>({
    memory: Diagnoser.probe("memory", () => memory(sources.meminfoPath)),
    growers: Diagnoser.probe("growers", () => growers(sources))
  }, { timeout: "30 seconds" })

// ---------------------------------------------------------------------------------------------
// classify

/** The classes and their confidences. */
export const CONFIDENCES = { page_cache_pressure: 0.8, shmem_heavy: 0.85, memory_exhaustion: 0.8, protected_grower: 0.75 } as const

const restartable = (g: ProcSample.Consumer | undefined): boolean => g !== undefined && g.verdict === "Allowed" && g.unit !== undefined

/** The rules, in order. */
export const rules = (s: Pick<MemorySettings, "usedPercent" | "cacheShare" | "shmemShare"> = DEFAULTS): ReadonlyArray<Classifier.Rule<MemoryFacts>> => {
  const rule = Classifier.rule<MemoryFacts>()
  const over = (m: MemorySample) => m.usedPercent > s.usedPercent
  return [
    rule({
      class: "page_cache_pressure",
      confidence: CONFIDENCES.page_cache_pressure,
      needs: ["memory"],
      when: ({ memory: m }) => ({
        matched: !over(m) && m.reclaimableCache >= s.cacheShare * m.memTotal,
        reasons: [`${m.usedPercent}% used now (≤ ${s.usedPercent}%), ${Math.round((m.reclaimableCache / m.memTotal) * 100)}% of RAM is reclaimable page cache`],
        evidence: { usedPercent: m.usedPercent, reclaimableCache: m.reclaimableCache }
      })
    }),
    rule({
      class: "shmem_heavy",
      confidence: CONFIDENCES.shmem_heavy,
      needs: ["memory"],
      when: ({ memory: m }) => {
        const used = m.memTotal - m.memAvailable
        return {
          matched: over(m) && used > 0 && m.shmem >= s.shmemShare * used,
          reasons: [`Shmem ${m.shmem} bytes is ${Math.round((m.shmem / Math.max(used, 1)) * 100)}% of used memory: tmpfs / shared memory, which no restart frees`],
          evidence: { usedPercent: m.usedPercent, shmem: m.shmem }
        }
      }
    }),
    rule({
      class: "memory_exhaustion",
      confidence: CONFIDENCES.memory_exhaustion,
      needs: ["memory", "growers"],
      when: ({ memory: m, growers: g }) => ({
        matched: over(m) && restartable(g[0]),
        reasons: g[0] ? [`top RSS grower ${g[0].comm} (pid ${g[0].pid}, ${g[0].unit ?? "no unit"}): ${g[0].rssBytes} bytes, +${g[0].rssGrowthBytes}`] : ["no grower"],
        evidence: { usedPercent: m.usedPercent, ...(g[0] ? { pid: g[0].pid, comm: g[0].comm } : {}) }
      })
    }),
    rule({
      class: "protected_grower",
      confidence: CONFIDENCES.protected_grower,
      needs: ["memory", "growers"],
      when: ({ memory: m, growers: g }) => ({
        matched: over(m) && g[0] !== undefined && !restartable(g[0]),
        reasons: g[0] ? [`top RSS grower ${g[0].comm} (pid ${g[0].pid}) cannot be restarted: ${g[0].verdictReason ?? "it belongs to no service unit"}`] : ["no grower"],
        evidence: { usedPercent: m.usedPercent, ...(g[0] ? { pid: g[0].pid, comm: g[0].comm } : {}) }
      })
    })
  ]
}

/** The classifier (first match, minimum 0.70). */
export const classifier = (s?: Pick<MemorySettings, "usedPercent" | "cacheShare" | "shmemShare">): Classifier.Classifier<MemoryFacts> =>
  Classifier.firstMatch(rules(s), { minConfidence: 0.7 })

// ---------------------------------------------------------------------------------------------
// remediate

const who = Wiring.who

/** Pure: the plan. */
export const planOf = (classification: Classification.Classified, facts: Fact.Facts<MemoryFacts>, signal: Signal.Signal): Plan.Plan => {
  const m = facts.memory?._tag === "Known" ? facts.memory.value : undefined
  const g = facts.growers?._tag === "Known" ? facts.growers.value : []
  const top = g[0]
  const list = g.map((c) => `${who(c)}: RSS ${c.rssBytes} bytes (+${c.rssGrowthBytes})`)
  switch (classification.class) {
    case "page_cache_pressure":
      return Plan.make(ID, classification.class, "page-cache pressure: the kernel reclaims it; nothing to do (never drop_caches)", Plan.seq())
    case "shmem_heavy":
      return Plan.make(ID, classification.class, "shared memory holds the RAM: escalate", Plan.escalate(
        `memory ${m?.usedPercent}% used and Shmem holds ${m?.shmem} bytes (tmpfs, /dev/shm, shared segments): restarting a process frees none of it`,
        ["list tmpfs mounts (df -t tmpfs) and /dev/shm; remove what is not needed", "check SysV / POSIX shared memory segments (ipcs -m)", ...list.map((l) => `top: ${l}`)]
      ))
    case "memory_exhaustion":
      if (top !== undefined && top.unit !== undefined) {
        return Plan.make(ID, classification.class, `restart ${top.unit} (top RSS grower ${top.comm}) through the service manager`, Wiring.restartStep(
          { ...top, unit: top.unit },
          signal.target,
          `restart ${top.unit} (main process ${top.comm}, pid ${top.pid}, RSS ${top.rssBytes} bytes, +${top.rssGrowthBytes})`
        ))
      }
      break
  }
  return Plan.make(ID, classification.class, "the top grower cannot be restarted: escalate", Plan.escalate(
    top ? `memory ${m?.usedPercent}% used; the top RSS grower ${who(top)} cannot be restarted (${top.verdictReason ?? "no service unit"})` : "memory saturated with no grower found",
    [...(top?.verdict === "Container" ? [`look at pod ${top.podUid ?? "(uid unknown)"} (its memory limit)`] : []), ...list.map((l) => `top: ${l}`)]
  ))
}

/** The remediator. */
export const remediator = () => (classification: Classification.Classified, facts: Fact.Facts<MemoryFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.sync(() => planOf(classification, facts, signal))

// ---------------------------------------------------------------------------------------------
// verify

/** The `host.memory.below` check. */
export const check = (): Check.Check =>
  Check.make(CHECK, (r) =>
    Check.safely(CHECK, Effect.gen(function*() {
      const limit = typeof r.params["usedPercent"] === "number" ? r.params["usedPercent"] : DEFAULTS.usedPercent
      const m = yield* memory(typeof r.params["meminfoPath"] === "string" ? r.params["meminfoPath"] : undefined)
      return { name: CHECK, ok: m.usedPercent <= limit, detail: `memory ${m.usedPercent}% used (limit ${limit}%)`, observed: { usedPercent: m.usedPercent } }
    })))

/** The verifier: used at or under the threshold → Recovered. */
export const verifier = (options: Pick<Partial<MemorySettings>, "usedPercent"> & Pick<Sources, "meminfoPath"> = {}): Verifier.Verifier<MemoryFacts> =>
  Wiring.verifyBy(
    check(),
    (signal) => Plan.check(CHECK, signal.target, { usedPercent: options.usedPercent ?? DEFAULTS.usedPercent, meminfoPath: options.meminfoPath ?? "/proc/meminfo" }, "memory under the threshold"),
    "memory below threshold"
  )

// ---------------------------------------------------------------------------------------------
// runbook

/** Options of the runbook. */
export interface Options extends Partial<MemorySettings>, Sources, Wiring.RunbookOptions {}

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<MemoryFacts> =>
  Wiring.runbook<MemoryFacts>({
    id: ID,
    family: "host.memory",
    description: "Host memory saturation (> 90% for 90 s): page cache vs real exhaustion; restart the top RSS grower's unit, escalate shmem",
    signal: SIGNAL_TYPE,
    precedence: 40,
    detector: () => detector(options),
    diagnose: diagnoser(options),
    classify: classifier({ usedPercent: options.usedPercent ?? DEFAULTS.usedPercent, cacheShare: options.cacheShare ?? DEFAULTS.cacheShare, shmemShare: options.shmemShare ?? DEFAULTS.shmemShare }),
    remediate: remediator(),
    verify: verifier(options),
    config: settings
  }, options)

/** The handlers the plans use (`host.service.restart` needs the ServiceManager). */
export const handlers = (manager: ServiceManager.ServiceManagerShape, options: ProcessControl.Options = {}): ReadonlyArray<ActionHandler.ActionHandler> =>
  [ProcessControl.restartHandler(manager, options)]

/** The checks. */
export const checks = (): ReadonlyArray<Check.Check> => [check()]
