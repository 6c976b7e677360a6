/**
 * The disk cleaners: scans that list candidates under the policy's roots, and the acts — delete a
 * stale temp file, gzip an old log — each passing `Safety.check` right before it writes. Both
 * acts are core `ActionHandler`s (`host.tmp.delete`, `host.log.gzip`) with `observe`.
 *
 * Temp files: regular files whose newest of atime/mtime is older than 24 h; sockets, FIFOs and
 * devices are never candidates, nor anything under a `systemd-private-*` directory. Logs: regular
 * files older than 7 days by mtime, not already `.gz`, not an active log name. The gzip act writes
 * `<name>.gz` next to the original (never over an existing file), verifies the archive
 * decompresses to the bytes it read (SHA-256), and only then removes the original.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
import * as Safety from "../safety/Safety"
import type * as HostFs from "../fs/HostFs"

/** 24 hours: the age of a stale temp file. */
export const TMP_MIN_AGE_MS = 24 * 3600 * 1000
/** 7 days: the age of a log to gzip. */
export const LOG_MIN_AGE_MS = 7 * 24 * 3600 * 1000

/** The action kind that deletes one stale temp file. */
export const DELETE_TMP = "host.tmp.delete"
/** The action kind that gzips one old log. */
export const GZIP_LOG = "host.log.gzip"

/** Options of a scan. */
export interface ScanOptions {
  /** Epoch ms to age files against. */
  readonly now: number
  /** Minimum age in ms (defaults: 24 h for temp files, 7 d for logs). */
  readonly minAgeMs?: number
}

const walkRoot = (root: string, visit: (path: string, s: fs.BigIntStats) => void, skipDir: (name: string) => boolean): void => {
  let rootStat: fs.BigIntStats
  try {
    rootStat = fs.lstatSync(root, { bigint: true })
  } catch {
    return
  }
  if (!rootStat.isDirectory()) return
  const stack = [root]
  while (stack.length > 0) {
    const dir = stack.pop()!
    let names: Array<string>
    try {
      names = fs.readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names) {
      const p = nodePath.join(dir, name)
      let s: fs.BigIntStats
      try {
        s = fs.lstatSync(p, { bigint: true })
      } catch {
        continue
      }
      if (s.dev !== rootStat.dev) continue
      if (s.isDirectory()) {
        if (!skipDir(name)) stack.push(p)
      } else visit(p, s)
    }
  }
}

/** Stale temp files under the policy's roots (regular files only, never under `systemd-private-*`), oldest first. */
export const scanTmp = (policy: Safety.Policy, options: ScanOptions): ReadonlyArray<Safety.Candidate> => {
  const minAge = options.minAgeMs ?? TMP_MIN_AGE_MS
  const out: Array<Safety.Candidate> = []
  for (const root of policy.roots) {
    walkRoot(root, (p, s) => {
      if (!s.isFile()) return
      const newest = Math.max(Number(s.atimeMs), Number(s.mtimeMs))
      if (options.now - newest > minAge) out.push(Safety.candidateOf(p, s))
    }, (name) => name.startsWith("systemd-private-"))
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs)
}

/** Logs to gzip under the policy's roots: regular files older than 7 d, not `.gz`, not an active log name, oldest first. */
export const scanLogs = (policy: Safety.Policy, options: ScanOptions): ReadonlyArray<Safety.Candidate> => {
  const minAge = options.minAgeMs ?? LOG_MIN_AGE_MS
  const out: Array<Safety.Candidate> = []
  for (const root of policy.roots) {
    walkRoot(root, (p, s) => {
      if (!s.isFile() || p.endsWith(".gz") || Safety.ACTIVE_LOG_NAMES.includes(nodePath.basename(p))) return
      if (options.now - Number(s.mtimeMs) > minAge) out.push(Safety.candidateOf(p, s))
    }, () => false)
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs)
}

/** What an act did. */
export interface Done {
  readonly path: string
  /** Allocated bytes the file held (st_blocks × 512); the runbook measures the real gain with statfs. */
  readonly allocatedBytes: number
  /** For gzip: the archive's path. */
  readonly archive?: string
}

