/**
 * `LocalSupervisor`: a small service manager for machines without systemd as PID 1 (test machines,
 * containers), exposed as a core `Shell` that answers the `systemctl` and `journalctl` commands
 * `ServiceManager.systemd` issues, in their real output formats, from real processes:
 *
 * - every unit runs as a real process group in its **own memory cgroup** (cgroup v1
 *   `memory.limit_in_bytes`, or v2 `memory.max`), created under this process's cgroup; the process
 *   joins it before it `exec`s, so nothing it allocates escapes the limit, and the kernel's OOM
 *   killer really kills it at the limit;
 * - `systemctl is-active | show | restart | start | stop | set-property [--runtime] MemoryMax=` with
 *   systemctl's exit codes (`is-active`: 0 / 3; an unknown unit: `inactive`, `LoadState=not-found`,
 *   `Unit … not found.` exit 5); `restart` = SIGTERM to the group (SIGKILL after the stop timeout)
 *   and respawn; a unit that dies on its own is restarted per its `restart` policy and `NRestarts`
 *   counts those automatic restarts (as systemd's does); an OOM kill shows `Result=oom-kill`;
 * - the units' stdout / stderr and the manager's own messages go to **real journal files**
 *   (systemd-journal-remote, `_SYSTEMD_UNIT` / `UNIT` set as journald sets them); `journalctl …`
 *   runs the real journalctl with `--directory=<journal dir>` added;
 * - any other command runs on this machine (`Shell.local`), so LocalSupervisor passes the Shell
 *   contract like any other Shell.
 *
 * @since 0.1.0
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Context, Effect, Layer, Schema, Scope } from "effect"
import { Shell } from "@byteport/core/shell"

// ---------------------------------------------------------------------------------------------
// model

/** One unit the supervisor runs. */
export interface UnitSpec {
  /** The unit name (`web.service`). */
  readonly name: string
  /** The program and its arguments (`ExecStart`). */
  readonly argv: readonly [string, ...Array<string>]
  /** Environment added to this process's (`Environment=`). */
  readonly env?: Readonly<Record<string, string>>
  /** The memory limit in bytes at start (`MemoryMax=`); default none (`infinity`). */
  readonly memoryMax?: number
  /** `Restart=`: `always`, `on-failure` (default) or `no`. */
  readonly restart?: "always" | "on-failure" | "no"
  /** `RestartSec=` in milliseconds (default 100). */
  readonly restartMillis?: number
  /** `TimeoutStopSec=` in milliseconds: SIGTERM, then SIGKILL after it (default 2000). */
  readonly stopTimeoutMillis?: number
  /** Whether the unit starts with the supervisor (default true). */
  readonly autoStart?: boolean
}

/** Options of `make`. */
export interface Options {
  readonly units: ReadonlyArray<UnitSpec>
  /** The shell's name (default `local-supervisor`). */
  readonly name?: string
  /** The directory of the memory cgroup the units' cgroups are made in (default: this process's memory cgroup). */
  readonly cgroupParent?: string
  /** The journal directory (default: a temporary directory removed with the supervisor). */
  readonly journalDirectory?: string
  /** systemd-journal-remote (default `/lib/systemd/systemd-journal-remote`); without it the units' output is dropped and `journalctl` reads an empty directory. */
  readonly journalRemote?: string
  /** journalctl (default `journalctl` in PATH). */
  readonly journalctl?: string
}

/** What the supervisor knows of a unit right now (for tests and the process-control checks). */
export interface UnitSnapshot {
  readonly name: string
  readonly activeState: "active" | "inactive" | "failed" | "activating" | "deactivating"
  readonly subState: string
  readonly mainPid: number | undefined
  readonly restarts: number
  readonly result: string
  /** MemoryMax in bytes, undefined for infinity. */
  readonly memoryMax: number | undefined
  /** The unit's memory cgroup directory. */
  readonly cgroup: string
  /** How many times the kernel's OOM killer killed in the unit's cgroup. */
  readonly oomKills: number
}

