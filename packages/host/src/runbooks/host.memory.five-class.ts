/**
 * `host.memory.five-class` — "Detects OOM-kill events and sustained memory pressure (≥90% RSS),
 * classifies root cause across 5 classes (memory_leak / traffic_spike / undersized_limit /
 * noisy_neighbor / runtime_misconfig), and autonomously remediates within hard guardrails — max 3
 * restarts/hour, max 2× limit bump, never touch stateful workloads without allowlist."
 * On by default in family `host.memory`.
 *
 * 1. **Detect** — `sampler` / `detector`: each watched service's memory cgroup; usage ≥
 *    `limitPercent` (default 90) of its limit (cgroup `memory.max` / `memory.limit_in_bytes`, else
 *    MemTotal) in every sample for `windowSeconds` (default 90) fires; so does an OOM kill in the
 *    service's cgroup (`/dev/kmsg` `oom-kill:` lines, `oomDetector`). Every sample is recorded in
 *    the service's memory history (`Stats.recorder`, 3 h).
 * 2. **Diagnose** in parallel: `usage` (cgroup usage / limit now), `history` (the recorded or a
 *    given history, joined with the request rate of `RequestRateHistory`: the one provided, else
 *    the store-backed default `RequestRate.fromStore` over the GuardrailStore), `node` (/proc/meminfo and the top RSS processes outside the service),
 *    `runtime` (cmdline and JAVA_TOOL_OPTIONS / NODE_OPTIONS / GOMEMLIMIT of the main process),
 *    `heap` (`jcmd <pid> GC.heap_info` for a JVM, the Node heap endpoint for Node; a failed probe is
 *    Unknown), `k8s` (the `oom.observed` hand-off's evidence when the signal is one).
 * 3. **Classify** (the seed's classes and order, first match, ≥ 0.70):
 *
 *    | class | rule | confidence |
 *    |---|---|---|
 *    | memory_leak | the history spans ≥ `leakHours` (2) and climbs (last-quarter mean − first-quarter mean ≥ `climbShare` 0.1 of the limit, positive slope) with no rps correlation (< `rpsCorrelation` 0.7 or no rps) | 0.85 |
 *    | traffic_spike | it climbs and correlates with rps (≥ 0.7) | 0.86 |
 *    | undersized_limit | no climb (steady state) and p99 > `undersizedShare` (0.8) of a cgroup limit | 0.84 |
 *    | noisy_neighbor | the node is ≥ `limitPercent` used while the service uses < `wellBehavedShare` (0.7) of its limit (the victim is well-behaved) | 0.88 |
 *    | runtime_misconfig | the configured heap ceiling (-Xmx, --max-old-space-size, GOMEMLIMIT) is larger than the limit (needs `heap`: a failed jcmd makes it Indeterminate) | 0.93 |
 *
 * 4. **Remediate** — `planOf`: memory_leak → heap snapshot (`host.jvm.heap-dump`: `jcmd <pid>
 *    GC.heap_dump <file>`; for Node the `--heapsnapshot-signal` signal only where set, never a bare
 *    SIGUSR1; a failed snapshot does not stop the restart) then `host.service.restart` through the
 *    ServiceManager under `Guardrail.backoff` (30 s × 2^N, cap 300 s) and `Guardrail.rateLimit`
 *    (3 per service per hour); traffic_spike → `host.service.memory-max` to min(2× the current
 *    limit, `maxLimitBytes`) with a ceiling guardrail of 2× the lease baseline and the policy cap;
 *    undersized_limit → a ChangeProposal (p99 × 1.5), never applied; runtime_misconfig → a
 *    ChangeProposal of the heap flag (75 % of the limit; GOMEMLIMIT 90 %); noisy_neighbor →
 *    escalation naming the top RSS process outside the service. A kubepods cgroup (memory_leak, traffic_spike) is never acted on here: an OOM kill in it → the `oom.observed` hand-off to Kubernetes (workload `<cluster>/<namespace>/Pod/<pod>`, the pod named from the kubelet's log links, `Pods.resolve`); pressure without a kill, or a pod that cannot be named → escalation naming the pod. Stateful services (ProcessGuard)
 *    are touched only when in `statefulAllowlist`; kubepods cgroups are never restarted here.
 * 5. **Verify** — usage under `limitPercent` of the limit.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Check, Classifier, Detector, Diagnoser, Guardrail, GuardrailStore, HandOffs, Plan, Runbook, Settings, Signal, TargetRef, Verdict, Verifier as VerifierApi } from "@byteport/core"
import type { Classification, Fact, Verifier } from "@byteport/core"
import type { Shell } from "@byteport/core/shell"
import { Clock, Config, Effect, Schedule, Schema, Stream } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as os from "node:os"
import * as Pods from "../fivec/Pods"
import * as RequestRate from "../fivec/RequestRate"
import * as Runtime from "../fivec/Runtime"
import * as Stats from "../fivec/Stats"
import * as RestartBudget from "../process/RestartBudget"
import * as ProcessControl from "../process/ProcessControl"
import * as CgroupMemory from "../readers/CgroupMemory"
import * as Kmsg from "../readers/Kmsg"
import * as Meminfo from "../readers/Meminfo"
import * as PidStat from "../readers/PidStat"
import * as ProcInfo from "../readers/ProcInfo"
import * as Sustained from "../saturation/Sustained"
import type * as ServiceManager from "../services/ServiceManager"

/** The runbook id. */
export const ID = "host.memory.five-class"
/** The signal type. */
export const SIGNAL_TYPE = "host.memory.pressure"
/** The check kind (usage under the threshold of the limit). */
export const CHECK = "host.memory.five-class.below"
/** The heap-dump action kind (`jcmd <pid> GC.heap_dump <file>`). */
export const HEAP_DUMP = "host.jvm.heap-dump"
/** The runtime MemoryMax action kind (`systemctl set-property --runtime <unit> MemoryMax=`). */
export const MEMORY_MAX = "host.service.memory-max"

