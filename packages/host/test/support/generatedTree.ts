/**
 * The generated trees of the cleaners' safety properties: a fake host root with `var/log` (the
 * policy's root, holding the safe-listed wtmp, btmp, lastlog and audit/audit.log) and `outside`,
 * filled from fast-check nodes with directories, old files, open files, symlinks in, out,
 * dangling and looping, hard links out of the roots and to a safe-listed file, odd names.
 * `check` asserts what no act may ever do; `dispose` closes the open files and removes the tree.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert } from "@effect/vitest"
import * as fc from "fast-check"
import * as Cleaners from "../../src/actions/Cleaners"
import * as Safety from "../../src/safety/Safety"

const DAY = 24 * 3600 * 1000
const KINDS = ["dir", "file", "open", "symIn", "symOut", "symOutDir", "dangling", "loop", "hardOut", "hardSafe"] as const
const NAMES = ["a", "x) y (z", "with space", "new\nline", "-dash", "ünï", "..dots", "*glob", "access.log", "z.gz", "systemd-private-1", ".hidden"]
const SAFE = ["wtmp", "btmp", "lastlog", "audit/audit.log"]
const LINKS = ["symIn", "symOut", "symOutDir", "dangling", "loop"]

/** One generated node: where it goes, its name, what it is, and which act its candidate gets. */
export interface TreeNode<A extends string> {
  readonly parent: number
  readonly name: string
  readonly kind: typeof KINDS[number]
  readonly act: A
}

/** Nodes whose act is one of `acts`. */
export const treeNode = <A extends string>(...acts: ReadonlyArray<A>): fc.Arbitrary<TreeNode<A>> =>
  fc.record({ parent: fc.nat(), name: fc.constantFrom(...NAMES), kind: fc.constantFrom(...KINDS), act: fc.constantFrom(...acts) })

interface Snap { readonly [path: string]: string }

/** Every path under dir (lstat, links not followed) with its kind, inode and content. */
export const snapshot = (dir: string): Snap => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      const p = nodePath.join(d, n)
      const s = fs.lstatSync(p)
      if (s.isSymbolicLink()) out[p] = `link→${fs.readlinkSync(p)}`
      else if (s.isDirectory()) {
        out[p] = "dir"
        walk(p)
      } else out[p] = `file ${s.ino} ${s.nlink} ${s.mtimeMs} ${fs.readFileSync(p, "base64")}`
    }
  }
  walk(dir)
  return out
}

/** A built tree. */
export interface Tree {
  readonly host: string
  readonly log: string
  readonly policy: Safety.Policy
  /** What the scans propose, plus an adversarial candidate for every path (links and directories included). */
  readonly candidates: ReadonlyArray<Safety.Candidate>
  /** Asserts: nothing outside changed, every safe-listed inode and name kept, open files unchanged and not archived, reachable symlinks still links. */
  readonly check: () => void
  readonly dispose: () => void
}

/** Builds the tree of `nodes` in a fresh temp dir. */
export const build = <A extends string>(nodes: ReadonlyArray<TreeNode<A>>): Tree => {
  const host = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-prop-")))
  const log = `${host}/var/log`
  const outside = `${host}/outside`
  const fds: Array<number> = []
  fs.mkdirSync(`${log}/audit`, { recursive: true })
  fs.mkdirSync(`${outside}/dir`, { recursive: true })
  const old = (Date.now() - 30 * DAY) / 1000
  for (const f of SAFE) fs.writeFileSync(`${log}/${f}`, `safe ${f}`)
  fs.writeFileSync(`${outside}/target`, "outside")
  fs.writeFileSync(`${outside}/dir/inner`, "outside inner")
  const dirs = [log]
  const paths: Array<string> = []
  const opened: Array<string> = []
  nodes.forEach((n, i) => {
    const parent = dirs[n.parent % dirs.length]!
    const p = nodePath.join(parent, `${n.name}${i}`)
    switch (n.kind) {
      case "dir": fs.mkdirSync(p); dirs.push(p); break
      case "file": fs.writeFileSync(p, `f${i}`); fs.utimesSync(p, old, old); break
      case "open": fs.writeFileSync(p, `o${i}`); fs.utimesSync(p, old, old); fds.push(fs.openSync(p, "r")); opened.push(p); break
      case "symIn": fs.symlinkSync(paths[0] ?? log, p); break
      case "symOut": fs.symlinkSync(`${outside}/target`, p); break
      case "symOutDir": fs.symlinkSync(`${outside}/dir`, p); dirs.push(p); break
      case "dangling": fs.symlinkSync(`${host}/nowhere/${i}`, p); break
      case "loop": fs.symlinkSync(parent, p); dirs.push(p); break
      case "hardOut": fs.linkSync(`${outside}/target`, p); break
      case "hardSafe": fs.linkSync(`${log}/wtmp`, p); break
    }
    paths.push(p)
  })
  const safeIno = SAFE.map((f) => fs.statSync(`${log}/${f}`).ino)
  const safeLinks = SAFE.map((f) => fs.statSync(`${log}/${f}`).nlink)
  const outsideBefore = snapshot(outside)
  const openBefore = opened.map((p) => fs.readFileSync(p, "base64"))
  const policy = Safety.policy({ roots: [log], hostRoot: host })
  const now = Date.now()
  const candidates = [...Cleaners.scanTmp(policy, { now }), ...Cleaners.scanLogs(policy, { now })]
  for (const q of [...paths, `${outside}/target`, `${outside}/dir/inner`, `${log}/wtmp`]) {
    try {
      candidates.push(Safety.candidateOf(q, fs.lstatSync(q, { bigint: true })))
    } catch {
      // a path below a looping or dangling link
    }
  }
  const check = () => {
    assert.deepStrictEqual(snapshot(outside), outsideBefore)
    for (const [i, f] of SAFE.entries()) {
      assert.strictEqual(fs.readFileSync(`${log}/${f}`, "utf8"), `safe ${f}`)
      assert.strictEqual(fs.statSync(`${log}/${f}`).ino, safeIno[i])
    }
    // every name of a safe-listed inode survives (hard links to wtmp inside the root included)
    assert.deepStrictEqual(SAFE.map((f) => fs.statSync(`${log}/${f}`).nlink), safeLinks)
    opened.forEach((q, i) => {
      assert.strictEqual(fs.readFileSync(q, "base64"), openBefore[i])
      assert.isFalse(fs.existsSync(`${q}.gz`))
      assert.isFalse(fs.readdirSync(nodePath.dirname(q)).some((n) => n.startsWith(`${nodePath.basename(q)}.byteport-`)))
    })
    // the symlinks themselves are never removed or gzipped
    nodes.forEach((n, i) => {
      if (LINKS.includes(n.kind)) {
        const dir = nodePath.dirname(paths[i]!)
        let reachable = true
        try {
          reachable = fs.realpathSync(dir).startsWith(log)
        } catch {
          reachable = false
        }
        if (reachable) assert.isTrue(fs.lstatSync(paths[i]!).isSymbolicLink(), `${paths[i]} is still a link`)
      }
    })
  }
  const dispose = () => {
    for (const fd of fds) fs.closeSync(fd)
    fs.rmSync(host, { recursive: true, force: true })
  }
  return { host, log, policy, candidates, check, dispose }
}