/** The supervisor could not start: no writable memory cgroup, a bad unit. */
export class SupervisorError extends Schema.TaggedError<SupervisorError>()("SupervisorError", {
  message: Schema.String
}) {}

/** A running supervisor. */
export interface LocalSupervisorShape {
  /** The Shell answering systemctl / journalctl (and running anything else locally). */
  readonly shell: Shell.ShellShape
  /** The journal directory. */
  readonly journalDirectory: string
  /** The cgroup version in use. */
  readonly cgroupVersion: 1 | 2
  /** A unit's current state; undefined for a unit it does not run. */
  readonly snapshot: (unit: string) => UnitSnapshot | undefined
  /** The units' names. */
  readonly units: ReadonlyArray<string>
}

/** The LocalSupervisor service (provided by `layer` beside the Shell it answers on). */
export class LocalSupervisor extends Context.Service<LocalSupervisor, LocalSupervisorShape>()("@byteport/host/LocalSupervisor") {}

// ---------------------------------------------------------------------------------------------
// cgroups

interface Cgroups {
  readonly version: 1 | 2
  readonly parent: string
}

/** This process's memory cgroup directory (v1 `memory` controller line, else the v2 `0::` line). */
export const ownMemoryCgroup = (): Cgroups | undefined => {
  let text: string
  try {
    text = fs.readFileSync("/proc/self/cgroup", "utf8")
  } catch {
    return undefined
  }
  const lines = text.split("\n")
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))
  if (v1 !== undefined && fs.existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
    return { version: 1, parent: nodePath.join("/sys/fs/cgroup/memory", v1.slice(v1.indexOf(":", v1.indexOf(":") + 1) + 1)) }
  }
  const v2 = lines.find((l) => l.startsWith("0::"))
  if (v2 !== undefined && fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) return { version: 2, parent: nodePath.join("/sys/fs/cgroup", v2.slice(3)) }
  return undefined
}

const readInt = (path: string): number | undefined => {
  try {
    const n = Number(fs.readFileSync(path, "utf8").trim())
    return Number.isFinite(n) ? n : undefined
  } catch {
    return undefined
  }
}

const oomKillsOf = (cg: Cgroups, dir: string): number => {
  try {
    const text = fs.readFileSync(nodePath.join(dir, cg.version === 1 ? "memory.oom_control" : "memory.events"), "utf8")
    const m = /^oom_kill (\d+)$/m.exec(text)
    return m === null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

/** v1 reports "no limit" as a page-rounded LONG_MAX. */
const UNLIMITED_V1 = 2 ** 62

const readLimit = (cg: Cgroups, dir: string): number | undefined => {
  if (cg.version === 2) {
    try {
      const t = fs.readFileSync(nodePath.join(dir, "memory.max"), "utf8").trim()
      return t === "max" ? undefined : Number(t)
    } catch {
      return undefined
    }
  }
  const n = readInt(nodePath.join(dir, "memory.limit_in_bytes"))
  return n === undefined || n >= UNLIMITED_V1 ? undefined : n
}

const writeLimit = (cg: Cgroups, dir: string, bytes: number | undefined): void => {
  if (cg.version === 2) fs.writeFileSync(nodePath.join(dir, "memory.max"), bytes === undefined ? "max" : String(bytes))
  else fs.writeFileSync(nodePath.join(dir, "memory.limit_in_bytes"), bytes === undefined ? "-1" : String(bytes))
}

// ---------------------------------------------------------------------------------------------
// journal

/** The boot id written into the supervisor's journal entries (one fixed id: one "boot" per journal). */
const BOOT_ID = "0123456789abcdef0123456789abcdef"

interface Journal {
  readonly write: (fields: Readonly<Record<string, string>>) => void
  readonly close: () => Promise<void>
}

const openJournal = (remote: string | undefined, dir: string): Journal => {
  if (remote === undefined || !fs.existsSync(remote)) return { write: () => {}, close: async () => {} }
  const child = spawn(remote, [`--output=${nodePath.join(dir, "system.journal")}`, "--split-mode=none", "-"], { stdio: ["pipe", "ignore", "ignore"] })
  child.stdin!.on("error", () => {})
  const started = process.hrtime.bigint()
  const hostname = os.hostname()
  return {
    write: (fields) => {
      if (child.stdin!.destroyed || child.exitCode !== null) return
      const now = Date.now() * 1000
      const mono = Number((process.hrtime.bigint() - started) / 1000n) + 1
      const lines = [`__REALTIME_TIMESTAMP=${now}`, `__MONOTONIC_TIMESTAMP=${mono}`, `_BOOT_ID=${BOOT_ID}`, `_HOSTNAME=${hostname}`]
      for (const [k, v] of Object.entries(fields)) lines.push(`${k}=${v.replace(/[\n\0]/g, " ")}`)
      child.stdin!.write(lines.join("\n") + "\n\n")
    },
    close: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok()
        const t = setTimeout(() => {
          child.kill("SIGKILL")
        }, 5_000)
        child.once("exit", () => {
          clearTimeout(t)
          ok()
        })
        child.stdin!.end()
      })
  }
}