/** Settings (every seed number a default). */
export interface FiveClassSettings {
  /** `BYTEPORT_FIVE_CLASS_LIMIT_PERCENT` (90): usage ≥ this % of the limit is pressure. */
  readonly limitPercent: number
  /** `BYTEPORT_FIVE_CLASS_WINDOW_SECONDS` (90): how long pressure must last. */
  readonly windowSeconds: number
  /** `BYTEPORT_FIVE_CLASS_SAMPLE_SECONDS` (5). */
  readonly sampleSeconds: number
  /** `BYTEPORT_FIVE_CLASS_LEAK_HOURS` (2): a leak climbs for longer than this. */
  readonly leakHours: number
  /** `BYTEPORT_FIVE_CLASS_CLIMB_SHARE` (0.1): a climb rises by at least this share of the limit. */
  readonly climbShare: number
  /** `BYTEPORT_FIVE_CLASS_RPS_CORRELATION` (0.7): Pearson r at or above it is traffic correlation. */
  readonly rpsCorrelation: number
  /** `BYTEPORT_FIVE_CLASS_UNDERSIZED_SHARE` (0.8): p99 above this share of the limit is undersized. */
  readonly undersizedShare: number
  /** `BYTEPORT_FIVE_CLASS_WELL_BEHAVED_SHARE` (0.7): a victim under this share of its limit is well-behaved. */
  readonly wellBehavedShare: number
  /** `BYTEPORT_FIVE_CLASS_RESTARTS_PER_HOUR` (3). */
  readonly restartsPerHour: number
  /** `BYTEPORT_FIVE_CLASS_MAX_LIMIT_BYTES` (policy cap of a MemoryMax bump; default 64 GiB). */
  readonly maxLimitBytes: number
}

/** The defaults. */
export const DEFAULTS: FiveClassSettings = {
  limitPercent: 90,
  windowSeconds: 90,
  sampleSeconds: 5,
  leakHours: 2,
  climbShare: 0.1,
  rpsCorrelation: 0.7,
  undersizedShare: 0.8,
  wellBehavedShare: 0.7,
  restartsPerHour: 3,
  maxLimitBytes: 64 * 1024 ** 3
}

/** The settings from configuration. */
export const settings: Config.Config<FiveClassSettings> = Config.all({
  limitPercent: Settings.positiveNumber("BYTEPORT_FIVE_CLASS_LIMIT_PERCENT").pipe(Config.withDefault(DEFAULTS.limitPercent)),
  windowSeconds: Settings.positiveInt("BYTEPORT_FIVE_CLASS_WINDOW_SECONDS").pipe(Config.withDefault(DEFAULTS.windowSeconds)),
  sampleSeconds: Settings.positiveInt("BYTEPORT_FIVE_CLASS_SAMPLE_SECONDS").pipe(Config.withDefault(DEFAULTS.sampleSeconds)),
  leakHours: Settings.positiveNumber("BYTEPORT_FIVE_CLASS_LEAK_HOURS").pipe(Config.withDefault(DEFAULTS.leakHours)),
  climbShare: Settings.ratio("BYTEPORT_FIVE_CLASS_CLIMB_SHARE").pipe(Config.withDefault(DEFAULTS.climbShare)),
  rpsCorrelation: Settings.ratio("BYTEPORT_FIVE_CLASS_RPS_CORRELATION").pipe(Config.withDefault(DEFAULTS.rpsCorrelation)),
  undersizedShare: Settings.ratio("BYTEPORT_FIVE_CLASS_UNDERSIZED_SHARE").pipe(Config.withDefault(DEFAULTS.undersizedShare)),
  wellBehavedShare: Settings.ratio("BYTEPORT_FIVE_CLASS_WELL_BEHAVED_SHARE").pipe(Config.withDefault(DEFAULTS.wellBehavedShare)),
  restartsPerHour: Settings.positiveInt("BYTEPORT_FIVE_CLASS_RESTARTS_PER_HOUR").pipe(Config.withDefault(DEFAULTS.restartsPerHour)),
  maxLimitBytes: Settings.positiveNumber("BYTEPORT_FIVE_CLASS_MAX_LIMIT_BYTES").pipe(Config.withDefault(DEFAULTS.maxLimitBytes))
})

/** A watched service: its unit name and memory cgroup directory. */
export interface Watched {
  readonly unit: string
  readonly cgroup: string
}

/** Where the runbook reads. */
export interface Sources {
  /** `/proc/meminfo` (default). */
  readonly meminfoPath?: string
  /** `/proc` (default). */
  readonly procRoot?: string
  /** The memory history of a unit (default: the recorder the sampler fills). */
  readonly history?: (unit: string) => Effect.Effect<ReadonlyArray<Stats.Sample>, unknown>
  /** The recorder the sampler fills and the default history reads. */
  readonly recorder?: Stats.Recorder
  /** The Shell jcmd runs in (default: none → the JVM heap probe fails, Unknown). */
  readonly shell?: Shell.ShellShape
  /** The jcmd program (default `jcmd`). */
  readonly jcmd?: string
  /** The Node heap endpoint of a unit, when it has one. */
  readonly nodeHeapUrl?: (unit: string) => string | undefined
  /** The service manager, to read the unit's MainPID (default: the lowest pid of the cgroup). */
  readonly manager?: ServiceManager.ServiceManagerShape
}

/** The target of a service. */
export const target = (unit: string, host = os.hostname()): TargetRef.TargetRef => TargetRef.make("host.unit", unit, TargetRef.make("host", host))

const pct = (used: number, limit: number): number => Math.round((used / Math.max(limit, 1)) * 1000) / 10

/** The usage of a cgroup against its limit (the cgroup's, else MemTotal). */
export interface Usage {
  readonly unit: string
  readonly cgroup: string
  readonly usageBytes: number
  readonly limitBytes: number
  readonly limitSource: "cgroup" | "ram"
  readonly percent: number
}

/** Reads a watched service's usage now. */
export const usage = (w: Watched, meminfoPath?: string): Effect.Effect<Usage, unknown> =>
  Effect.gen(function*() {
    const c = yield* CgroupMemory.read(w.cgroup)
    const limit = c.limitBytes ?? (yield* Meminfo.read(meminfoPath)).memTotal
    return { unit: w.unit, cgroup: w.cgroup, usageBytes: c.usageBytes, limitBytes: limit, limitSource: c.limitBytes === undefined ? "ram" : "cgroup", percent: pct(c.usageBytes, limit) }
  })

// ---------------------------------------------------------------------------------------------
// detect

const signalOf = (u: Usage, at: number, extra: Record<string, string | number | boolean>, reasons: ReadonlyArray<string>, host?: string): Signal.Signal =>
  Signal.make({
    type: SIGNAL_TYPE,
    target: target(u.unit, host),
    observedAt: at,
    source: "host.MemoryFiveClass",
    evidence: { unit: u.unit, cgroup: u.cgroup, usageBytes: u.usageBytes, limitBytes: u.limitBytes, limitSource: u.limitSource, percent: u.percent, ...extra, reasons: [...reasons] }
  })