/** Deletes one temp file after `Safety.check` (unlink never follows a symlink). With `dryRun`, only checks. */
export const deleteFile = (policy: Safety.Policy, c: Safety.Candidate, dryRun = false): Effect.Effect<Done, Safety.Refused> =>
  Effect.flatMap(Safety.check(policy, c), (s) =>
    Effect.suspend(() => {
      const done: Done = { path: c.path, allocatedBytes: Number(s.blocks * 512n) }
      if (dryRun) return Effect.succeed(done)
      try {
        fs.unlinkSync(c.path)
      } catch (e) {
        return Effect.fail(new Safety.Refused({ path: c.path, reason: "vanished", message: `${c.path}: unlink failed: ${String(e)}` }))
      }
      return Effect.succeed(done)
    }))

/**
 * Gzips one log after `Safety.check`: reads it through an O_NOFOLLOW descriptor whose (dev, inode)
 * must match the candidate, writes `<path>.gz` (exclusive create), verifies the archive, re-checks
 * the original and only then removes it. With `dryRun`, only checks.
 */
export const gzipFile = (policy: Safety.Policy, c: Safety.Candidate, dryRun = false): Effect.Effect<Done, Safety.Refused> =>
  Effect.flatMap(Safety.check(policy, c), (s) => {
    const archive = `${c.path}.gz`
    const refuse = (reason: string, message: string) => new Safety.Refused({ path: c.path, reason, message: `${c.path}: ${message}` })
    if (dryRun) return Effect.succeed<Done>({ path: c.path, allocatedBytes: Number(s.blocks * 512n), archive })
    return Effect.tryPromise({
      try: async () => {
        const tmp = nodePath.join(nodePath.dirname(c.path), `.${nodePath.basename(c.path)}.gz.byteport-${process.pid}`)
        const src = await fs.promises.open(c.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
        let streaming = false
        try {
          const fst = await src.stat({ bigint: true })
          if (String(fst.dev) !== c.dev || String(fst.ino) !== c.ino) throw refuse("changed", "replaced before it was opened")
          if (fs.existsSync(archive) || isLink(archive)) throw refuse("changed", `${archive} already exists`)
          const hIn = createHash("sha256")
          const dst = await fs.promises.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o640)
          // from here the streams own (and close) both descriptors
          streaming = true
          const hashing = new Transform({
            transform(chunk: Buffer, _enc, done) {
              hIn.update(chunk)
              done(null, chunk)
            }
          })
          await pipeline(src.createReadStream(), hashing, zlib.createGzip(), dst.createWriteStream())
          const sync = await fs.promises.open(tmp, "r+")
          await sync.sync()
          await sync.close()
          // verify: the archive decompresses to exactly the bytes read
          const hOut = createHash("sha256")
          await pipeline(fs.createReadStream(tmp), zlib.createGunzip(), hOut)
          if (hOut.digest("hex") !== hIn.digest("hex")) {
            fs.unlinkSync(tmp)
            throw refuse("changed", "the archive did not verify")
          }
          await fs.promises.utimes(tmp, Number(fst.atimeMs) / 1000, Number(fst.mtimeMs) / 1000)
          if (fs.existsSync(archive) || isLink(archive)) {
            fs.unlinkSync(tmp)
            throw refuse("changed", `${archive} appeared meanwhile`)
          }
          fs.renameSync(tmp, archive)
        } catch (e) {
          fs.rmSync(tmp, { force: true })
          throw e
        } finally {
          if (!streaming) await src.close()
        }
      },
      catch: (e) => (e instanceof Safety.Refused ? e : refuse("vanished", `gzip failed: ${String(e)}`))
    }).pipe(
      // the original goes only if it is still exactly what was archived
      Effect.flatMap(() =>
        Safety.check(policy, c).pipe(
          // it changed while being archived (a late append): keep the original, drop the archive
          // (if the original vanished meanwhile, the archive is the only copy: keep it)
          Effect.tapError((r) => Effect.sync(() => r.reason !== "vanished" && fs.rmSync(archive, { force: true })))
        )
      ),
      Effect.flatMap(() =>
        Effect.try({ try: () => fs.unlinkSync(c.path), catch: (e) => refuse("vanished", `unlink failed: ${String(e)}`) })
      ),
      Effect.as<Done>({ path: c.path, allocatedBytes: Number(s.blocks * 512n), archive })
    )
  })

