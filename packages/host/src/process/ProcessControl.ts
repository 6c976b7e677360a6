/**
 * Process control as core action kinds, each conditional on the process's identity (pid +
 * starttime, so a reused pid is never hit), each refused for the never-touched set
 * (`ProcessGuard`), each with `observe`, each only checking in dry_run:
 *
 * - `host.process.renice` — `setpriority(2)` to a nicer value (only ever up: never a higher priority);
 * - `host.process.oom-score-adj` — writes `/proc/<pid>/oom_score_adj` (-1000..1000; lowering it
 *   below its current value is refused: that protects a process, which is not ours to decide);
 * - `host.process.signal` — a non-terminating signal (`SIGUSR1`, `SIGUSR2`, `SIGCONT`, `SIGWINCH`):
 *   `SIGTERM`, `SIGKILL`, `SIGINT`, `SIGQUIT`, `SIGHUP`, `SIGABRT` are refused — a process is only
 *   ever stopped by restarting its unit through a `ServiceManager` (no manager, no kill);
 * - `host.service.restart` — `ServiceManager.restart(unit)`, only while the unit's MainPID is still
 *   the planned pid + starttime, and only when that main process may be touched.
 *
 * A process in a Kubernetes pod (`kubepods` cgroup) is refused with the pod named: the runbooks
 * turn that into the `OOM observed` hand-off (memory classes) or an escalation naming the pod.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as os from "node:os"
import { ActionHandler } from "@byteport/core"
import { Effect, Schema } from "effect"
import * as ServiceManager from "../services/ServiceManager"
import * as ProcessGuard from "./ProcessGuard"

/** `host.process.renice`. */
export const RENICE = "host.process.renice"
/** `host.process.oom-score-adj`. */
export const OOM_SCORE_ADJ = "host.process.oom-score-adj"
/** `host.process.signal`. */
export const SIGNAL = "host.process.signal"
/** `host.service.restart`. */
export const RESTART = "host.service.restart"

/** Signals that end a process: never sent (restart through a ServiceManager instead). */
export const TERMINATING: ReadonlySet<string> = new Set(["SIGTERM", "SIGKILL", "SIGINT", "SIGQUIT", "SIGHUP", "SIGABRT", "SIGSEGV", "SIGBUS", "SIGALRM", "SIGPIPE", "SIGSTOP", "SIGTSTP"])

/** Signals `host.process.signal` may send. */
export const ALLOWED_SIGNALS = ["SIGUSR1", "SIGUSR2", "SIGCONT", "SIGWINCH"] as const

const Pid = Schema.Number.check(Schema.isInt(), Schema.isGreaterThan(0))
const Tick = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

/** The identity of one process: pid + starttime (+ comm, for reports). */
export const Target = Schema.Struct({ pid: Pid, starttime: Tick, comm: Schema.String })
/** A process identity. */
export type Target = typeof Target.Type

/** Params of `host.process.renice`. */
export const ReniceParams = Schema.Struct({ ...Target.fields, fromNice: Schema.Number.check(Schema.isInt()), nice: Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: -20, maximum: 19 })) })
/** Params of `host.process.oom-score-adj`. */
export const OomScoreParams = Schema.Struct({ ...Target.fields, fromScore: Schema.Number.check(Schema.isInt()), score: Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: -1000, maximum: 1000 })) })
/** Params of `host.process.signal`. */
export const SignalParams = Schema.Struct({ ...Target.fields, signal: Schema.Literals(ALLOWED_SIGNALS) })
/** Params of `host.service.restart`. */
export const RestartParams = Schema.Struct({ unit: Schema.String, ...Target.fields })

/** How process control reads and acts on processes (`local` on this machine; tests may record). */
export interface Ops {
  /** The whole process table (BytePort and its ancestors included). */
  readonly table: () => ReadonlyMap<number, ProcessGuard.Proc>
  readonly nice: (pid: number) => number | undefined
  readonly setNice: (pid: number, nice: number) => void
  readonly oomScoreAdj: (pid: number) => number | undefined
  readonly setOomScoreAdj: (pid: number, score: number) => void
  readonly kill: (pid: number, signal: string) => void
}

