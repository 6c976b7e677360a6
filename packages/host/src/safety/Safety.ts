/**
 * The safety core of the disk cleaners. Every file a cleaner touches passes `check` right before
 * the act:
 *
 * - it lies under one of the policy's roots, and every root lies under the configured `prefix`;
 * - no component from the root down to the file is a symlink (each is lstat'ed; the root's own
 *   path must already be its real path), so a link can never lead a cleaner out of its roots;
 * - it is a regular file on the root's filesystem (same st_dev) with a single name (nlink 1: another
 *   name of a hard-linked inode may lie outside the roots, and removing one name frees nothing);
 * - it is not on the hard safe-list — `/var/log/lastlog`, `wtmp`, `btmp`,
 *   `/var/log/audit/audit.log` and any active `access.log`, `error.log`, `auth.log` (the
 *   unrotated name) — matched by resolved path and by (dev, inode), so a hard link elsewhere is
 *   protected too; configuration adds paths, it cannot remove any;
 * - no process holds it open (every `/proc/<pid>/fd/*` link is stat'ed);
 * - its dev, inode, size and mtime are still those the scan saw.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import type * as HostFs from "../fs/HostFs"

/** The hard safe-list, relative to the host root: never deleted, gzipped or truncated. */
export const HARD_SAFE_LIST: ReadonlyArray<string> = ["/var/log/lastlog", "/var/log/wtmp", "/var/log/btmp", "/var/log/audit/audit.log"]

/** Active log names (the unrotated name): protected wherever they are. */
export const ACTIVE_LOG_NAMES: ReadonlyArray<string> = ["access.log", "error.log", "auth.log"]

/** A cleaner refused to touch a file, and why. */
export class Refused extends Schema.TaggedError<Refused>()("Refused", {
  path: Schema.String,
  /** `outside-roots`, `symlink`, `not-regular`, `other-filesystem`, `hard-linked`, `safe-listed`, `open`, `changed`, `vanished`. */
  reason: Schema.String,
  message: Schema.String
}) {}

/** What a cleaner may touch. */
export interface Policy {
  /** The directories a cleaner may act in (absolute, symlink-free, under `prefix`). */
  readonly roots: ReadonlyArray<string>
  /** Every root must lie under it (default `/`). */
  readonly prefix: string
  /** The host's root the hard safe-list is resolved against (default `/`; a temp dir in tests). */
  readonly hostRoot: string
  /** Extra safe-listed paths (added to the hard list; none can be removed). */
  readonly safeList: ReadonlyArray<string>
  /** Where processes are listed (default `/proc`). */
  readonly procRoot: string
}

/** The identity a scan recorded for a file: re-checked before acting. */
export const Candidate = Schema.Struct({
  path: Schema.String,
  /** st_dev and st_ino as decimal strings (they can exceed 2^53). */
  dev: Schema.String,
  ino: Schema.String,
  size: Schema.Number,
  mtimeMs: Schema.Number
})
/** A file a scan found. */
export type Candidate = typeof Candidate.Type

const within = (parent: string, child: string): boolean => {
  const rel = nodePath.relative(parent, child)
  return rel === "" || (!rel.startsWith("..") && !nodePath.isAbsolute(rel))
}

/**
 * Builds a policy. Fails (a defect: a configuration error) when a root is not absolute, not
 * under the prefix, or not its own real path (a symlink in the root's path).
 */
export const policy = (options: { readonly roots: ReadonlyArray<string>; readonly prefix?: string; readonly hostRoot?: string; readonly safeList?: ReadonlyArray<string>; readonly procRoot?: string }): Policy => {
  const prefix = nodePath.resolve(options.prefix ?? "/")
  const roots = options.roots.map((r) => {
    if (!nodePath.isAbsolute(r)) throw new Error(`cleaner root ${r} is not absolute`)
    const n = nodePath.resolve(r)
    if (!within(prefix, n)) throw new Error(`cleaner root ${r} is not under the prefix ${prefix}`)
    if (fs.realpathSync(n) !== n) throw new Error(`cleaner root ${r} is not its real path (a symlink in it)`)
    return n
  })
  return Object.freeze({ roots, prefix, hostRoot: nodePath.resolve(options.hostRoot ?? "/"), safeList: [...(options.safeList ?? [])], procRoot: options.procRoot ?? "/proc" })
}