/**
 * A stateful sampler over the watched services: records each usage into the history and returns a
 * signal for each service at or over `limitPercent` of its limit in every sample for the window.
 */
export const sampler = (watch: ReadonlyArray<Watched>, options: Partial<FiveClassSettings> & Pick<Sources, "meminfoPath" | "recorder"> & { readonly host?: string } = {}): Effect.Effect<ReadonlyArray<Signal.Signal>> => {
  const s = { ...DEFAULTS, ...options }
  const states = new Map<string, Sustained.State>()
  return Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    const out: Array<Signal.Signal> = []
    for (const w of watch) {
      const r = yield* Effect.option(usage(w, options.meminfoPath))
      const u = r._tag === "Some" ? r.value : undefined
      if (u) options.recorder?.record(w.unit, { at, bytes: u.usageBytes })
      // ≥ threshold: Sustained compares strictly, so it is given 1/0 against 0.5
      const st = Sustained.step(states.get(w.unit) ?? Sustained.initial, at, u === undefined ? undefined : u.percent >= s.limitPercent ? 1 : 0, 0.5, s.windowSeconds * 1000, true)
      states.set(w.unit, st.state)
      if (u && st.sustained) {
        out.push(signalOf(u, at, { thresholdPercent: s.limitPercent, forSeconds: Math.round(st.forMs / 1000), trigger: "pressure" }, [
          `${u.unit} uses ${u.percent}% of its ${u.limitSource === "cgroup" ? "cgroup limit" : "RAM"} (≥ ${s.limitPercent}%) for ${Math.round(st.forMs / 1000)} s`
        ], options.host))
      }
    }
    return out
  })
}

/** The poll detector over the watched services. */
export const detector = (watch: ReadonlyArray<Watched>, options: Partial<FiveClassSettings> & Pick<Sources, "meminfoPath" | "recorder"> = {}): Detector.Detector<never> =>
  Detector.poll("host.memory.five-class/cgroups", {
    schedule: Schedule.spaced(`${options.sampleSeconds ?? DEFAULTS.sampleSeconds} seconds`),
    poll: sampler(watch, options)
  })

/** The watched service an OOM kill belongs to (its `task_memcg` / `oom_memcg` is the service's cgroup or under it). */
export const ownerOf = (kill: Kmsg.OomKill, watch: ReadonlyArray<Watched>): Watched | undefined =>
  watch.find((w) => [kill.taskMemcg, kill.oomMemcg].some((m) => m !== undefined && m !== "/" && (w.cgroup.endsWith(m) || m.startsWith(cgroupRelative(w.cgroup)))))

const cgroupRelative = (dir: string): string => {
  const m = /^\/sys\/fs\/cgroup(?:\/memory)?(\/.*)$/.exec(dir)
  return m ? m[1]! : dir
}

/** OOM kills of the watched services as signals (from a Stream of kills, `Kmsg.oomKills()` by default). */
export const oomDetector = (watch: ReadonlyArray<Watched>, options: Pick<Sources, "meminfoPath"> & { readonly kills?: Stream.Stream<Kmsg.OomKill, unknown>; readonly host?: string } = {}): Detector.Detector<unknown> =>
  Detector.fromStream(
    "host.memory.five-class/kmsg",
    (options.kills ?? Kmsg.oomKills()).pipe(
      Stream.mapEffect((k) =>
        Effect.gen(function*() {
          const w = ownerOf(k, watch)
          if (w === undefined) return []
          const at = yield* Clock.currentTimeMillis
          const u = yield* Effect.option(usage(w, options.meminfoPath))
          const base: Usage = u._tag === "Some" ? u.value : { unit: w.unit, cgroup: w.cgroup, usageBytes: 0, limitBytes: 1, limitSource: "cgroup", percent: 0 }
          return [signalOf(base, at, { trigger: "oom-kill", killedPid: k.pid, killedTask: k.task, constraint: k.constraint ?? "" }, [`the OOM killer killed ${k.task} (pid ${k.pid}) in ${w.unit} (${k.constraint ?? "memcg"})`], options.host)]
        })
      ),
      Stream.flatMap((xs) => Stream.fromIterable(xs))
    )
  )

// ---------------------------------------------------------------------------------------------
// diagnose

/** The node's memory and the top RSS processes outside the service. */
export interface Node {
  readonly usedPercent: number
  readonly memTotal: number
  readonly memAvailable: number
  /** Top RSS processes not in the service's cgroup, largest first. */
  readonly top: ReadonlyArray<{ readonly pid: number; readonly comm: string; readonly rssBytes: number; readonly cgroup: string }>
}

/** The `oom.observed` hand-off evidence (Kubernetes events), when the signal is one. */
export type K8s = { readonly source: "none" } | { readonly source: "hand-off"; readonly container: string; readonly count: number; readonly lastAt: number; readonly limitBytes?: number | undefined }

/** The facts. */
export interface FiveClassFacts {
  readonly usage: Usage
  readonly history: Stats.Summary
  readonly node: Node
  readonly runtime: Runtime.Runtime | null
  readonly heap: Runtime.Heap
  readonly k8s: K8s
}

/** The watched service a signal names (evidence `unit` + `cgroup`). */
export const watchedOf = (signal: Signal.Signal): Watched | undefined => {
  const unit = signal.evidence["unit"]
  const cgroup = signal.evidence["cgroup"]
  return typeof unit === "string" && typeof cgroup === "string" ? { unit, cgroup } : undefined
}

const needWatched = (signal: Signal.Signal) =>
  Effect.suspend(() => {
    const w = watchedOf(signal)
    return w ? Effect.succeed(w) : Effect.fail(new Error(`signal ${signal.type} names no unit and cgroup`))
  })

const cgroupOfPid = (pid: number, procRoot: string): string => {
  try {
    return fs.readFileSync(nodePath.join(procRoot, String(pid), "cgroup"), "utf8")
  } catch {
    return ""
  }
}

