/**
 * A `du` walker: allocated bytes (st_blocks × 512, so a sparse file counts what it occupies, not
 * its length), each hard-linked inode counted once, symlinks never followed (lstat only, a link
 * counts its own blocks), one filesystem (entries on another st_dev are skipped, as `du -x`),
 * and a time budget: when it runs out the walk stops and the result is marked `partial`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as HostError from "./HostError"

/** One reported entry (a directory's total includes everything under it). */
export interface Entry {
  readonly path: string
  readonly kind: "directory" | "file" | "other"
  /** Allocated bytes (st_blocks × 512), hard links once. */
  readonly bytes: number
}

/** The result of a walk. */
export interface Result {
  readonly root: string
  /** Allocated bytes under the root, the root included. */
  readonly bytes: number
  /** Inodes counted (hard links once). */
  readonly inodes: number
  /** Entries at depth 1 … `depth` below the root (files and directories), largest first. */
  readonly entries: ReadonlyArray<Entry>
  /** True when the time budget ran out before the walk finished: the figures are lower bounds. */
  readonly partial: boolean
  /** Entries skipped because they live on another filesystem. */
  readonly otherFilesystem: number
  /** Entries that vanished or could not be read during the walk (counted, not fatal). */
  readonly unreadable: number
}

/** Options of `walk`. */
export interface Options {
  /** Depth of the reported entries (1: the root's children, as `du -a --max-depth=1`). Default 1. */
  readonly depth?: number
  /** Wall-clock budget in ms (default 10 000). */
  readonly budgetMillis?: number
  /** How many entries to keep, largest first (default 20). */
  readonly top?: number
}

interface Frame {
  readonly path: string
  readonly depth: number
  /** Index in `reported` of the ancestors at depth ≤ options.depth, to add this entry's bytes to. */
  readonly owners: ReadonlyArray<number>
}

/**
 * Walks `root`. Fails only when the root itself cannot be lstat'ed; anything below that vanishes
 * or is unreadable is counted in `unreadable`.
 */
export const walk = (root: string, options: Options = {}): Effect.Effect<Result, HostError.HostReadError> =>
  Effect.tryPromise({
    try: async () => {
      const maxDepth = options.depth ?? 1
      const deadline = Date.now() + (options.budgetMillis ?? 10_000)
      const st = await fs.promises.lstat(root, { bigint: true })
      const dev = st.dev
      const seen = new Set<string>()
      const reported: Array<{ path: string; kind: Entry["kind"]; bytes: number }> = []
      let bytes = 0
      let inodes = 0
      let partial = false
      let otherFilesystem = 0
      let unreadable = 0
      const count = (s: fs.BigIntStats, owners: ReadonlyArray<number>): void => {
        const key = `${s.dev}:${s.ino}`
        if (seen.has(key)) return
        seen.add(key)
        const b = Number(s.blocks * 512n)
        bytes += b
        inodes++
        for (const o of owners) reported[o]!.bytes += b
      }
      count(st, [])
      const stack: Array<Frame> = st.isDirectory() ? [{ path: root, depth: 0, owners: [] }] : []
      while (stack.length > 0) {
        if (Date.now() >= deadline) {
          partial = true
          break
        }
        const frame = stack.pop()!
        let names: Array<string>
        try {
          names = await fs.promises.readdir(frame.path)
        } catch {
          unreadable++
          continue
        }
        for (const name of names) {
          if (Date.now() >= deadline) {
            partial = true
            break
          }
          const p = nodePath.join(frame.path, name)
          let s: fs.BigIntStats
          try {
            s = await fs.promises.lstat(p, { bigint: true })
          } catch {
            unreadable++
            continue
          }
          if (s.dev !== dev) {
            otherFilesystem++
            continue
          }
          const depth = frame.depth + 1
          let owners = frame.owners
          if (depth <= maxDepth) {
            reported.push({ path: p, kind: s.isDirectory() ? "directory" : s.isFile() ? "file" : "other", bytes: 0 })
            owners = [...owners, reported.length - 1]
          }
          count(s, owners)
          if (s.isDirectory()) stack.push({ path: p, depth, owners })
        }
        if (partial) break
      }
      const entries = reported.sort((a, b) => b.bytes - a.bytes).slice(0, options.top ?? 20)
      return { root, bytes, inodes, entries, partial, otherFilesystem, unreadable } satisfies Result
    },
    catch: (e) => HostError.fromError(root, "lstat", e)
  })
