/**
 * A globalSetup for the whole run (issue 14 §9): the machine's /var/log, /var/tmp and
 * /var/cache/apt are snapshotted before any test and checked after the last: a file that was
 * removed, truncated (smaller) or gzipped (a new `<file>.gz` beside it) fails the run, whichever
 * test did it. Tests clean only temp roots of their own; this proves it for every package.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** The machine's directories no test may clean. */
export const MACHINE_DIRS = ["/var/log", "/var/tmp", "/var/cache/apt"] as const

/** Every regular file's size under the directories (recursive, depth ≤ 6, unreadable entries skipped). */
export const snapshot = (dirs: ReadonlyArray<string> = MACHINE_DIRS): Map<string, number> => {
  const out = new Map<string, number>()
  const walk = (d: string, depth: number) => {
    let names: Array<string> = []
    try {
      names = fs.readdirSync(d)
    } catch {
      return
    }
    for (const n of names) {
      const p = path.join(d, n)
      try {
        const s = fs.lstatSync(p)
        if (s.isDirectory() && depth < 6) walk(p, depth + 1)
        else if (s.isFile()) out.set(p, s.size)
      } catch {
        continue
      }
    }
  }
  for (const d of dirs) walk(d, 0)
  return out
}

/** What changed that must not have: removed, truncated or gzipped files (empty: nothing). */
export const violations = (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Array<string> => {
  const out: Array<string> = []
  for (const [p, size] of before) {
    if (!after.has(p)) out.push(`${p} was removed`)
    else if (after.get(p)! < size) out.push(`${p} shrank (${size} → ${after.get(p)} bytes)`)
    if (!before.has(`${p}.gz`) && after.has(`${p}.gz`)) out.push(`${p} was gzipped`)
  }
  return out
}

let before: Map<string, number> | undefined

/** Snapshots the machine's directories. */
export function setup(): void {
  before = snapshot()
}

/** Fails the run if a test removed, truncated or gzipped a file of the machine's. */
export function teardown(): void {
  if (before === undefined) return
  const found = violations(before, snapshot())
  if (found.length > 0) throw new Error(`the test run changed the machine's files (never allowed):\n${found.join("\n")}`)
}