/** Process control on this machine: /proc, `setpriority(2)`, `kill(2)`. */
export const local = (procRoot = "/proc"): Ops => ({
  table: () => ProcessGuard.snapshot(procRoot),
  nice: (pid) => {
    try {
      return os.getPriority(pid)
    } catch {
      return undefined
    }
  },
  setNice: (pid, nice) => os.setPriority(pid, nice),
  oomScoreAdj: (pid) => {
    try {
      return Number(fs.readFileSync(`${procRoot}/${pid}/oom_score_adj`, "utf8").trim())
    } catch {
      return undefined
    }
  },
  setOomScoreAdj: (pid, score) => fs.writeFileSync(`${procRoot}/${pid}/oom_score_adj`, String(score)),
  kill: (pid, signal) => process.kill(pid, signal as NodeJS.Signals)
})

/** Options of the handlers. */
export interface Options extends ProcessGuard.Policy {
  readonly ops?: Ops
}

const refuse = (kind: string, message: string, conflict = false) => new ActionHandler.ActionFailed({ kind, message, conflict })

/** Checks identity and the guard; the process row when it may be touched. */
export const admit = (kind: string, ops: Ops, policy: ProcessGuard.Policy, t: Target): Effect.Effect<ProcessGuard.Proc, ActionHandler.ActionFailed> =>
  Effect.suspend(() => {
    const table = ops.table()
    const p = table.get(t.pid)
    if (p === undefined) return Effect.fail(refuse(kind, `pid ${t.pid} (${t.comm}) is gone`, true))
    if (p.starttime !== t.starttime) return Effect.fail(refuse(kind, `pid ${t.pid} is another process now (starttime ${p.starttime}, planned ${t.starttime})`, true))
    const v = ProcessGuard.decide(table, t.pid, policy)
    if (v._tag !== "Allowed") return Effect.fail(refuse(kind, `refused: ${v.reason}`))
    return Effect.succeed(p)
  })

const same = (ops: Ops, t: Target): boolean => ops.table().get(t.pid)?.starttime === t.starttime

const act = (kind: string, f: () => void) =>
  Effect.try({ try: f, catch: (e) => refuse(kind, `${kind}: ${e instanceof Error ? e.message : String(e)}`) })

/** The `host.process.renice` handler. observe: the process's nice is the target → Applied; still `fromNice` → NotApplied. */
export const reniceHandler = (options: Options = {}): ActionHandler.ActionHandler => {
  const ops = options.ops ?? local()
  return ActionHandler.make({
    kind: RENICE,
    params: ReniceParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        if (p.nice < p.fromNice) return yield* refuse(RENICE, `refused: renice only lowers priority (${p.fromNice} → ${p.nice})`)
        yield* admit(RENICE, ops, options, p)
        if (!ctx.dryRun) yield* act(RENICE, () => ops.setNice(p.pid, p.nice))
        return { detail: `${ctx.dryRun ? "would renice" : "reniced"} ${p.comm} (pid ${p.pid}) ${p.fromNice} → ${p.nice}`, result: { pid: p.pid, nice: p.nice, dryRun: ctx.dryRun } }
      }),
    observe: (p) =>
      Effect.sync(() => {
        if (!same(ops, p)) return ActionHandler.unknown(`pid ${p.pid} is gone or another process`)
        const n = ops.nice(p.pid)
        return n === p.nice ? ActionHandler.applied(`nice ${n}`) : n === p.fromNice ? ActionHandler.notApplied(`nice still ${n}`) : ActionHandler.unknown(`nice ${n}`)
      })
  })
}

/** The `host.process.oom-score-adj` handler. observe: the score is the target → Applied; still `fromScore` → NotApplied. */
export const oomScoreAdjHandler = (options: Options = {}): ActionHandler.ActionHandler => {
  const ops = options.ops ?? local()
  return ActionHandler.make({
    kind: OOM_SCORE_ADJ,
    params: OomScoreParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        if (p.score < p.fromScore) return yield* refuse(OOM_SCORE_ADJ, `refused: oom_score_adj is only raised (${p.fromScore} → ${p.score})`)
        yield* admit(OOM_SCORE_ADJ, ops, options, p)
        if (!ctx.dryRun) yield* act(OOM_SCORE_ADJ, () => ops.setOomScoreAdj(p.pid, p.score))
        return { detail: `${ctx.dryRun ? "would set" : "set"} oom_score_adj of ${p.comm} (pid ${p.pid}) ${p.fromScore} → ${p.score}`, result: { pid: p.pid, score: p.score, dryRun: ctx.dryRun } }
      }),
    observe: (p) =>
      Effect.sync(() => {
        if (!same(ops, p)) return ActionHandler.unknown(`pid ${p.pid} is gone or another process`)
        const s = ops.oomScoreAdj(p.pid)
        return s === p.score ? ActionHandler.applied(`oom_score_adj ${s}`) : s === p.fromScore ? ActionHandler.notApplied(`oom_score_adj still ${s}`) : ActionHandler.unknown(`oom_score_adj ${s}`)
      })
  })
}

