/**
 * nginx: `nginx -t` validates, `nginx -s reload` (SIGHUP to the master) reloads, and the reload
 * is confirmed by a new worker generation: the master's PID is unchanged and at least one worker
 * PID that was not there before appears (old workers finish their connections and exit).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { poll, ReloadFailed, runChecked } from "./Server"
import type { Server } from "./Server"

/** How to reach one nginx. */
export interface Options {
  /** The main configuration file (`-c`). */
  readonly conf: string
  /** The error log given with `-e` (nginx ≥ 1.19.5), so nginx never opens its default log first. */
  readonly errorLog?: string | undefined
  /** The pid file of the master (as in the configuration's `pid`); without it the worker generation is not checked. */
  readonly pidFile?: string | undefined
  /** The nginx binary (default `nginx` on PATH). */
  readonly binary?: string | undefined
  /** How long to wait for the new worker generation (ms, default 10 000). */
  readonly reloadTimeoutMillis?: number | undefined
}

const base = (o: Options) => [o.binary ?? "nginx", "-c", o.conf, ...(o.errorLog !== undefined ? ["-e", o.errorLog] : [])]

/** `nginx -t -c <conf>`: the argv of the configuration test. */
export const testArgv = (o: Options): ReadonlyArray<string> => [...base(o), "-t"]
/** `nginx -c <conf> -s reload`: the argv of the reload. */
export const reloadArgv = (o: Options): ReadonlyArray<string> => [...base(o), "-s", "reload"]

/** The master's PID from the pid file, when it is alive. */
export const masterPid = (pidFile: string): number | undefined => {
  try {
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim())
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
    process.kill(pid, 0)
    return pid
  } catch {
    return undefined
  }
}

/** The master's live worker PIDs (`/proc/<pid>/task/<pid>/children`, "worker process" titles only). */
export const workerPids = (master: number): ReadonlyArray<number> => {
  try {
    const children = fs.readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/).filter((s) => s !== "").map(Number)
    return children.filter((pid) => {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
        return cmd.includes("worker process") && !/\) [ZX] /.test(stat)
      } catch {
        return false
      }
    })
  } catch {
    return []
  }
}

/** An nginx `Server`. */
export const make = (o: Options): Server => ({
  kind: "nginx",
  check: Effect.map(runChecked("nginx", testArgv(o), "nginx configuration test"), () => `nginx -t: ${o.conf} is valid`),
  reload: Effect.gen(function*() {
    // a failing configuration test reloads nothing
    yield* runChecked("nginx", testArgv(o), "nginx configuration test")
    const master = o.pidFile !== undefined ? masterPid(o.pidFile) : undefined
    if (o.pidFile !== undefined && master === undefined) {
      return yield* new ReloadFailed({ server: "nginx", message: `nginx is not running (no live master in ${o.pidFile})` })
    }
    const before = master !== undefined ? workerPids(master) : []
    yield* runChecked("nginx", reloadArgv(o), "nginx reload")
    if (master === undefined) return { server: "nginx", detail: `nginx -s reload (${o.conf})` }
    const fresh = yield* poll(Effect.sync(() => {
      const now = workerPids(master)
      const added = now.filter((p) => !before.includes(p))
      return added.length > 0 ? added : undefined
    }), o.reloadTimeoutMillis ?? 10_000)
    if (fresh === undefined) {
      return yield* new ReloadFailed({ server: "nginx", message: `nginx master ${master} started no new worker generation after -s reload` })
    }
    if (masterPid(o.pidFile!) !== master) {
      return yield* new ReloadFailed({ server: "nginx", message: `the nginx master changed during the reload (was ${master})` })
    }
    return { server: "nginx", detail: `nginx -s reload: master ${master}, workers ${before.join(",") || "-"} → ${fresh.join(",")}` }
  })
})
