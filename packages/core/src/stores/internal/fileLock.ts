/**
 * A cross-process exclusive lock on one host: a lock file created atomically (its content is
 * written to a private temp file first, then hard-linked into place, which fails with EEXIST
 * when the lock is held), holding the owner's pid, process start identity, host, a random
 * nonce and the acquisition time.
 *
 * A lock is stale, and is broken, when its owner is gone: the pid no longer exists
 * (`kill(pid, 0)` gives ESRCH), the pid now belongs to another process (its start time in
 * /proc differs — pids are reused, and a restarted container agent is pid 1 again), or the
 * lock is older than `staleMs` (a hung or foreign owner). Breaking goes through a short-lived
 * second lock and re-reads the lock before unlinking it, so two waiters never both break a lock
 * and never remove a fresh one. The owner re-checks its nonce (`verify`) before each commit,
 * so a paused owner whose lock was broken by age abandons its write (the check and the rename
 * are separate system calls: this narrows the window, it does not close it).
 *
 * @internal
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"

/** What a lock file holds. */
export interface LockOwner {
  readonly pid: number
  /** The process start time in clock ticks since boot (/proc/<pid>/stat field 22), when known. */
  readonly startTicks?: string | undefined
  /** The process start time, epoch ms (informational). */
  readonly startedAt: number
  readonly hostname: string
  readonly nonce: string
  readonly acquiredAt: number
}

/** Reads a process's start time (ticks since boot) from /proc; undefined where /proc is absent. */
export const processStartTicks = (pid: number): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return fields[19]
  } catch {
    return undefined
  }
}

const selfStartTicks = processStartTicks(process.pid)
const selfStartedAt = Math.round(Date.now() - process.uptime() * 1000)
const hostname = os.hostname()

/** Is `pid` a live process (of any user)? */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Why a lock is stale, or undefined when its owner is alive and the lock is fresh. */
export const staleReason = (owner: LockOwner | undefined, mtimeMs: number, staleMs: number, now = Date.now()): string | undefined => {
  if (owner === undefined) return now - mtimeMs > Math.min(staleMs, 2_000) ? "unreadable lock file" : undefined
  if (owner.hostname === hostname) {
    if (owner.pid === process.pid) {
      if (owner.startTicks !== undefined && selfStartTicks !== undefined && owner.startTicks !== selfStartTicks) {
        return `pid ${owner.pid} was reused (a previous process with this pid held the lock)`
      }
      if (owner.startTicks === undefined && Math.abs(owner.startedAt - selfStartedAt) > 1_000) {
        return `pid ${owner.pid} was reused (a previous process with this pid held the lock)`
      }
    } else {
      if (!isAlive(owner.pid)) return `owner pid ${owner.pid} is dead`
      if (owner.startTicks !== undefined) {
        const ticks = processStartTicks(owner.pid)
        if (ticks !== undefined && ticks !== owner.startTicks) return `pid ${owner.pid} now belongs to another process`
      }
    }
  }
  if (now - owner.acquiredAt > staleMs) return `held for ${now - owner.acquiredAt} ms (> ${staleMs} ms)`
  return undefined
}

const parseOwner = (text: string): LockOwner | undefined => {
  try {
    const o = JSON.parse(text) as LockOwner
    return Number.isInteger(o.pid) && typeof o.nonce === "string" && typeof o.acquiredAt === "number" &&
        typeof o.hostname === "string" ? o : undefined
  } catch {
    return undefined
  }
}

/** Reads a lock file: its owner (undefined when unreadable) and mtime; undefined when absent. */
export const readLock = (path: string): { readonly owner: LockOwner | undefined; readonly mtimeMs: number } | undefined => {
  try {
    const text = fs.readFileSync(path, "utf8")
    const mtimeMs = fs.statSync(path).mtimeMs
    return { owner: parseOwner(text), mtimeMs }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw e
  }
}

/** Creates `path` atomically with `owner` as content; false when it already exists. */
const createExclusive = (path: string, owner: LockOwner): boolean => {
  const tmp = `${path}.${process.pid}.${owner.nonce}.tmp`
  fs.writeFileSync(tmp, JSON.stringify(owner), { mode: 0o644 })
  try {
    fs.linkSync(tmp, path)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
    throw e
  } finally {
    try {
      fs.unlinkSync(tmp)
    } catch {
      // already gone
    }
  }
}

const newOwner = (): LockOwner => ({
  pid: process.pid,
  startTicks: selfStartTicks,
  startedAt: selfStartedAt,
  hostname,
  nonce: randomBytes(12).toString("hex"),
  acquiredAt: Date.now()
})

const unlinkIfPresent = (path: string): void => {
  try {
    fs.unlinkSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
  }
}

/** The result of one attempt to take the lock. */
export type Attempt =
  | { readonly _tag: "Acquired"; readonly owner: LockOwner }
  | { readonly _tag: "Broken"; readonly reason: string }
  | { readonly _tag: "Busy"; readonly owner: LockOwner | undefined }

/**
 * One non-blocking attempt: takes the lock, or breaks it when stale (the caller then retries
 * at once and, once it holds the lock, repairs what the dead owner may have left), or reports
 * it busy.
 */
export const attempt = (path: string, staleMs: number): Attempt => {
  const owner = newOwner()
  if (createExclusive(path, owner)) return { _tag: "Acquired", owner }
  const current = readLock(path)
  if (current === undefined) return attempt(path, staleMs)
  const reason = staleReason(current.owner, current.mtimeMs, staleMs)
  if (reason === undefined) return { _tag: "Busy", owner: current.owner }
  // Break under a second, short-lived lock; re-read to be sure the stale lock is still there.
  const breaker = `${path}.break`
  const breakOwner = newOwner()
  if (!createExclusive(breaker, breakOwner)) {
    const b = readLock(breaker)
    if (b !== undefined && staleReason(b.owner, b.mtimeMs, Math.min(staleMs, 5_000)) !== undefined) {
      const again = readLock(breaker)
      if (again?.owner?.nonce === b.owner?.nonce && again?.mtimeMs === b.mtimeMs) unlinkIfPresent(breaker)
    }
    return { _tag: "Busy", owner: current.owner }
  }
  try {
    const again = readLock(path)
    if (again === undefined) return { _tag: "Broken", reason: "lock vanished" }
    const same = current.owner === undefined
      ? again.owner === undefined && again.mtimeMs === current.mtimeMs
      : again.owner?.nonce === current.owner.nonce
    if (!same) return { _tag: "Busy", owner: again.owner }
    unlinkIfPresent(path)
    return { _tag: "Broken", reason }
  } finally {
    const mine = readLock(breaker)
    if (mine?.owner?.nonce === breakOwner.nonce) unlinkIfPresent(breaker)
  }
}

/** Is the lock still held by `owner` (not broken by a waiter)? */
export const verify = (path: string, owner: LockOwner): boolean => readLock(path)?.owner?.nonce === owner.nonce

/** Releases the lock if `owner` still holds it. */
export const release = (path: string, owner: LockOwner): void => {
  if (verify(path, owner)) unlinkIfPresent(path)
}