const idOf = (s: { readonly dev: bigint; readonly ino: bigint }): string => `${s.dev}:${s.ino}`

/** The (dev, inode) keys and real paths of every safe-listed path that exists (hard list under hostRoot, then the policy's additions). */
export const safeListed = (p: Policy): { readonly paths: ReadonlySet<string>; readonly inodes: ReadonlySet<string> } => {
  const paths = new Set<string>()
  const inodes = new Set<string>()
  const all = [...HARD_SAFE_LIST.map((h) => nodePath.join(p.hostRoot, h)), ...p.safeList]
  for (const path of all) {
    paths.add(nodePath.resolve(path))
    try {
      paths.add(fs.realpathSync(path))
      inodes.add(idOf(fs.statSync(path, { bigint: true })))
    } catch {
      // absent: its path stays listed
    }
  }
  return { paths, inodes }
}

/** The (dev, inode) of every file some process holds open (stat of each `/proc/<pid>/fd/*`). */
export const openInodes = (procRoot = "/proc"): ReadonlySet<string> => {
  const out = new Set<string>()
  let pids: Array<string> = []
  try {
    pids = fs.readdirSync(procRoot).filter((n) => /^\d+$/.test(n))
  } catch {
    return out
  }
  for (const pid of pids) {
    let fds: Array<string>
    try {
      fds = fs.readdirSync(`${procRoot}/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        out.add(idOf(fs.statSync(`${procRoot}/${pid}/fd/${fd}`, { bigint: true })))
      } catch {
        // closed meanwhile
      }
    }
  }
  return out
}

/** lstat as a Candidate (the file as it is now). */
export const candidateOf = (path: string, s: fs.BigIntStats): Candidate => ({
  path,
  dev: String(s.dev),
  ino: String(s.ino),
  size: Number(s.size),
  mtimeMs: Number(s.mtimeMs)
})

/**
 * Checks, right before acting, that `c` may be touched (see the module doc). Succeeds with the
 * file's current lstat; fails with `Refused` naming the reason.
 */
export const check = (p: Policy, c: Candidate): Effect.Effect<fs.BigIntStats, Refused> =>
  Effect.suspend(() => {
    const refuse = (reason: string, message: string) => Effect.fail(new Refused({ path: c.path, reason, message: `${c.path}: ${message}` }))
    const path = nodePath.resolve(c.path)
    const root = p.roots.find((r) => within(r, path) && r !== path)
    if (root === undefined) return refuse("outside-roots", "not under a cleaner root")
    // lstat every component from the root down: none may be a symlink
    const rel = nodePath.relative(root, path).split(nodePath.sep)
    let cur = root
    let rootStat: fs.BigIntStats
    try {
      rootStat = fs.lstatSync(root, { bigint: true })
      if (rootStat.isSymbolicLink()) return refuse("symlink", `the root ${root} is a symlink`)
    } catch {
      return refuse("vanished", "the root is gone")
    }
    let s: fs.BigIntStats = rootStat
    for (const part of rel) {
      cur = nodePath.join(cur, part)
      try {
        s = fs.lstatSync(cur, { bigint: true })
      } catch {
        return refuse("vanished", `${cur} is gone`)
      }
      if (s.isSymbolicLink()) return refuse("symlink", `${cur} is a symlink`)
    }
    if (!s.isFile()) return refuse("not-regular", "not a regular file")
    if (s.dev !== rootStat.dev) return refuse("other-filesystem", "on another filesystem than its root")
    const safe = safeListed(p)
    if (safe.paths.has(path) || safe.inodes.has(idOf(s)) || ACTIVE_LOG_NAMES.includes(nodePath.basename(path))) {
      return refuse("safe-listed", "on the hard safe-list")
    }
    // another name of the same inode may lie outside the roots, and removing one name frees nothing
    if (s.nlink > 1n) return refuse("hard-linked", `has ${s.nlink} names (hard links)`)
    if (String(s.dev) !== c.dev || String(s.ino) !== c.ino || Number(s.size) !== c.size || Number(s.mtimeMs) !== c.mtimeMs) {
      return refuse("changed", "changed since the scan (dev, inode, size or mtime)")
    }
    if (openInodes(p.procRoot).has(idOf(s))) return refuse("open", "held open by a process")
    return Effect.succeed(s)
  })

/** Whether `path` lies under one of the policy's roots (lexically). */
export const inRoots = (p: Policy, path: string): boolean => p.roots.some((r) => within(r, nodePath.resolve(path)))

// ---------------------------------------------------------------------------------------------
// over a HostFs (another machine over SFTP, or this one)

/**
 * Builds a policy whose roots are checked on `hostFs` (each root absolute, under the prefix, its
 * own real path there). Fails with `Refused` (reason `bad-root`) instead of throwing.
 */
export const policyOn = (
  hostFs: HostFs.HostFsShape,
  options: { readonly roots: ReadonlyArray<string>; readonly prefix?: string; readonly hostRoot?: string; readonly safeList?: ReadonlyArray<string>; readonly procRoot?: string }
): Effect.Effect<Policy, Refused> =>
  Effect.gen(function*() {
    const prefix = nodePath.posix.resolve(options.prefix ?? "/")
    const roots: Array<string> = []
    for (const r of options.roots) {
      const bad = (message: string) => new Refused({ path: r, reason: "bad-root", message: `cleaner root ${r} ${message}` })
      if (!nodePath.posix.isAbsolute(r)) return yield* bad("is not absolute")
      const n = nodePath.posix.resolve(r)
      if (!within(prefix, n)) return yield* bad(`is not under the prefix ${prefix}`)
      const real = yield* Effect.mapError(hostFs.realpath(n), () => bad(`cannot be resolved on ${hostFs.name}`))
      if (real !== n) return yield* bad("is not its real path (a symlink in it)")
      roots.push(n)
    }
    return Object.freeze({ roots, prefix, hostRoot: nodePath.posix.resolve(options.hostRoot ?? "/"), safeList: [...(options.safeList ?? [])], procRoot: options.procRoot ?? "/proc" })
  })

const idOfStats = (s: HostFs.Stats): string | undefined => (s.dev !== undefined && s.ino !== undefined ? `${s.dev}:${s.ino}` : undefined)

/** The safe-list on `hostFs`: resolved paths, and (dev, inode) where the backend knows them. */
export const safeListedOn = (hostFs: HostFs.HostFsShape, p: Policy): Effect.Effect<{ readonly paths: ReadonlySet<string>; readonly inodes: ReadonlySet<string> }> =>
  Effect.gen(function*() {
    const paths = new Set<string>()
    const inodes = new Set<string>()
    for (const path of [...HARD_SAFE_LIST.map((h) => nodePath.posix.join(p.hostRoot, h)), ...p.safeList]) {
      paths.add(nodePath.posix.resolve(path))
      const real = yield* Effect.option(hostFs.realpath(path))
      if (real._tag === "Some") paths.add(real.value)
      const s = yield* Effect.option(hostFs.stat(path))
      if (s._tag === "Some") {
        const id = idOfStats(s.value)
        if (id !== undefined) inodes.add(id)
      }
    }
    return { paths, inodes }
  })

/**
 * What processes on `hostFs`'s machine hold open: every `/proc/<pid>/fd/*` link's target path
 * (without ` (deleted)`), and with `withInodes` its (dev, inode) (a backend that knows them).
 */
export const openFilesOn = (hostFs: HostFs.HostFsShape, procRoot = "/proc", withInodes = false): Effect.Effect<{ readonly paths: ReadonlySet<string>; readonly inodes: ReadonlySet<string> }> =>
  Effect.gen(function*() {
    const paths = new Set<string>()
    const inodes = new Set<string>()
    const pids = (yield* Effect.orElseSucceed(hostFs.readdir(procRoot), () => [] as ReadonlyArray<string>)).filter((n) => /^\d+$/.test(n))
    yield* Effect.forEach(pids, (pid) =>
      Effect.gen(function*() {
        const fds = yield* Effect.orElseSucceed(hostFs.readdir(`${procRoot}/${pid}/fd`), () => [] as ReadonlyArray<string>)
        yield* Effect.forEach(fds, (fd) =>
          Effect.gen(function*() {
            const link = `${procRoot}/${pid}/fd/${fd}`
            const target = yield* Effect.option(hostFs.readlink(link))
            if (target._tag === "Some" && target.value.startsWith("/")) paths.add(target.value.replace(/ \(deleted\)$/, ""))
            if (withInodes) {
              const s = yield* Effect.option(hostFs.stat(link))
              if (s._tag === "Some") {
                const id = idOfStats(s.value)
                if (id !== undefined) inodes.add(id)
              }
            }
          }), { concurrency: "unbounded", discard: true })
      }), { concurrency: 32, discard: true })
    return { paths, inodes }
  })

/**
 * `check` over a HostFs: the same rules, with what the backend can tell. Over SFTP (no device,
 * inode or link count): one filesystem by statvfs `f_fsid`, the safe-list by resolved path and
 * active log name, open files by their `/proc/<pid>/fd` link targets, "unchanged" by size and
 * mtime (whole seconds); the hard-link rule applies where the link count is known (removing one
 * name of a hard-linked file leaves the data under its other names).
 */
export const checkOn = (
  hostFs: HostFs.HostFsShape,
  p: Policy,
  c: Candidate,
  /** A snapshot of `openFilesOn` to use instead of scanning `/proc` again (a batch's, taken right before it). */
  openFiles?: { readonly paths: ReadonlySet<string>; readonly inodes: ReadonlySet<string> }
): Effect.Effect<HostFs.Stats, Refused> =>
  Effect.gen(function*() {
    const refuse = (reason: string, message: string) => new Refused({ path: c.path, reason, message: `${c.path}: ${message}` })
    const path = nodePath.posix.resolve(c.path)
    const root = p.roots.find((r) => within(r, path) && r !== path)
    if (root === undefined) return yield* refuse("outside-roots", "not under a cleaner root")
    const rootStat = yield* Effect.mapError(hostFs.lstat(root), () => refuse("vanished", "the root is gone"))
    if (rootStat.kind === "symlink") return yield* refuse("symlink", `the root ${root} is a symlink`)
    let s = rootStat
    let cur = root
    for (const part of nodePath.posix.relative(root, path).split("/")) {
      cur = nodePath.posix.join(cur, part)
      s = yield* Effect.mapError(hostFs.lstat(cur), () => refuse("vanished", `${cur} is gone`))
      if (s.kind === "symlink") return yield* refuse("symlink", `${cur} is a symlink`)
    }
    if (s.kind !== "file") return yield* refuse("not-regular", "not a regular file")
    let sameFs: boolean
    if (s.dev !== undefined && rootStat.dev !== undefined) sameFs = s.dev === rootStat.dev
    else {
      const a = yield* Effect.option(hostFs.filesystemId(path))
      const b = yield* Effect.option(hostFs.filesystemId(root))
      sameFs = a._tag === "Some" && b._tag === "Some" && a.value === b.value
    }
    if (!sameFs) return yield* refuse("other-filesystem", "on another filesystem than its root")
    const safe = yield* safeListedOn(hostFs, p)
    const id = idOfStats(s)
    if (safe.paths.has(path) || (id !== undefined && safe.inodes.has(id)) || ACTIVE_LOG_NAMES.includes(nodePath.posix.basename(path))) {
      return yield* refuse("safe-listed", "on the hard safe-list")
    }
    if (s.nlink !== undefined && s.nlink > 1) return yield* refuse("hard-linked", `has ${s.nlink} names (hard links)`)
    const identityChanged = s.dev !== undefined && c.dev !== "" && (String(s.dev) !== c.dev || String(s.ino) !== c.ino)
    if (identityChanged || Number(s.size) !== c.size || s.mtimeMs !== c.mtimeMs) {
      return yield* refuse("changed", "changed since the scan (dev, inode, size or mtime)")
    }
    const open = openFiles ?? (yield* openFilesOn(hostFs, p.procRoot, id !== undefined))
    if (open.paths.has(path) || (id !== undefined && open.inodes.has(id))) return yield* refuse("open", "held open by a process")
    return s
  })

/** A scan's record of a file seen through a HostFs (dev and ino empty where the backend does not know them). */
export const candidateOfStats = (path: string, s: HostFs.Stats): Candidate => ({
  path,
  dev: s.dev !== undefined ? String(s.dev) : "",
  ino: s.ino !== undefined ? String(s.ino) : "",
  size: Number(s.size),
  mtimeMs: s.mtimeMs
})