/** The `host.process.signal` handler (non-terminating signals only). observe: Unknown (a signal leaves no trace to read). */
export const signalHandler = (options: Options = {}): ActionHandler.ActionHandler => {
  const ops = options.ops ?? local()
  return ActionHandler.make({
    kind: SIGNAL,
    params: SignalParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        if (TERMINATING.has(p.signal)) return yield* refuse(SIGNAL, `refused: ${p.signal} ends a process; restart its unit through a ServiceManager`)
        yield* admit(SIGNAL, ops, options, p)
        if (!ctx.dryRun) yield* act(SIGNAL, () => ops.kill(p.pid, p.signal))
        return { detail: `${ctx.dryRun ? "would send" : "sent"} ${p.signal} to ${p.comm} (pid ${p.pid})`, result: { pid: p.pid, signal: p.signal, dryRun: ctx.dryRun } }
      }),
    observe: (p) => Effect.succeed(ActionHandler.unknown(`${p.signal} to pid ${p.pid} leaves nothing to observe`))
  })
}

/**
 * The `host.service.restart` handler over a ServiceManager: only while the unit's MainPID is the
 * planned pid + starttime and that process may be touched. observe: a new MainPID → Applied; the
 * planned one still there → NotApplied.
 */
export const restartHandler = (manager: ServiceManager.ServiceManagerShape, options: Options = {}): ActionHandler.ActionHandler => {
  const ops = options.ops ?? local()
  return ActionHandler.make({
    kind: RESTART,
    params: RestartParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const shown = yield* manager.show(p.unit).pipe(Effect.mapError((e) => refuse(RESTART, e.message)))
        if (shown._tag === "Unknown") return yield* refuse(RESTART, `${p.unit}: the service manager cannot tell its state (${shown.reason})`)
        if (shown.value === undefined) return yield* refuse(RESTART, `${p.unit}: no such unit`, true)
        if (shown.value.mainPid !== p.pid) return yield* refuse(RESTART, `${p.unit}: MainPID is ${shown.value.mainPid ?? "none"} now, planned ${p.pid}`, true)
        yield* admit(RESTART, ops, options, p)
        if (!ctx.dryRun) yield* manager.restart(p.unit).pipe(Effect.mapError((e) => refuse(RESTART, e.message)))
        return { detail: `${ctx.dryRun ? "would restart" : "restarted"} ${p.unit} (main process ${p.comm}, pid ${p.pid})`, result: { unit: p.unit, pid: p.pid, dryRun: ctx.dryRun } }
      }),
    observe: (p) =>
      Effect.map(manager.show(p.unit), (c) => {
        if (c._tag === "Unknown" || c.value === undefined) return ActionHandler.unknown(`${p.unit}: state unknown`)
        if (c.value.mainPid !== undefined && c.value.mainPid !== p.pid) return ActionHandler.applied(`${p.unit} runs as pid ${c.value.mainPid}`)
        if (c.value.mainPid === p.pid && same(ops, p)) return ActionHandler.notApplied(`${p.unit} still runs as pid ${p.pid}`)
        return ActionHandler.unknown(`${p.unit}: ${c.value.activeState}, no main process`)
      })
  })
}

/** Every process-control handler (restart only when a manager is given). */
export const handlers = (options: Options & { readonly manager?: ServiceManager.ServiceManagerShape } = {}): ReadonlyArray<ActionHandler.ActionHandler> => [
  reniceHandler(options),
  oomScoreAdjHandler(options),
  signalHandler(options),
  ...(options.manager !== undefined ? [restartHandler(options.manager, options)] : [])
]