/** The node's memory and the top-N RSS processes outside `exclude` (a cgroup path). */
export const node = (exclude: string, sources: Pick<Sources, "meminfoPath" | "procRoot"> = {}, n = 5): Effect.Effect<Node, unknown> =>
  Effect.gen(function*() {
    const m = yield* Meminfo.read(sources.meminfoPath)
    const procRoot = sources.procRoot ?? "/proc"
    const rel = cgroupRelative(exclude)
    const rows: Array<Node["top"][number]> = []
    for (const name of fs.readdirSync(procRoot)) {
      if (!/^\d+$/.test(name)) continue
      try {
        const status = fs.readFileSync(nodePath.join(procRoot, name, "status"), "utf8")
        const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)
        if (!rss) continue
        const cg = cgroupOfPid(Number(name), procRoot)
        if (cg.includes(rel)) continue
        rows.push({ pid: Number(name), comm: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?", rssBytes: Number(rss[1]) * 1024, cgroup: cg.split("\n").find((l) => l.includes("memory") || l.startsWith("0::"))?.split(":").slice(2).join(":") ?? "" })
      } catch {
        // the process ended meanwhile
      }
    }
    rows.sort((a, b) => b.rssBytes - a.rssBytes)
    return { usedPercent: pct(m.memTotal - m.memAvailable, m.memTotal), memTotal: m.memTotal, memAvailable: m.memAvailable, top: rows.slice(0, n) }
  })

/** The main pid of the service (the manager's MainPID, else the lowest pid in the cgroup). */
export const mainPid = (w: Watched, manager?: ServiceManager.ServiceManagerShape): Effect.Effect<number | undefined, unknown> =>
  Effect.gen(function*() {
    if (manager) {
      const s = yield* manager.show(w.unit)
      if (s._tag === "Known" && s.value?.mainPid !== undefined) return s.value.mainPid
    }
    try {
      const pids = fs.readFileSync(nodePath.join(w.cgroup, "cgroup.procs"), "utf8").split("\n").filter((l) => l !== "").map(Number)
      return pids.length ? Math.min(...pids) : undefined
    } catch {
      return undefined
    }
  })

/** The runtime of the service's main process (null when it has none). */
export const runtime = (w: Watched, sources: Pick<Sources, "procRoot" | "manager"> = {}): Effect.Effect<Runtime.Runtime | null, unknown> =>
  Effect.gen(function*() {
    const pid = yield* mainPid(w, sources.manager)
    if (pid === undefined) return null
    const st = yield* PidStat.read(pid, sources.procRoot)
    const argv = yield* ProcInfo.cmdline(pid, sources.procRoot)
    const env = yield* ProcInfo.environ(pid, ProcInfo.HEAP_VARIABLES, sources.procRoot)
    return Runtime.classify({ pid, starttime: st.starttime, comm: st.comm, argv, env })
  })

/** The live heap probe: jcmd for a JVM, the endpoint for Node, `none` otherwise. */
export const heap = (w: Watched, sources: Sources = {}): Effect.Effect<Runtime.Heap, unknown> =>
  Effect.gen(function*() {
    const r = yield* runtime(w, sources)
    if (r?.kind === "jvm") {
      if (sources.shell === undefined) return yield* new Runtime.HeapProbeError({ message: "no Shell to run jcmd in" })
      return yield* Runtime.jcmdHeapInfo(sources.shell, r.pid, sources.jcmd)
    }
    const url = r?.kind === "node" ? sources.nodeHeapUrl?.(w.unit) : undefined
    if (url !== undefined) return yield* Runtime.nodeHeap(url)
    return { kind: "none" as const, detail: r ? `${r.kind} runtime: no heap probe` : "no main process" }
  })

/** The k8s fact: the `oom.observed` hand-off's evidence, or none. */
export const k8s = (signal: Signal.Signal): Effect.Effect<K8s, unknown> =>
  signal.type === HandOffs.OomObserved.type
    ? Effect.map(HandOffs.decode(HandOffs.OomObserved, signal), (e) => ({ source: "hand-off" as const, container: e.container, count: e.count, lastAt: e.lastAt, limitBytes: e.limitBytes }))
    : Effect.succeed({ source: "none" as const })

/**
 * The history fact of a unit: its memory samples joined with the request rate of the same unit
 * (`RequestRateHistory`: the one provided, else the store-backed default over the GuardrailStore;
 * neither → no rps), summarised. traffic_spike's predicate reads the rps correlation from it.
 */
export const history = (unit: string, memory: (unit: string) => Effect.Effect<ReadonlyArray<Stats.Sample>, unknown>): Effect.Effect<Stats.Summary, unknown> =>
  Effect.gen(function*() {
    const samples = yield* memory(unit)
    if (samples.length === 0) return Stats.summarize(samples)
    const provided = yield* Effect.serviceOption(RequestRate.RequestRateHistory)
    const store = provided._tag === "Some" ? undefined : yield* Effect.serviceOption(GuardrailStore.GuardrailStore)
    const rates = provided._tag === "Some" ? provided.value : store?._tag === "Some" ? RequestRate.fromStore(store.value) : undefined
    if (rates === undefined) return Stats.summarize(samples)
    const ats = samples.map((x) => x.at)
    const tolerance = 60_000
    const rps = yield* rates.range(unit, Math.min(...ats) - tolerance, Math.max(...ats) + tolerance)
    return Stats.summarize(RequestRate.join(samples, rps, tolerance))
  })

/** The diagnoser: every probe in parallel. */
export const diagnoser = (sources: Sources = {}): Diagnoser.Diagnoser<FiveClassFacts> => {
  const rec = sources.recorder
  const hist = sources.history ?? ((unit: string) => Effect.succeed(rec?.history(unit) ?? []))
  return Diagnoser.make<FiveClassFacts>({
    usage: Diagnoser.probe("usage", (s) => Effect.flatMap(needWatched(s), (w) => usage(w, sources.meminfoPath))),
    history: Diagnoser.probe("history", (s) => Effect.flatMap(needWatched(s), (w) => history(w.unit, hist))),
    node: Diagnoser.probe("node", (s) => Effect.flatMap(needWatched(s), (w) => node(w.cgroup, sources))),
    runtime: Diagnoser.probe("runtime", (s) => Effect.flatMap(needWatched(s), (w) => runtime(w, sources))),
    heap: Diagnoser.probe("heap", (s) => Effect.flatMap(needWatched(s), (w) => heap(w, sources)), { timeout: "25 seconds" }),
    k8s: Diagnoser.probe("k8s", k8s)
  }, { timeout: "30 seconds" })
}

// ---------------------------------------------------------------------------------------------
// classify

/** The classes and their confidences (documented in the module doc). */
export const CONFIDENCES = { memory_leak: 0.85, traffic_spike: 0.86, undersized_limit: 0.84, noisy_neighbor: 0.88, runtime_misconfig: 0.93 } as const

type RuleSettings = Pick<FiveClassSettings, "limitPercent" | "leakHours" | "climbShare" | "rpsCorrelation" | "undersizedShare" | "wellBehavedShare">

const climbing = (h: Stats.Summary, u: Usage, s: RuleSettings): boolean => h.samples >= 4 && h.slopeBytesPerHour > 0 && h.riseBytes >= s.climbShare * u.limitBytes
const mib = (b: number): string => `${Math.round(b / 1024 / 1024)} MiB`

/** The rules, in the seed's order. */
export const rules = (s: RuleSettings = DEFAULTS): ReadonlyArray<Classifier.Rule<FiveClassFacts>> => {
  const rule = Classifier.rule<FiveClassFacts>()
  const corr = (h: Stats.Summary) => (h.rpsCorrelation === undefined ? "no rps" : `r=${h.rpsCorrelation.toFixed(2)}`)
  return [
    rule({
      class: "memory_leak",
      confidence: CONFIDENCES.memory_leak,
      needs: ["usage", "history"],
      when: ({ usage: u, history: h }) => ({
        matched: climbing(h, u, s) && h.spanMs > s.leakHours * 3_600_000 && !(h.rpsCorrelation !== undefined && h.rpsCorrelation >= s.rpsCorrelation),
        reasons: [`memory rose ${mib(h.riseBytes)} over ${(h.spanMs / 3_600_000).toFixed(1)} h (${mib(h.slopeBytesPerHour)}/h), ${corr(h)}`],
        evidence: { riseBytes: Math.round(h.riseBytes), spanMs: h.spanMs, ...(h.rpsCorrelation !== undefined ? { rpsCorrelation: h.rpsCorrelation } : {}) }
      })
    }),
    rule({
      class: "traffic_spike",
      confidence: CONFIDENCES.traffic_spike,
      needs: ["usage", "history"],
      when: ({ usage: u, history: h }) => ({
        matched: climbing(h, u, s) && h.rpsCorrelation !== undefined && h.rpsCorrelation >= s.rpsCorrelation,
        reasons: [`memory rose ${mib(h.riseBytes)} with the request rate (${corr(h)})`],
        evidence: { riseBytes: Math.round(h.riseBytes), ...(h.rpsCorrelation !== undefined ? { rpsCorrelation: h.rpsCorrelation } : {}) }
      })
    }),
    rule({
      class: "undersized_limit",
      confidence: CONFIDENCES.undersized_limit,
      needs: ["usage", "history"],
      when: ({ usage: u, history: h }) => ({
        matched: u.limitSource === "cgroup" && h.samples >= 4 && !climbing(h, u, s) && h.p99Bytes > s.undersizedShare * u.limitBytes,
        reasons: [`steady state: p99 ${mib(h.p99Bytes)} is ${pct(h.p99Bytes, u.limitBytes)}% of the ${mib(u.limitBytes)} limit (> ${s.undersizedShare * 100}%)`],
        evidence: { p99Bytes: h.p99Bytes, limitBytes: u.limitBytes }
      })
    }),
    rule({
      class: "noisy_neighbor",
      confidence: CONFIDENCES.noisy_neighbor,
      needs: ["usage", "node"],
      when: ({ usage: u, node: n }) => ({
        matched: n.usedPercent >= s.limitPercent && u.usageBytes < s.wellBehavedShare * u.limitBytes,
        reasons: [`the node is ${n.usedPercent}% used while ${u.unit} uses ${u.percent}% of its limit (< ${s.wellBehavedShare * 100}%)`, ...(n.top[0] ? [`top consumer: ${n.top[0].comm} (pid ${n.top[0].pid}) ${mib(n.top[0].rssBytes)}`] : [])],
        evidence: { nodeUsedPercent: n.usedPercent, percent: u.percent, ...(n.top[0] ? { neighborPid: n.top[0].pid, neighbor: n.top[0].comm } : {}) }
      })
    }),
    rule({
      class: "runtime_misconfig",
      confidence: CONFIDENCES.runtime_misconfig,
      needs: ["usage", "runtime", "heap"],
      when: ({ usage: u, runtime: r }) => ({
        matched: r !== null && r.heapMaxBytes !== undefined && r.heapMaxBytes > u.limitBytes,
        reasons: r?.heapMaxBytes !== undefined ? [`${r.heapFlag} (${mib(r.heapMaxBytes)}) is larger than the ${mib(u.limitBytes)} limit`] : ["no heap ceiling configured"],
        evidence: { ...(r?.heapMaxBytes !== undefined ? { heapMaxBytes: r.heapMaxBytes, heapFlag: r.heapFlag ?? "" } : {}), limitBytes: u.limitBytes }
      })
    })
  ]
}

/** The classifier (first match, minimum 0.70). */
export const classifier = (s?: RuleSettings): Classifier.Classifier<FiveClassFacts> => Classifier.firstMatch(rules(s), { minConfidence: 0.7 })

// ---------------------------------------------------------------------------------------------
// remediate

/** Where heap dumps go (default the OS temp directory). */
export interface PlanOptions {
  readonly dumpDirectory?: string
  readonly maxLimitBytes?: number
  /** The cluster name of the `oom.observed` hand-off's workload target (default `default`). */
  readonly cluster?: string
  /** Where the kubelet's log links are, to name a kubepods cgroup's pod (default `/var/log`). */
  readonly podLogRoot?: string
  /** The pod of a kubepods cgroup (the remediator resolves it with `Pods.resolve`). */
  readonly pod?: Pods.PodRef
}

/** The heap-flag fix of runtime_misconfig: 75 % of the limit (GOMEMLIMIT 90 %). */
export const heapFlagFix = (r: Runtime.Runtime, limitBytes: number): string => {
  const m = Math.floor((limitBytes * 0.75) / 1024 / 1024)
  switch (r.kind) {
    case "jvm":
      return `-Xmx${m}m`
    case "node":
      return `--max-old-space-size=${m}`
    case "go":
      return `GOMEMLIMIT=${Math.floor((limitBytes * 0.9) / 1024 / 1024)}MiB`
    default:
      return `a heap ceiling under ${m} MiB`
  }
}

/** Pure: the plan. */
export const planOf = (classification: Classification.Classified, facts: Fact.Facts<FiveClassFacts>, signal: Signal.Signal, options: PlanOptions = {}): Plan.Plan => {
  const u = facts.usage?._tag === "Known" ? facts.usage.value : undefined
  const h = facts.history?._tag === "Known" ? facts.history.value : undefined
  const n = facts.node?._tag === "Known" ? facts.node.value : undefined
  const r = facts.runtime?._tag === "Known" ? facts.runtime.value : null
  const unit = u?.unit ?? watchedOf(signal)?.unit ?? signal.target.ref
  const unitTarget = TargetRef.make("host.unit", unit, signal.target.parent)
  const cgroup = u?.cgroup ?? watchedOf(signal)?.cgroup ?? ""
  const podUid = Pods.podUidOf(cgroup)
  if (podUid !== undefined && (classification.class === "memory_leak" || classification.class === "traffic_spike")) {
    // container cgroups are never signalled, restarted or resized here: Kubernetes owns them
    const pod = options.pod?.uid === podUid ? options.pod : undefined
    const killed = signal.evidence["trigger"] === "oom-kill"
    if (pod !== undefined && pod.container !== undefined && killed) {
      const handOff = Signal.make({
        type: HandOffs.OomObserved.type,
        target: TargetRef.make("k8s.workload", `${options.cluster ?? "default"}/${pod.namespace}/Pod/${pod.name}`),
        observedAt: signal.observedAt,
        source: ID,
        evidence: { container: pod.container, count: 1, lastAt: signal.observedAt, ...(u?.limitSource === "cgroup" ? { limitBytes: u.limitBytes } : {}) }
      })
      return Plan.make(ID, classification.class, `OOM kill in Kubernetes pod ${pod.namespace}/${pod.name}: hand it to Kubernetes (oom.observed)`, Plan.handOff(handOff, {
        reason: `${classification.class}: the OOM killer killed ${String(signal.evidence["killedTask"] ?? "a process")} in container ${pod.container} of pod ${pod.namespace}/${pod.name} (uid ${podUid}); container cgroups are never signalled or restarted by host runbooks`
      }))
    }
    return Plan.make(ID, classification.class, `${classification.class} in a Kubernetes pod: escalate to its owner`, Plan.escalate(
      `${classification.class} in pod ${pod ? `${pod.namespace}/${pod.name} (uid ${podUid})` : podUid} (cgroup ${u?.cgroup ?? "?"}): container cgroups are never signalled or restarted by host runbooks`,
      [killed ? `the pod could not be named from the kubelet's log links: hand pod ${podUid}'s OOM kill to the Kubernetes OOM runbooks (oom.observed)` : `let the Kubernetes OOM runbooks (oom.observed) handle pod ${pod ? `${pod.namespace}/${pod.name}` : podUid}`]
    ))
  }
  switch (classification.class) {
    case "memory_leak": {
      if (r === null) break
      const snapshot: Array<Plan.Step> = []
      if (r.kind === "jvm") {
        const path = nodePath.join(options.dumpDirectory ?? os.tmpdir(), `byteport-${unit}-${r.pid}-${r.starttime}.hprof`)
        snapshot.push(Plan.act(Action.make({
          kind: HEAP_DUMP,
          target: unitTarget,
          params: { pid: r.pid, starttime: r.starttime, comm: r.comm, path },
          idempotencyKey: `${HEAP_DUMP}:${r.pid}:${r.starttime}`,
          description: `heap dump of ${r.comm} (pid ${r.pid}) to ${path} (jcmd GC.heap_dump)`
        })))
      } else if (r.kind === "node" && r.heapSnapshotSignal !== undefined && (ProcessControl.ALLOWED_SIGNALS as ReadonlyArray<string>).includes(r.heapSnapshotSignal)) {
        snapshot.push(Plan.act(Action.make({
          kind: ProcessControl.SIGNAL,
          target: unitTarget,
          params: { pid: r.pid, starttime: r.starttime, comm: r.comm, signal: r.heapSnapshotSignal },
          idempotencyKey: `${ProcessControl.SIGNAL}:${r.pid}:${r.starttime}:${r.heapSnapshotSignal}`,
          description: `heap snapshot of ${r.comm} (pid ${r.pid}) via its --heapsnapshot-signal=${r.heapSnapshotSignal}`
        })))
      }
      const restart = Plan.act(Action.make({
        kind: ProcessControl.RESTART,
        target: unitTarget,
        params: { unit, pid: r.pid, starttime: r.starttime, comm: r.comm },
        idempotencyKey: `${ProcessControl.RESTART}:${unit}:${r.pid}:${r.starttime}`,
        description: `restart ${unit} (main process ${r.comm}, pid ${r.pid}): memory leak`
      }))
      return Plan.make(ID, classification.class, `memory leak in ${unit}: ${snapshot.length ? "heap snapshot, then " : ""}restart (backoff 30 s × 2^N, ≤ 3/h)`,
        snapshot.length ? Plan.seq(Plan.fallback(snapshot[0]!, Plan.seq(), { on: ["failed"] }), restart) : restart)
    }
    case "traffic_spike": {
      if (u === undefined || u.limitSource !== "cgroup") break
      const cap = options.maxLimitBytes ?? DEFAULTS.maxLimitBytes
      const bytes = Math.min(2 * u.limitBytes, cap)
      if (bytes <= u.limitBytes) break
      return Plan.make(ID, classification.class, `traffic spike on ${unit}: MemoryMax ${mib(u.limitBytes)} → ${mib(bytes)}`, Plan.act(Action.make({
        kind: MEMORY_MAX,
        target: unitTarget,
        params: { unit, fromBytes: u.limitBytes, bytes },
        idempotencyKey: `${MEMORY_MAX}:${unit}:${u.limitBytes}:${bytes}`,
        description: `raise MemoryMax of ${unit} from ${mib(u.limitBytes)} to ${mib(bytes)} (≤ 2× the baseline, ≤ policy cap ${mib(cap)})`
      })))
    }
    case "undersized_limit": {
      if (u === undefined || h === undefined) break
      const proposed = Math.ceil((h.p99Bytes * 1.5) / 1024 / 1024)
      return Plan.make(ID, classification.class, `undersized limit on ${unit}: propose MemoryMax=${proposed}M (p99 × 1.5), never applied`, Plan.propose({
        title: `${unit}: raise MemoryMax to ${proposed}M`,
        body: `BytePort (${ID}) found ${unit} in steady state at p99 ${mib(h.p99Bytes)}, ${pct(h.p99Bytes, u.limitBytes)}% of its ${mib(u.limitBytes)} limit. Suggested: MemoryMax=${proposed}M (p99 × 1.5). Not applied automatically.`,
        target: unitTarget,
        files: [{ path: `/etc/systemd/system/${unit}.d/memory.conf`, description: "memory limit", before: `MemoryMax=${u.limitBytes}`, after: `[Service]\nMemoryMax=${proposed}M` }]
      }))
    }
    case "runtime_misconfig": {
      if (u === undefined || r === null || r.heapMaxBytes === undefined) break
      const fix = heapFlagFix(r, u.limitBytes)
      return Plan.make(ID, classification.class, `runtime misconfiguration of ${unit}: propose ${fix}`, Plan.propose({
        title: `${unit}: heap ceiling ${r.heapFlag} exceeds the ${mib(u.limitBytes)} limit`,
        body: `The ${r.kind} heap ceiling ${r.heapFlag} (${mib(r.heapMaxBytes)}) is larger than the memory limit of ${unit} (${mib(u.limitBytes)}): the runtime grows past the limit and is OOM-killed. Set ${fix} (${r.kind === "go" ? "90" : "75"}% of the limit). Never applied automatically.`,
        target: unitTarget,
        files: [{ path: `${unit}`, description: "heap flag", before: r.heapFlag ?? "", after: fix }]
      }))
    }
    case "noisy_neighbor": {
      const top = n?.top[0]
      return Plan.make(ID, classification.class, `noisy neighbour: ${top ? `${top.comm} (pid ${top.pid})` : "unknown"} presses the node`, Plan.escalate(
        `${unit} is a well-behaved victim (${u?.percent}% of its limit) of node memory pressure (${n?.usedPercent}% used)${top ? `; the largest consumer is ${top.comm} (pid ${top.pid}, ${mib(top.rssBytes)}, cgroup ${top.cgroup || "?"})` : ""}`,
        (n?.top ?? []).map((t) => `neighbour: ${t.comm} (pid ${t.pid}) ${mib(t.rssBytes)} in ${t.cgroup || "?"}`)
      ))
    }
  }
  return Plan.make(ID, classification.class, "nothing safe to do: escalate", Plan.escalate(`${classification.class} on ${unit}, but the facts needed to act are missing`, []))
}

/** The remediator. */
export const remediator = (options: PlanOptions = {}) => (classification: Classification.Classified, facts: Fact.Facts<FiveClassFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.sync(() => {
    const cgroup = (facts.usage?._tag === "Known" ? facts.usage.value.cgroup : undefined) ?? watchedOf(signal)?.cgroup ?? ""
    const pod = options.pod ?? Pods.resolve(cgroup, options.podLogRoot)
    return planOf(classification, facts, signal, { ...options, ...(pod !== undefined ? { pod } : {}) })
  })

// ---------------------------------------------------------------------------------------------
// guardrails and handlers

/** The restart budget key of a service: one budget per service, shared with `host.memory.runaway` (`RestartBudget`). */
export const restartKey = RestartBudget.keyOf

/** The runbook's guardrails: restart backoff (30 s × 2^N, cap 300 s), ≤ N restarts per service per hour, MemoryMax ≤ 2× baseline and ≤ the policy cap. */
export const guardrails = (o: Pick<Partial<FiveClassSettings>, "restartsPerHour" | "maxLimitBytes"> = {}): ReadonlyArray<Guardrail.Guardrail<never>> => [
  Guardrail.when(Guardrail.isKind(ProcessControl.RESTART), Guardrail.backoff({ name: "restart_backoff", key: restartKey, base: "30 seconds", factor: 2, cap: "300 seconds" })),
  Guardrail.when(Guardrail.isKind(ProcessControl.RESTART), RestartBudget.guardrail({ name: `restarts_per_service(${o.restartsPerHour ?? DEFAULTS.restartsPerHour}/1h)`, max: o.restartsPerHour ?? DEFAULTS.restartsPerHour })),
  Guardrail.when(Guardrail.isKind(MEMORY_MAX), Guardrail.ceiling({
    name: "memory_max_2x_baseline",
    proposed: (ctx) => Guardrail.numberFromJson(ctx.action.params["bytes"]),
    limit: (ctx) => {
      const b = Guardrail.numberFromJson(ctx.baseline["limitBytes"])
      return b === undefined ? undefined : Math.min(2 * b, o.maxLimitBytes ?? DEFAULTS.maxLimitBytes)
    }
  }))
]

/** The lease baseline: the limit when the lease was first taken. */
export const baseline = (facts: Fact.Facts<FiveClassFacts>): { readonly [k: string]: number } => (facts.usage?._tag === "Known" ? { limitBytes: facts.usage.value.limitBytes } : {})

const MemoryMaxParams = Schema.Struct({ unit: Schema.String, fromBytes: Schema.Number, bytes: Schema.Number })
const HeapDumpParams = Schema.Struct({ ...ProcessControl.Target.fields, path: Schema.String })

/** `host.service.memory-max` through a ServiceManager. observe: MemoryMax is `bytes` → Applied; still `fromBytes` → NotApplied. */
export const memoryMaxHandler = (manager: ServiceManager.ServiceManagerShape): ActionHandler.ActionHandler =>
  ActionHandler.make({
    kind: MEMORY_MAX,
    params: MemoryMaxParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: MEMORY_MAX, message, conflict })
        if (p.bytes <= p.fromBytes || p.bytes > 2 * p.fromBytes) return yield* fail(`refused: MemoryMax ${p.fromBytes} → ${p.bytes} is not a raise of at most 2×`)
        const shown = yield* manager.show(p.unit).pipe(Effect.mapError((e) => fail(e.message)))
        if (shown._tag === "Unknown" || shown.value === undefined) return yield* fail(`${p.unit}: state unknown or no such unit`, true)
        if (shown.value.memoryMax !== p.fromBytes) return yield* fail(`${p.unit}: MemoryMax is ${shown.value.memoryMax ?? "infinity"} now, planned from ${p.fromBytes}`, true)
        if (!ctx.dryRun) yield* manager.setMemoryMax(p.unit, p.bytes).pipe(Effect.mapError((e) => fail(e.message)))
        return { detail: `${ctx.dryRun ? "would set" : "set"} MemoryMax of ${p.unit} ${p.fromBytes} → ${p.bytes}`, result: { unit: p.unit, bytes: p.bytes, dryRun: ctx.dryRun } }
      }),
    observe: (p) =>
      Effect.map(manager.show(p.unit), (c) => {
        if (c._tag === "Unknown" || c.value === undefined) return ActionHandler.unknown(`${p.unit}: state unknown`)
        return c.value.memoryMax === p.bytes ? ActionHandler.applied(`MemoryMax ${p.bytes}`) : c.value.memoryMax === p.fromBytes ? ActionHandler.notApplied(`MemoryMax still ${p.fromBytes}`) : ActionHandler.unknown(`MemoryMax ${c.value.memoryMax}`)
      })
  })