const isLink = (p: string): boolean => {
  try {
    return fs.lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}

const sameAs = (c: Safety.Candidate): "same" | "gone" | "other" => {
  try {
    const s = fs.lstatSync(c.path, { bigint: true })
    return s.isFile() && String(s.dev) === c.dev && String(s.ino) === c.ino && Number(s.size) === c.size && Number(s.mtimeMs) === c.mtimeMs ? "same" : "other"
  } catch {
    return "gone"
  }
}

const failed = (kind: string) => (r: Safety.Refused) => new ActionHandler.ActionFailed({ kind, message: r.message, conflict: r.reason !== "vanished" })

const result = (d: Done, dryRun: boolean): ActionHandler.HandlerResult => ({
  detail: `${dryRun ? "would " : ""}${d.archive !== undefined ? `gzip ${d.path} → ${d.archive}` : `delete ${d.path}`} (${d.allocatedBytes} bytes allocated)`,
  result: { path: d.path, allocatedBytes: d.allocatedBytes, ...(d.archive !== undefined ? { archive: d.archive } : {}), dryRun }
})

const applyWith = (kind: string, act: (c: Safety.Candidate, dryRun: boolean) => Effect.Effect<Done, Safety.Refused>) =>
(c: Safety.Candidate, ctx: ActionHandler.ApplyContext): Effect.Effect<ActionHandler.HandlerResult, ActionHandler.ActionFailed> =>
  act(c, ctx.dryRun).pipe(Effect.mapError(failed(kind)), Effect.map((d) => result(d, ctx.dryRun)))

/** The `host.tmp.delete` handler (params: a `Safety.Candidate`). observe: gone → Applied; unchanged → NotApplied. */
export const deleteTmpHandler = (policy: Safety.Policy): ActionHandler.ActionHandler =>
  ActionHandler.make({
    kind: DELETE_TMP,
    params: Safety.Candidate,
    apply: applyWith(DELETE_TMP, (c, dryRun) => deleteFile(policy, c, dryRun)),
    observe: (c) =>
      Effect.sync(() => {
        const now = sameAs(c)
        return now === "gone" ? ActionHandler.applied(`${c.path} is gone`)
          : now === "same" ? ActionHandler.notApplied(`${c.path} is unchanged`)
          : ActionHandler.unknown(`${c.path} is another file now`)
      })
  })

/** The `host.log.gzip` handler (params: a `Safety.Candidate`). observe: original gone and archive there → Applied; original unchanged and no archive → NotApplied. */
export const gzipLogHandler = (policy: Safety.Policy): ActionHandler.ActionHandler =>
  ActionHandler.make({
    kind: GZIP_LOG,
    params: Safety.Candidate,
    apply: applyWith(GZIP_LOG, (c, dryRun) => gzipFile(policy, c, dryRun)),
    observe: (c) =>
      Effect.sync(() => {
        const now = sameAs(c)
        const archived = fs.existsSync(`${c.path}.gz`)
        return now === "gone" && archived ? ActionHandler.applied(`${c.path}.gz exists, the original is gone`)
          : now === "same" && !archived ? ActionHandler.notApplied(`${c.path} is unchanged, no archive`)
          : ActionHandler.unknown(`${c.path}: ${now}, archive ${archived ? "present" : "absent"}`)
      })
  })

// ---------------------------------------------------------------------------------------------
// over a HostFs (another machine over SFTP, or this one): the temp-file cleaner

const walkRootOn = (
  hostFs: HostFs.HostFsShape,
  root: string,
  visit: (path: string, s: HostFs.Stats) => void,
  skipDir: (name: string) => boolean
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const rootStat = yield* Effect.option(hostFs.lstat(root))
    if (rootStat._tag === "None" || rootStat.value.kind !== "directory") return
    const rootFs = rootStat.value.dev !== undefined ? String(rootStat.value.dev) : yield* Effect.orElseSucceed(hostFs.filesystemId(root), () => "?")
    const stack = [root]
    while (stack.length > 0) {
      const dir = stack.pop()!
      const names = yield* Effect.orElseSucceed(hostFs.readdir(dir), () => [] as ReadonlyArray<string>)
      for (const name of names) {
        const p = nodePath.posix.join(dir, name)
        const s = yield* Effect.option(hostFs.lstat(p))
        if (s._tag === "None") continue
        if (s.value.kind === "directory") {
          if (skipDir(name)) continue
          // a directory on another filesystem (a mount point) is never entered
          const dirFs = s.value.dev !== undefined ? String(s.value.dev) : yield* Effect.orElseSucceed(hostFs.filesystemId(p), () => "")
          if (dirFs === rootFs) stack.push(p)
        } else if (s.value.dev === undefined || String(s.value.dev) === rootFs) visit(p, s.value)
      }
    }
  })