// ---------------------------------------------------------------------------------------------
// units

interface Unit {
  readonly spec: UnitSpec
  readonly cgroup: string
  activeState: UnitSnapshot["activeState"]
  subState: string
  child: ChildProcess | undefined
  restarts: number
  result: string
  /** The OOM-kill count when the current process started. */
  oomAtStart: number
  /** Set while the supervisor itself stops the process (restart / stop): its exit is not a failure. */
  stopping: boolean
  timer: ReturnType<typeof setTimeout> | undefined
  exited: Promise<void>
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 }

const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+$/

/** The full unit name: `web` → `web.service` (as systemctl completes it). */
const fullName = (name: string): string => (/\.(service|socket|timer|target|mount|scope|slice|path)$/.test(name) ? name : `${name}.service`)

/**
 * Starts the units and returns the supervisor; closing the scope stops every unit (SIGTERM, then
 * SIGKILL), removes their cgroups and finishes the journal file.
 */
export const make = (options: Options): Effect.Effect<LocalSupervisorShape, SupervisorError, Scope.Scope> =>
  Effect.gen(function*() {
    const name = options.name ?? "local-supervisor"
    const own = ownMemoryCgroup()
    const cg: Cgroups | undefined = options.cgroupParent !== undefined
      ? { version: fs.existsSync(nodePath.join(options.cgroupParent, "memory.limit_in_bytes")) ? 1 : 2, parent: options.cgroupParent }
      : own
    if (cg === undefined) return yield* Effect.fail(new SupervisorError({ message: "no memory cgroup (neither cgroup v1 memory nor cgroup v2) to put units in" }))
    const seen = new Set<string>()
    for (const u of options.units) {
      const n = fullName(u.name)
      if (!UNIT_NAME.test(u.name) || u.name.startsWith("-")) return yield* Effect.fail(new SupervisorError({ message: `not a unit name: ${JSON.stringify(u.name)}` }))
      if (seen.has(n)) return yield* Effect.fail(new SupervisorError({ message: `unit ${n} given twice` }))
      seen.add(n)
    }
    const root = nodePath.join(cg.parent, `byteport-supervisor-${process.pid}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`)
    yield* Effect.try({
      try: () => {
        fs.mkdirSync(root)
        if (cg.version === 2) {
          try {
            fs.writeFileSync(nodePath.join(cg.parent, "cgroup.subtree_control"), "+memory")
          } catch {
            // already enabled, or delegated
          }
          fs.writeFileSync(nodePath.join(root, "cgroup.subtree_control"), "+memory")
        }
      },
      catch: (e) => new SupervisorError({ message: `cannot create a memory cgroup under ${cg.parent}: ${String(e)}` })
    })
    const tempJournal = options.journalDirectory === undefined
    const journalDirectory = options.journalDirectory ?? fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-journal-"))
    const journal = openJournal(options.journalRemote ?? "/lib/systemd/systemd-journal-remote", journalDirectory)
    const journalctl = options.journalctl ?? "journalctl"
    const local = Shell.makeLocal({ killGraceMillis: 500 })

    const units = new Map<string, Unit>()
    const managerLog = (unit: string, message: string, priority = 6) =>
      journal.write({ MESSAGE: `${unit}: ${message}`, UNIT: unit, PRIORITY: String(priority), SYSLOG_IDENTIFIER: "systemd", _PID: "1" })

    const pipeLines = (unit: Unit, stream: NodeJS.ReadableStream | null, pid: number, priority: number) => {
      if (stream === null) return
      let rest = ""
      stream.setEncoding?.("utf8")
      stream.on("data", (chunk: string | Buffer) => {
        rest += chunk.toString()
        const parts = rest.split("\n")
        rest = parts.pop() ?? ""
        for (const line of parts) {
          journal.write({ MESSAGE: line, _SYSTEMD_UNIT: unit.spec.name, _PID: String(pid), PRIORITY: String(priority), SYSLOG_IDENTIFIER: nodePath.basename(unit.spec.argv[0]) })
        }
      })
      stream.on("error", () => {})
    }

    const start = (unit: Unit): void => {
      unit.oomAtStart = oomKillsOf(cg, unit.cgroup)
      unit.stopping = false
      unit.result = "success"
      // the shell joins the unit's cgroup, then execs the program: nothing runs outside the limit
      const child = spawn("/bin/sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', unit.cgroup, ...unit.spec.argv], {
        env: { ...process.env, ...unit.spec.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true
      })
      unit.child = child
      unit.activeState = "active"
      unit.subState = "running"
      const pid = child.pid ?? 0
      let done: () => void = () => {}
      unit.exited = new Promise<void>((ok) => (done = ok))
      pipeLines(unit, child.stdout, pid, 6)
      pipeLines(unit, child.stderr, pid, 3)
      managerLog(unit.spec.name, `Started ${unit.spec.name}.`)
      child.on("error", () => {
        // spawn failure of /bin/sh itself: treated as an exit
      })
      child.on("exit", (code, signal) => {
        if (unit.child === child) unit.child = undefined
        const oomKilled = oomKillsOf(cg, unit.cgroup) > unit.oomAtStart
        if (unit.stopping) {
          unit.activeState = "inactive"
          unit.subState = "dead"
          done()
          return
        }
        // the OOM counter can lag the exit by a moment: read it again shortly before deciding
        setTimeout(() => {
          const oom = oomKilled || oomKillsOf(cg, unit.cgroup) > unit.oomAtStart
          const failed = oom || code !== 0 || signal !== null
          unit.result = oom ? "oom-kill" : signal !== null ? "signal" : code !== 0 ? "exit-code" : "success"
          if (oom) managerLog(unit.spec.name, "A process of this unit has been killed by the OOM killer.", 4)
          managerLog(
            unit.spec.name,
            signal !== null
              ? `Main process exited, code=killed, status=${SIGNAL_NUMBERS[signal] ?? 0}/${signal.replace(/^SIG/, "")}`
              : `Main process exited, code=exited, status=${code ?? 0}/${code === 0 ? "SUCCESS" : "FAILURE"}`,
            failed ? 4 : 6
          )
          if (failed) managerLog(unit.spec.name, `Failed with result '${unit.result}'.`, 4)
          const policy = unit.spec.restart ?? "on-failure"
          if (policy === "always" || (policy === "on-failure" && failed)) {
            unit.activeState = "activating"
            unit.subState = "auto-restart"
            unit.timer = setTimeout(() => {
              unit.timer = undefined
              if (unit.subState !== "auto-restart") return
              unit.restarts++
              managerLog(unit.spec.name, `Scheduled restart job, restart counter is at ${unit.restarts}.`)
              start(unit)
            }, unit.spec.restartMillis ?? 100)
          } else {
            unit.activeState = failed ? "failed" : "inactive"
            unit.subState = failed ? "failed" : "dead"
          }
          done()
        }, 20)
      })
    }

    const stop = async (unit: Unit): Promise<void> => {
      if (unit.timer !== undefined) {
        clearTimeout(unit.timer)
        unit.timer = undefined
      }
      const child = unit.child
      if (child === undefined || child.pid === undefined) {
        unit.activeState = unit.activeState === "failed" ? "failed" : "inactive"
        unit.subState = unit.activeState === "failed" ? "failed" : "dead"
        return
      }
      unit.stopping = true
      unit.activeState = "deactivating"
      unit.subState = "stop-sigterm"
      managerLog(unit.spec.name, `Stopping ${unit.spec.name}...`)
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig)
        } catch {
          // gone
        }
      }
      kill("SIGTERM")
      const t = setTimeout(() => kill("SIGKILL"), unit.spec.stopTimeoutMillis ?? 2_000)
      await unit.exited
      clearTimeout(t)
      // anything left in the cgroup (a child that left the group) goes too
      for (const p of cgroupPids(unit.cgroup)) {
        try {
          process.kill(p, "SIGKILL")
        } catch {
          // gone
        }
      }
      managerLog(unit.spec.name, `Stopped ${unit.spec.name}.`)
    }

    for (const spec of options.units) {
      const n = fullName(spec.name)
      const dir = nodePath.join(root, n)
      yield* Effect.try({
        try: () => {
          fs.mkdirSync(dir)
          if (spec.memoryMax !== undefined) writeLimit(cg, dir, spec.memoryMax)
        },
        catch: (e) => new SupervisorError({ message: `cannot set up the cgroup of ${n}: ${String(e)}` })
      })
      units.set(n, {
        spec: { ...spec, name: n },
        cgroup: dir,
        activeState: "inactive",
        subState: "dead",
        child: undefined,
        restarts: 0,
        result: "success",
        oomAtStart: 0,
        stopping: false,
        timer: undefined,
        exited: Promise.resolve()
      })
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        await Promise.all([...units.values()].map((u) => stop(u)))
        await journal.close()
        for (const u of units.values()) {
          for (let i = 0; i < 50 && cgroupPids(u.cgroup).length > 0; i++) await new Promise((r) => setTimeout(r, 20))
          try {
            fs.rmdirSync(u.cgroup)
          } catch {
            // still busy: left for the parent's cleanup
          }
        }
        try {
          fs.rmdirSync(root)
        } catch {
          // idem
        }
        if (tempJournal) fs.rmSync(journalDirectory, { recursive: true, force: true })
      })
    )

    for (const u of units.values()) if (u.spec.autoStart !== false) start(u)

    const snapshot = (unit: string): UnitSnapshot | undefined => {
      const u = units.get(fullName(unit))
      if (u === undefined) return undefined
      return {
        name: u.spec.name,
        activeState: u.activeState,
        subState: u.subState,
        mainPid: u.child?.pid,
        restarts: u.restarts,
        result: u.result,
        memoryMax: readLimit(cg, u.cgroup),
        cgroup: u.cgroup,
        oomKills: oomKillsOf(cg, u.cgroup)
      }
    }

    // ---- systemctl
    const properties = (unit: string): Array<[string, string]> => {
      const u = units.get(fullName(unit))
      const n = fullName(unit)
      if (u === undefined) {
        return [["Id", n], ["Names", n], ["LoadState", "not-found"], ["ActiveState", "inactive"], ["SubState", "dead"], ["MainPID", "0"], ["NRestarts", "0"], ["MemoryMax", "infinity"], ["MemoryCurrent", "[not set]"], ["Result", "success"], ["ControlGroup", ""]]
      }
      const s = snapshot(n)!
      const current = cg.version === 1 ? readInt(nodePath.join(u.cgroup, "memory.usage_in_bytes")) : readInt(nodePath.join(u.cgroup, "memory.current"))
      return [
        ["Id", n],
        ["Names", n],
        ["LoadState", "loaded"],
        ["ActiveState", s.activeState],
        ["SubState", s.subState],
        ["MainPID", String(s.mainPid ?? 0)],
        ["NRestarts", String(s.restarts)],
        ["MemoryMax", s.memoryMax === undefined ? "infinity" : String(s.memoryMax)],
        ["MemoryCurrent", current === undefined || s.mainPid === undefined ? "[not set]" : String(current)],
        ["Result", s.result],
        ["ControlGroup", u.cgroup.slice(cg.parent.length) || "/"],
        ["ExecMainPID", String(s.mainPid ?? 0)]
      ]
    }

    const out = (stdout: string, exitCode = 0, stderr = ""): Shell.Output => ({ exitCode, stdout, stderr })

    const systemctl = (args: ReadonlyArray<string>): Effect.Effect<Shell.Output> =>
      Effect.promise(async () => {
        const props: Array<string> = []
        const rest: Array<string> = []
        let value = false
        for (let i = 0; i < args.length; i++) {
          const a = args[i]!
          if (a === "-p" || a === "--property") props.push(...(args[++i] ?? "").split(","))
          else if (a.startsWith("--property=")) props.push(...a.slice(11).split(","))
          else if (a.startsWith("-p") && a.length > 2) props.push(...a.slice(2).split(","))
          else if (a === "--value") value = true
          else if (a === "-P") {
            props.push(...(args[++i] ?? "").split(","))
            value = true
          } else if (["--runtime", "--no-pager", "--no-ask-password", "-q", "--quiet", "--no-block", "--plain", "--no-legend"].includes(a)) continue
          else if (a.startsWith("-")) return out("", 1, `systemctl: unrecognized option '${a}'\n`)
          else rest.push(a)
        }
        const [verb, ...names] = rest
        if (verb === undefined) return out("", 1, "Too few arguments.\n")
        const bad = names.find((n) => !UNIT_NAME.test(n))
        if (bad !== undefined && verb !== "set-property") return out("", 1, `Invalid unit name "${bad}" escaped as "${bad}".\n`)
        switch (verb) {
          case "is-active": {
            if (names.length === 0) return out("", 1, "Too few arguments.\n")
            const states = names.map((n) => units.get(fullName(n))?.activeState ?? "inactive")
            return out(states.map((s) => `${s}\n`).join(""), states.some((s) => s === "active") ? 0 : 3)
          }
          case "is-failed": {
            const states = names.map((n) => units.get(fullName(n))?.activeState ?? "inactive")
            return out(states.map((s) => `${s}\n`).join(""), states.some((s) => s === "failed") ? 0 : 1)
          }
          case "show": {
            if (names.length === 0) return out("", 1, "show without a unit: not supported by LocalSupervisor\n")
            const blocks = names.map((n) => {
              const all = properties(n)
              const chosen = props.length === 0 ? all : props.filter((p) => p !== "").map((p) => all.find(([k]) => k === p) ?? [p, ""] as [string, string])
              return chosen.map(([k, v]) => (value ? `${v}\n` : `${k}=${v}\n`)).join("")
            })
            return out(blocks.join("\n"))
          }
          case "start":
          case "stop":
          case "restart": {
            if (names.length === 0) return out("", 1, "Too few arguments.\n")
            for (const n of names) {
              const u = units.get(fullName(n))
              if (u === undefined) return out("", 5, `Failed to ${verb} ${fullName(n)}: Unit ${fullName(n)} not found.\n`)
            }
            for (const n of names) {
              const u = units.get(fullName(n))!
              if (verb === "start" && u.child !== undefined) continue
              if (verb !== "start") await stop(u)
              if (verb !== "stop") start(u)
            }
            return out("")
          }
          case "set-property": {
            const [n, ...assignments] = names
            if (n === undefined || assignments.length === 0) return out("", 1, "Too few arguments.\n")
            const u = units.get(fullName(n))
            if (u === undefined) return out("", 1, `Failed to set unit properties on ${fullName(n)}: Unit ${fullName(n)} not found.\n`)
            for (const a of assignments) {
              const eq = a.indexOf("=")
              const key = a.slice(0, eq)
              const raw = a.slice(eq + 1)
              if (eq <= 0) return out("", 1, `Failed to parse assignment: ${a}\n`)
              if (key !== "MemoryMax") return out("", 1, `Failed to set unit properties on ${u.spec.name}: LocalSupervisor sets MemoryMax only (${key})\n`)
              const bytes = raw === "infinity" ? undefined : parseBytes(raw)
              if (bytes === null) return out("", 1, `Failed to parse MemoryMax= value: ${raw}\n`)
              try {
                writeLimit(cg, u.cgroup, bytes)
              } catch (e) {
                const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "EIO"
                return out("", 1, `Failed to set unit properties on ${u.spec.name}: ${code === "EBUSY" ? "Device or resource busy" : code}\n`)
              }
            }
            return out("")
          }
          default:
            return out("", 1, `Unknown command verb ${verb}.\n`)
        }
      })

    const journalArgv = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
      const args = argv.slice(1)
      const located = args.some((a) => a === "-D" || a.startsWith("--directory") || a.startsWith("--file") || a === "-m" || a === "--merge")
      return [journalctl, ...(located ? [] : [`--directory=${journalDirectory}`]), ...args]
    }

    const shell = Shell.make(
      (request) => {
        const program = nodePath.basename(request.argv[0])
        if (program === "systemctl") return systemctl(request.argv.slice(1))
        const argv = program === "journalctl" ? journalArgv(request.argv) : request.argv
        return local.run(argv, {
          env: request.env,
          inheritEnv: request.inheritEnv,
          ...(request.stdin !== undefined ? { stdin: request.stdin } : {}),
          ...(request.cwd !== undefined ? { cwd: request.cwd } : {}),
          timeout: request.timeoutMillis,
          maxOutputBytes: request.maxOutputBytes
        }).pipe(Effect.mapError((e) => Shell.error(name, request, e.reason, {
          message: e.message.replace(/ on local( |$)/, ` on ${name}$1`),
          ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
          ...(e.signal !== undefined ? { signal: e.signal } : {}),
          ...(e.code !== undefined ? { code: e.code } : {}),
          ...(e.timeoutMillis !== undefined ? { timeoutMillis: e.timeoutMillis } : {})
        })))
      },
      { name }
    )

    return { shell, journalDirectory, cgroupVersion: cg.version, snapshot, units: [...units.keys()] }
  })

/** The pids in a cgroup (`cgroup.procs`). */
export const cgroupPids = (dir: string): Array<number> => {
  try {
    return fs.readFileSync(nodePath.join(dir, "cgroup.procs"), "utf8").split("\n").filter((l) => l !== "").map(Number)
  } catch {
    return []
  }
}

/** systemd's byte values: plain bytes or K/M/G/T with 1024 steps; null when malformed. */
export const parseBytes = (text: string): number | null => {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(text)
  if (m === null) return null
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as "" | "K" | "M" | "G" | "T"]
  return Math.floor(Number(m[1]) * mult)
}

/** A layer providing the supervisor's `Shell` and the `LocalSupervisor` itself; units stop with the layer. */
export const layer = (options: Options): Layer.Layer<Shell.Shell | LocalSupervisor, SupervisorError> =>
  Layer.effectContext(
    Effect.map(make(options), (s) => Context.make(LocalSupervisor, s).pipe(Context.add(Shell.Shell, Shell.Shell.of(s.shell))))
  )