/** `host.jvm.heap-dump`: `jcmd <pid> GC.heap_dump <path>` through a Shell, only while pid + starttime match. observe: the file exists → Applied. */
export const heapDumpHandler = (shell: Shell.ShellShape, options: ProcessControl.Options & { readonly jcmd?: string } = {}): ActionHandler.ActionHandler => {
  const ops = options.ops ?? ProcessControl.local()
  return ActionHandler.make({
    kind: HEAP_DUMP,
    params: HeapDumpParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        yield* ProcessControl.admit(HEAP_DUMP, ops, options, p)
        if (!ctx.dryRun) {
          const r = yield* shell.run([options.jcmd ?? "jcmd", String(p.pid), "GC.heap_dump", p.path], { timeout: "120 seconds" }).pipe(
            Effect.mapError((e) => new ActionHandler.ActionFailed({ kind: HEAP_DUMP, message: e.message }))
          )
          if (r.exitCode !== 0 || !fs.existsSync(p.path)) return yield* new ActionHandler.ActionFailed({ kind: HEAP_DUMP, message: `jcmd GC.heap_dump exited ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 200)}` })
        }
        return { detail: `${ctx.dryRun ? "would dump" : "dumped"} the heap of ${p.comm} (pid ${p.pid}) to ${p.path}`, result: { path: p.path, dryRun: ctx.dryRun } }
      }),
    observe: (p) => Effect.sync(() => (fs.existsSync(p.path) ? ActionHandler.applied(`${p.path} exists`) : ActionHandler.notApplied(`no ${p.path}`)))
  })
}