/** `scanTmp` over a HostFs: stale regular files under the policy's roots, never under `systemd-private-*`, oldest first. */
export const scanTmpOn = (hostFs: HostFs.HostFsShape, policy: Safety.Policy, options: ScanOptions): Effect.Effect<ReadonlyArray<Safety.Candidate>> =>
  Effect.gen(function*() {
    const minAge = options.minAgeMs ?? TMP_MIN_AGE_MS
    const out: Array<Safety.Candidate> = []
    for (const root of policy.roots) {
      yield* walkRootOn(hostFs, root, (p, s) => {
        if (s.kind !== "file") return
        if (options.now - Math.max(s.atimeMs, s.mtimeMs) > minAge) out.push(Safety.candidateOfStats(p, s))
      }, (name) => name.startsWith("systemd-private-"))
    }
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs)
  })

/** `deleteFile` over a HostFs: `Safety.checkOn` right before the unlink (which never follows a symlink). With `dryRun`, only checks. */
export const deleteFileOn = (
  hostFs: HostFs.HostFsShape,
  policy: Safety.Policy,
  c: Safety.Candidate,
  dryRun = false,
  openFiles?: OpenFiles
): Effect.Effect<Done, Safety.Refused> =>
  Effect.flatMap(Safety.checkOn(hostFs, policy, c, openFiles), (s) => {
    const done: Done = { path: c.path, allocatedBytes: Number(s.blocks !== undefined ? s.blocks * 512n : s.size) }
    if (dryRun) return Effect.succeed(done)
    return hostFs.unlink(c.path).pipe(
      Effect.mapError((e) => new Safety.Refused({ path: c.path, reason: "vanished", message: `${c.path}: unlink failed: ${e.code ?? e.message}` })),
      Effect.as(done)
    )
  })

/** One candidate's outcome in a batch. */
export interface Outcome {
  readonly candidate: Safety.Candidate
  readonly done?: Done
  readonly refused?: Safety.Refused
}

type OpenFiles = { readonly paths: ReadonlySet<string>; readonly inodes: ReadonlySet<string> }

/** A batch: one scan of the open files right before it, then `act` for each candidate in order. */
const batchOn = (
  hostFs: HostFs.HostFsShape,
  policy: Safety.Policy,
  candidates: ReadonlyArray<Safety.Candidate>,
  act: (c: Safety.Candidate, open: OpenFiles) => Effect.Effect<Done, Safety.Refused>
): Effect.Effect<ReadonlyArray<Outcome>> =>
  Effect.gen(function*() {
    const open = yield* Safety.openFilesOn(hostFs, policy.procRoot, candidates.some((c) => c.ino !== ""))
    return yield* Effect.forEach(candidates, (candidate) =>
      act(candidate, open).pipe(Effect.match({ onFailure: (refused) => ({ candidate, refused }), onSuccess: (done) => ({ candidate, done }) })))
  })

/**
 * Deletes a batch over a HostFs: one scan of the open files (`/proc/<pid>/fd`, taken right before
 * the batch: over SFTP it is one request per descriptor), then `deleteFileOn` for each candidate
 * in order; every other check still runs right before each unlink. Each candidate's outcome.
 */
