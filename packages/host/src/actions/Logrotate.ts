/**
 * logrotate for logs over 100 MB, with a generated config and its own state file, run through a
 * core `Shell` (the real `logrotate`). A candidate is one log file found by `scan` (regular file,
 * larger than the threshold, not `.gz`, not an active log name, under the log roots); right before
 * logrotate runs, `Safety.check` re-verifies it (no symlink, not safe-listed, not open, unchanged).
 *
 * The generated config (one stanza for exactly that path):
 *
 * ```
 * "<path>" {
 *   size <threshold>
 *   rotate 1000
 *   dateext
 *   dateformat .byteport-%Y%m%d-%s
 *   compress
 *   nocreate
 *   missingok
 *   notifempty
 *   nomail
 * }
 * ```
 *
 * The file is renamed to `<path>.byteport-<date>-<epoch>` and gzipped by logrotate (no
 * `copytruncate`: nothing is truncated); a date extension never shifts or deletes older
 * rotations. dry_run runs `logrotate -d` (logrotate's own debug mode: it changes nothing).
 * `observe`: the original gone (or another inode) and an archive `<path>.byteport-*.gz` there →
 * Applied; unchanged → NotApplied.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"
import * as Measured from "./Measured"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Safety from "../safety/Safety"

const res = (detail: string, result: ActionHandler.HandlerResult["result"]): ActionHandler.HandlerResult => ({ detail, result })

/** The action kind. */
export const KIND = "host.log.rotate"

/** Logs larger than this are rotated (100 MB, the seed's "gzip > 100MB"). */
export const DEFAULT_MIN_BYTES = 100 * 1024 * 1024

/** Params: the scan's candidate and the size threshold. */
export const Params = Schema.Struct({
  ...Safety.Candidate.fields,
  minBytes: Schema.Int.check(Schema.isGreaterThan(0))
})
/** Params: the scan's candidate and the size threshold. */
export type Params = typeof Params.Type

/** Pure: the generated logrotate config for one path. */
export const config = (path: string, minBytes: number): string =>
  [
    `${JSON.stringify(path)} {`,
    `  size ${minBytes}`,
    "  rotate 1000",
    "  dateext",
    "  dateformat .byteport-%Y%m%d-%s",
    "  compress",
    "  nocreate",
    "  missingok",
    "  notifempty",
    "  nomail",
    "}",
    ""
  ].join("\n")

/** Pure: the argv (`-d` for a dry run), given the config and state files. */
export const argv = (options: { readonly logrotate?: string; readonly configPath: string; readonly statePath: string; readonly dryRun?: boolean }): ReadonlyArray<string> => [
  options.logrotate ?? "logrotate",
  ...(options.dryRun ? ["-d"] : []),
  "-s",
  options.statePath,
  options.configPath
]

/** Logs over `minBytes` under the policy's roots (regular, not `.gz`, not an active name, not a rotation of ours), largest first. */
export const scan = (policy: Safety.Policy, minBytes = DEFAULT_MIN_BYTES): ReadonlyArray<Safety.Candidate> => {
  const out: Array<Safety.Candidate> = []
  for (const root of policy.roots) {
    let rootDev: bigint
    try {
      const rs = fs.lstatSync(root, { bigint: true })
      if (!rs.isDirectory()) continue
      rootDev = rs.dev
    } catch {
      continue
    }
    const stack = [root]
    while (stack.length > 0) {
      const dir = stack.pop()!
      let names: Array<string> = []
      try {
        names = fs.readdirSync(dir)
      } catch {
        continue
      }
      for (const n of names) {
        const p = nodePath.join(dir, n)
        let s: fs.BigIntStats
        try {
          s = fs.lstatSync(p, { bigint: true })
        } catch {
          continue
        }
        if (s.dev !== rootDev) continue
        if (s.isDirectory()) stack.push(p)
        else if (s.isFile() && Number(s.size) > minBytes && !n.endsWith(".gz") && !n.includes(".byteport-") && !Safety.ACTIVE_LOG_NAMES.includes(n)) {
          out.push(Safety.candidateOf(p, s))
        }
      }
    }
  }
  return out.sort((a, b) => b.size - a.size || a.path.localeCompare(b.path))
}

const archives = (path: string): ReadonlyArray<string> => {
  try {
    const base = nodePath.basename(path)
    return fs.readdirSync(nodePath.dirname(path)).filter((n) => n.startsWith(`${base}.byteport-`) && n.endsWith(".gz"))
  } catch {
    return []
  }
}

/** The `host.log.rotate` handler: `Safety.check`, then logrotate through the Shell with a generated config (in `workDir`, default a temp dir). */
export const spec = (shell: Shell.ShellShape, policy: Safety.Policy, options: { readonly logrotate?: string; readonly workDir?: string } = {}): Measured.Spec<Params> => ({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const c: Safety.Candidate = { path: p.path, dev: p.dev, ino: p.ino, size: p.size, mtimeMs: p.mtimeMs }
        yield* Safety.check(policy, c).pipe(
          Effect.mapError((r) => new ActionHandler.ActionFailed({ kind: KIND, message: r.message, conflict: r.reason !== "vanished" }))
        )
        const dir = fs.mkdtempSync(nodePath.join(options.workDir ?? os.tmpdir(), "byteport-logrotate-"))
        const configPath = nodePath.join(dir, "logrotate.conf")
        const statePath = nodePath.join(dir, "logrotate.state")
        fs.writeFileSync(configPath, config(p.path, p.minBytes), { mode: 0o600 })
        const cmd = argv({ ...(options.logrotate !== undefined ? { logrotate: options.logrotate } : {}), configPath, statePath, dryRun: ctx.dryRun })
        const r = yield* shell.run(cmd, { timeout: "10 minutes" }).pipe(
          Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))),
          Effect.mapError((e) => new ActionHandler.ActionFailed({ kind: KIND, message: `${Shell.formatArgv(cmd)}: ${e.message}` }))
        )
        if (r.exitCode !== 0) {
          return yield* new ActionHandler.ActionFailed({ kind: KIND, message: `logrotate exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}` })
        }
        const made = ctx.dryRun ? [] : archives(p.path)
        return res(`${ctx.dryRun ? "would rotate" : "rotated"} ${p.path} (${p.size} bytes > ${p.minBytes}) with logrotate${made.length > 0 ? ` → ${made.join(", ")}` : ""}`, { dryRun: ctx.dryRun, path: p.path, archives: [...made] })
      }),
    observe: (p) =>
      Effect.sync(() => {
        let now: "same" | "gone" | "other"
        try {
          const s = fs.lstatSync(p.path, { bigint: true })
          now = String(s.dev) === p.dev && String(s.ino) === p.ino && Number(s.size) === p.size && Number(s.mtimeMs) === p.mtimeMs ? "same" : "other"
        } catch {
          now = "gone"
        }
        const archived = archives(p.path).length > 0
        return now !== "same" && archived ? ActionHandler.applied(`${p.path} rotated (archive present)`)
          : now === "same" ? ActionHandler.notApplied(`${p.path} is unchanged`)
          : ActionHandler.unknown(`${p.path}: ${now}, no archive`)
      })
})

/** The action as a core `ActionHandler` (unmeasured; the disk runbooks register `Measured.measured(spec(…))`). */
export const handler = (shell: Shell.ShellShape, policy: Safety.Policy, options: { readonly logrotate?: string; readonly workDir?: string } = {}): ActionHandler.ActionHandler => Measured.handlerOf(spec(shell, policy, options))