/** The handlers the plans use. */
export const handlers = (manager: ServiceManager.ServiceManagerShape, shell: Shell.ShellShape, options: ProcessControl.Options & { readonly jcmd?: string } = {}): ReadonlyArray<ActionHandler.ActionHandler> => [
  ProcessControl.restartHandler(manager, options),
  ProcessControl.signalHandler(options),
  memoryMaxHandler(manager),
  heapDumpHandler(shell, options)
]

// ---------------------------------------------------------------------------------------------
// verify

/** The check: the cgroup's usage under `limitPercent` of its limit. */
export const check = (): Check.Check =>
  Check.make(CHECK, (ref) =>
    Check.safely(CHECK, Effect.gen(function*() {
      const limit = typeof ref.params["limitPercent"] === "number" ? ref.params["limitPercent"] : DEFAULTS.limitPercent
      const w = { unit: String(ref.params["unit"]), cgroup: String(ref.params["cgroup"]) }
      const u = yield* usage(w, typeof ref.params["meminfoPath"] === "string" ? ref.params["meminfoPath"] : undefined)
      return { name: CHECK, ok: u.percent < limit, detail: `${w.unit} uses ${u.percent}% of its limit (threshold ${limit}%)`, observed: { percent: u.percent } }
    })))

/** The verifier. */
export const verifier = (options: Pick<Partial<FiveClassSettings>, "limitPercent"> & Pick<Sources, "meminfoPath"> = {}): Verifier.Verifier<FiveClassFacts> => (ctx) =>
  Effect.gen(function*() {
    const w = watchedOf(ctx.signal)
    const at = yield* Clock.currentTimeMillis
    if (w === undefined) return Verdict.fromChecks([{ name: "usage under the threshold", ok: false, detail: "the signal names no cgroup" }], at)
    const ref = Plan.check(CHECK, ctx.signal.target, { ...w, limitPercent: options.limitPercent ?? DEFAULTS.limitPercent, ...(options.meminfoPath ? { meminfoPath: options.meminfoPath } : {}) }, "usage under the threshold")
    const r = yield* check().run(ref, { incidentId: "verify", since: 0 })
    return Verdict.fromChecks([{ name: "usage under the threshold", ok: r.ok, detail: r.detail, ...(r.observed ? { observed: r.observed } : {}) }], at)
  })