export const deleteFilesOn = (
  hostFs: HostFs.HostFsShape,
  policy: Safety.Policy,
  candidates: ReadonlyArray<Safety.Candidate>,
  dryRun = false
): Effect.Effect<ReadonlyArray<Outcome>> =>
  batchOn(hostFs, policy, candidates, (c, open) => deleteFileOn(hostFs, policy, c, dryRun, open))

/** The `host.tmp.delete` handler over a HostFs (params: a `Safety.Candidate`). observe: gone → Applied; unchanged → NotApplied. */
export const deleteTmpHandlerOn = (hostFs: HostFs.HostFsShape, policy: Safety.Policy): ActionHandler.ActionHandler =>
  ActionHandler.make({
    kind: DELETE_TMP,
    params: Safety.Candidate,
    apply: applyWith(DELETE_TMP, (c, dryRun) => deleteFileOn(hostFs, policy, c, dryRun)),
    observe: (c) =>
      Effect.map(Effect.option(hostFs.lstat(c.path)), (s) => {
        if (s._tag === "None") return ActionHandler.applied(`${c.path} is gone`)
        const v = s.value
        const same = v.kind === "file" && Number(v.size) === c.size && v.mtimeMs === c.mtimeMs &&
          (v.dev === undefined || c.dev === "" || (String(v.dev) === c.dev && String(v.ino) === c.ino))
        return same ? ActionHandler.notApplied(`${c.path} is unchanged`) : ActionHandler.unknown(`${c.path} is another file now`)
      })
  })

/** `scanLogs` over a HostFs: regular files older than 7 d under the policy's roots, not `.gz`, not an active log name, oldest first. */
export const scanLogsOn = (hostFs: HostFs.HostFsShape, policy: Safety.Policy, options: ScanOptions): Effect.Effect<ReadonlyArray<Safety.Candidate>> =>
  Effect.gen(function*() {
    const minAge = options.minAgeMs ?? LOG_MIN_AGE_MS
    const out: Array<Safety.Candidate> = []
    for (const root of policy.roots) {
      yield* walkRootOn(hostFs, root, (p, s) => {
        if (s.kind !== "file" || p.endsWith(".gz") || Safety.ACTIVE_LOG_NAMES.includes(nodePath.posix.basename(p))) return
        if (options.now - s.mtimeMs > minAge) out.push(Safety.candidateOfStats(p, s))
      }, () => false)
    }
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs)
  })

/** The largest log `gzipFileOn` compresses (it holds the file in memory): 256 MiB. Larger logs are logrotate's. */
export const GZIP_ON_MAX_BYTES = 256 * 1024 * 1024

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex")

/**
 * `gzipFile` over a HostFs (this machine or another over SFTP): `Safety.checkOn`, read the log,
 * check it is still the candidate (size; dev/inode where known), compress, write `.<name>.gz.byteport-<pid>`
 * exclusively, read the archive back and verify it decompresses to the bytes read (SHA-256), keep
 * the original's times, rename it to `<name>.gz` (only if that name is free), re-check the
 * original with `Safety.checkOn` and only then unlink it (a change meanwhile removes the archive
 * and keeps the original). With `dryRun`, only checks. Logs over `GZIP_ON_MAX_BYTES` are refused.
 */
