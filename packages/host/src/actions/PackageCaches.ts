/**
 * Package-manager cache prune, opt-in (`packageCachePruneEnabled`, default false), each manager
 * one action through a core `Shell` (argv, never a shell string):
 *
 * | manager | argv | cache dir option |
 * |---|---|---|
 * | apt | `apt-get clean` | `-o Dir::Cache=<dir>` |
 * | yum | `yum clean all` | `--setopt=cachedir=<dir>` |
 * | dnf | `dnf clean all` | `--setopt=cachedir=<dir>` |
 * | pip | `pip cache purge` | env `PIP_CACHE_DIR=<dir>` |
 * | npm | `npm cache clean --force` | `--cache <dir>` |
 *
 * Without `cacheDir` each tool cleans its own default cache. dry_run runs nothing and reports the
 * cache's allocated bytes. `observe` measures the cache dir: nothing left (≤ a few KiB of
 * bookkeeping) → Applied, else NotApplied; without a known dir, Unknown.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"
import * as Measured from "./Measured"
import * as fs from "node:fs"
import * as nodePath from "node:path"

const res = (detail: string, result: ActionHandler.HandlerResult["result"]): ActionHandler.HandlerResult => ({ detail, result })

/** The action kind. */
export const KIND = "host.package-cache.prune"

/** The managers, in the seed's order (apt/yum/dnf, then pip and npm). */
export const MANAGERS = ["apt", "yum", "dnf", "pip", "npm"] as const
/** A manager. */
export type Manager = typeof MANAGERS[number]

/** Params: the manager, its cache dir (optional) and binary (optional). */
export const Params = Schema.Struct({
  manager: Schema.Literals(MANAGERS),
  cacheDir: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^\//))),
  bin: Schema.optionalKey(Schema.String)
})
/** Params: the manager, its cache dir (optional) and binary (optional). */
export type Params = typeof Params.Type

/** The default cache dirs (what `observe` and dry_run measure when no `cacheDir` is given). */
export const DEFAULT_CACHE_DIRS: Readonly<Record<Manager, string | undefined>> = {
  apt: "/var/cache/apt/archives",
  yum: "/var/cache/yum",
  dnf: "/var/cache/dnf",
  pip: undefined,
  npm: undefined
}

/** Pure: the command (argv and extra env). */
export const command = (p: Params): { readonly argv: ReadonlyArray<string>; readonly env: Readonly<Record<string, string>> } => {
  const d = p.cacheDir
  switch (p.manager) {
    case "apt":
      return { argv: [p.bin ?? "apt-get", ...(d !== undefined ? ["-o", `Dir::Cache=${d}`] : []), "clean"], env: {} }
    case "yum":
    case "dnf":
      return { argv: [p.bin ?? p.manager, ...(d !== undefined ? [`--setopt=cachedir=${d}`] : []), "clean", "all"], env: {} }
    case "pip":
      return { argv: [p.bin ?? "pip", "cache", "purge"], env: d !== undefined ? { PIP_CACHE_DIR: d } : {} }
    case "npm":
      return { argv: [p.bin ?? "npm", "cache", "clean", "--force", ...(d !== undefined ? ["--cache", d] : [])], env: {} }
  }
}

/** Allocated bytes of regular files under a dir (no symlink followed, one filesystem). */
export const cacheBytes = (dir: string): number => {
  let total = 0
  let dev: number
  try {
    const s = fs.lstatSync(dir)
    if (!s.isDirectory()) return 0
    dev = s.dev
  } catch {
    return 0
  }
  const stack = [dir]
  while (stack.length > 0) {
    const d = stack.pop()!
    let names: Array<string> = []
    try {
      names = fs.readdirSync(d)
    } catch {
      continue
    }
    for (const n of names) {
      try {
        const s = fs.lstatSync(nodePath.join(d, n))
        if (s.dev !== dev) continue
        if (s.isDirectory()) stack.push(nodePath.join(d, n))
        else if (s.isFile()) total += s.blocks * 512
      } catch {
        continue
      }
    }
  }
  return total
}

/** Below this a cache counts as empty (lock files, bookkeeping). */
export const EMPTY_BYTES = 64 * 1024

/** The `host.package-cache.prune` handler. */
export const spec = (shell: Shell.ShellShape): Measured.Spec<Params> => ({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const { argv, env } = command(p)
        const dir = p.cacheDir ?? DEFAULT_CACHE_DIRS[p.manager]
        if (ctx.dryRun) {
          const bytes = dir !== undefined ? cacheBytes(dir) : undefined
          return res(`would run ${Shell.formatArgv(argv)}${bytes !== undefined ? ` (${dir}: ${bytes} bytes)` : ""}`, { dryRun: true, manager: p.manager, argv: [...argv], ...(bytes !== undefined ? { cacheBytes: bytes } : {}) })
        }
        yield* Measured.run(shell, KIND, argv, { env, timeout: "5 minutes" })
        return res(`${Shell.formatArgv(argv)}: done`, { dryRun: false, manager: p.manager, argv: [...argv] })
      }),
    observe: (p) =>
      Effect.sync(() => {
        const dir = p.cacheDir ?? DEFAULT_CACHE_DIRS[p.manager]
        if (dir === undefined) return ActionHandler.unknown(`${p.manager}: no cache dir to look at`)
        const bytes = cacheBytes(dir)
        return bytes <= EMPTY_BYTES ? ActionHandler.applied(`${dir}: ${bytes} bytes left`) : ActionHandler.notApplied(`${dir}: ${bytes} bytes cached`)
      })
})

/** The action as a core `ActionHandler` (unmeasured; the disk runbooks register `Measured.measured(spec(…))`). */
export const handler = (shell: Shell.ShellShape): ActionHandler.ActionHandler => Measured.handlerOf(spec(shell))