// ---------------------------------------------------------------------------------------------
// runbook

/** Options of the runbook. */
export interface Options extends Partial<FiveClassSettings>, Sources, PlanOptions {
  /** The services to watch (enables the detectors). */
  readonly watch?: ReadonlyArray<Watched>
  /** Watch `/dev/kmsg` for OOM kills too (default true when `watch` is given). */
  readonly kmsg?: boolean | Stream.Stream<Kmsg.OomKill, unknown>
  /** Delay before verifying, seconds (default 30). */
  readonly verifyAfterSeconds?: number
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<FiveClassFacts> => {
  const recorder = options.recorder ?? Stats.recorder()
  const o = { ...options, recorder }
  const detectors = o.watch
    ? [detector(o.watch, o), ...(o.kmsg === false ? [] : [oomDetector(o.watch, { ...o, ...(typeof o.kmsg === "object" ? { kills: o.kmsg } : {}) })])]
    : []
  return Runbook.make<FiveClassFacts>({
    id: ID,
    family: "host.memory",
    description: "OOM kills or ≥ 90% of the memory limit: memory_leak, traffic_spike, undersized_limit, noisy_neighbor, runtime_misconfig",
    signals: [SIGNAL_TYPE, HandOffs.OomObserved.type],
    // ranks before host.memory.saturation (40) and runaway: the family's default
    precedence: 30,
    ...(detectors.length ? { detector: Detector.merge("host.memory.five-class", detectors) as Detector.Detector<never> } : {}),
    diagnose: diagnoser(o),
    classify: classifier({ ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([k]) => k in DEFAULTS)) }),
    remediate: remediator(o),
    verify: verifier(o),
    verifySchedule: VerifierApi.once(`${options.verifyAfterSeconds ?? 30} seconds`),
    guardrails: guardrails(o),
    baseline,
    config: [settings],
    defaultMode: options.defaultMode ?? "dry_run"
  })
}

/** The checks. */
export const checks = (): ReadonlyArray<Check.Check> => [check()]