export const gzipFileOn = (
  hostFs: HostFs.HostFsShape,
  policy: Safety.Policy,
  c: Safety.Candidate,
  dryRun = false,
  /** A snapshot of `Safety.openFilesOn` (a batch's, taken right before it) instead of a /proc scan per check. */
  openFiles?: OpenFiles
): Effect.Effect<Done, Safety.Refused> =>
  Effect.gen(function*() {
    const refuse = (reason: string, message: string) => new Safety.Refused({ path: c.path, reason, message: `${c.path}: ${message}` })
    const s = yield* Safety.checkOn(hostFs, policy, c, openFiles)
    const archive = `${c.path}.gz`
    const done: Done = { path: c.path, allocatedBytes: Number(s.blocks !== undefined ? s.blocks * 512n : s.size), archive }
    if (dryRun) return done
    if (c.size > GZIP_ON_MAX_BYTES) return yield* refuse("too-large", `${c.size} bytes: larger than ${GZIP_ON_MAX_BYTES} (logrotate's)`)
    const absent = (p: string) => Effect.map(Effect.option(hostFs.lstat(p)), (o) => o._tag === "None")
    if (!(yield* absent(archive))) return yield* refuse("changed", `${archive} already exists`)
    const data = yield* Effect.mapError(hostFs.readFile(c.path), (e) => refuse("vanished", `read failed: ${e.message}`))
    if (data.length !== c.size) return yield* refuse("changed", `read ${data.length} bytes, the scan saw ${c.size}`)
    const gz = new Uint8Array(zlib.gzipSync(data))
    const digest = sha256(data)
    const tmp = nodePath.posix.join(nodePath.posix.dirname(c.path), `.${nodePath.posix.basename(c.path)}.gz.byteport-${process.pid}`)
    const dropTmp = Effect.ignore(hostFs.unlink(tmp))
    yield* Effect.mapError(hostFs.writeFileExclusive(tmp, gz, 0o640), (e) => refuse("changed", `cannot create ${tmp}: ${e.code ?? e.message}`))
    const verified = yield* Effect.match(hostFs.readFile(tmp), {
      onFailure: () => false,
      onSuccess: (back) => {
        try {
          return sha256(zlib.gunzipSync(back)) === digest
        } catch {
          return false
        }
      }
    })
    if (!verified) {
      yield* dropTmp
      return yield* refuse("changed", "the archive did not verify")
    }
    yield* Effect.ignore(hostFs.utimes(tmp, s.atimeMs, s.mtimeMs))
    if (!(yield* absent(archive))) {
      yield* dropTmp
      return yield* refuse("changed", `${archive} appeared meanwhile`)
    }
    yield* Effect.mapError(hostFs.rename(tmp, archive), (e) => refuse("changed", `rename failed: ${e.message}`)).pipe(Effect.tapError(() => dropTmp))
    // the original goes only if it is still exactly what was archived
    yield* Safety.checkOn(hostFs, policy, c, openFiles).pipe(
      Effect.tapError((r) => r.reason !== "vanished" ? Effect.ignore(hostFs.unlink(archive)) : Effect.void)
    )
    yield* Effect.mapError(hostFs.unlink(c.path), (e) => refuse("vanished", `unlink failed: ${e.message}`))
    return done
  })

/**
 * Gzips a batch over a HostFs: one scan of the open files (taken right before the batch; over SFTP
 * it is one request per descriptor), then `gzipFileOn` for each candidate in order; every other
 * check still runs right before each act. Each candidate's outcome.
 */
export const gzipFilesOn = (
  hostFs: HostFs.HostFsShape,
  policy: Safety.Policy,
  candidates: ReadonlyArray<Safety.Candidate>,
  dryRun = false
): Effect.Effect<ReadonlyArray<Outcome>> =>
  batchOn(hostFs, policy, candidates, (c, open) => gzipFileOn(hostFs, policy, c, dryRun, open))

/** The `host.log.gzip` handler over a HostFs (params: a `Safety.Candidate`). observe: original gone and archive there → Applied; unchanged, no archive → NotApplied. */
export const gzipLogHandlerOn = (hostFs: HostFs.HostFsShape, policy: Safety.Policy): ActionHandler.ActionHandler =>
  ActionHandler.make({
    kind: GZIP_LOG,
    params: Safety.Candidate,
    apply: applyWith(GZIP_LOG, (c, dryRun) => gzipFileOn(hostFs, policy, c, dryRun)),
    observe: (c) =>
      Effect.gen(function*() {
        const orig = yield* Effect.option(hostFs.lstat(c.path))
        const archived = (yield* Effect.option(hostFs.lstat(`${c.path}.gz`)))._tag === "Some"
        const same = orig._tag === "Some" && orig.value.kind === "file" && Number(orig.value.size) === c.size && orig.value.mtimeMs === c.mtimeMs
        return orig._tag === "None" && archived ? ActionHandler.applied(`${c.path}.gz exists, the original is gone`)
          : same && !archived ? ActionHandler.notApplied(`${c.path} is unchanged, no archive`)
          : ActionHandler.unknown(`${c.path}: ${orig._tag === "None" ? "gone" : "present"}, archive ${archived ? "present" : "absent"}`)
      })
  })
