import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { Action, TargetRef } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Cleaners from "../../src/actions/Cleaners"
import * as Logrotate from "../../src/actions/Logrotate"
import * as HostFs from "../../src/fs/HostFs"
import * as Safety from "../../src/safety/Safety"
import { describeWithServices } from "../support/sshd"

const DAY = 24 * 3600 * 1000
const KINDS = ["dir", "file", "open", "symIn", "symOut", "symOutDir", "dangling", "loop", "hardOut", "hardSafe"] as const
const NAMES = ["a", "x) y (z", "with space", "new\nline", "-dash", "ünï", "..dots", "*glob", "access.log", "z.gz", "systemd-private-1", ".hidden"]

const node = fc.record({
  parent: fc.nat(),
  name: fc.constantFrom(...NAMES),
  kind: fc.constantFrom(...KINDS),
  act: fc.constantFrom("gzipOn", "rotate")
})

interface Snap { readonly [path: string]: string }

/** Every path under dir (lstat, links not followed) with its kind, inode and content. */
const snapshot = (dir: string): Snap => {
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

/**
 * The safety properties of the log gzip over a HostFs and of logrotate (real, generated config),
 * over generated trees: symlinks in, out, dangling and looping; hard links out of the roots and to
 * safe-listed files; odd names; open files.
 */
describeWithServices(["hosttools"], "gzip over HostFs and logrotate over generated trees", (env) => {
  const rotateCtx = { action: Action.make({ kind: Logrotate.KIND, target: TargetRef.make("host.test", "x"), params: {}, idempotencyKey: "k", description: "d" }), dryRun: false, incidentId: "i" }
  const acted = { gzipOn: 0, rotate: 0 }
  it.effect("nothing outside the roots, no safe-listed inode, no open file is changed", () =>
    Effect.promise(async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(node, { minLength: 1, maxLength: 25 }), async (nodes) => {
          const host = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-prop-")))
          const log = `${host}/var/log`
          const outside = `${host}/outside`
          const fds: Array<number> = []
          try {
            fs.mkdirSync(`${log}/audit`, { recursive: true })
            fs.mkdirSync(`${outside}/dir`, { recursive: true })
            const old = (Date.now() - 30 * DAY) / 1000
            for (const f of ["wtmp", "btmp", "lastlog", "audit/audit.log"]) fs.writeFileSync(`${log}/${f}`, `safe ${f}`)
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
            const safeIno = ["wtmp", "btmp", "lastlog", "audit/audit.log"].map((f) => fs.statSync(`${log}/${f}`).ino)
            const safeLinks = ["wtmp", "btmp", "lastlog", "audit/audit.log"].map((f) => fs.statSync(`${log}/${f}`).nlink)
            const outsideBefore = snapshot(outside)
            const openBefore = opened.map((p) => fs.readFileSync(p, "base64"))
            const p = Safety.policy({ roots: [log], hostRoot: host })
            const now = Date.now()
            // what the scans propose, plus an adversarial candidate for every path (links and directories included)
            const candidates = [...Cleaners.scanTmp(p, { now }), ...Cleaners.scanLogs(p, { now })]
            for (const q of [...paths, `${outside}/target`, `${outside}/dir/inner`, `${log}/wtmp`]) {
              try {
                candidates.push(Safety.candidateOf(q, fs.lstatSync(q, { bigint: true })))
              } catch {
                // a path below a looping or dangling link
              }
            }
            const rotate = Logrotate.spec(Shell.local, p, { logrotate: env["BYTEPORT_TEST_LOGROTATE"]!, workDir: host })
            for (const [i, c] of candidates.entries()) {
              const act: Effect.Effect<void, unknown> = nodes[i % nodes.length]!.act === "rotate"
                ? Effect.asVoid(rotate.apply({ ...c, minBytes: 1 }, rotateCtx))
                : Effect.asVoid(Cleaners.gzipFileOn(HostFs.local, p, c))
              const exit = await Effect.runPromise(Effect.exit(act))
              if (exit._tag === "Success") acted[nodes[i % nodes.length]!.act]++
            }
            assert.deepStrictEqual(snapshot(outside), outsideBefore)
            for (const [i, f] of ["wtmp", "btmp", "lastlog", "audit/audit.log"].entries()) {
              assert.strictEqual(fs.readFileSync(`${log}/${f}`, "utf8"), `safe ${f}`)
              assert.strictEqual(fs.statSync(`${log}/${f}`).ino, safeIno[i])
            }
            // every name of a safe-listed inode survives (hard links to wtmp inside the root included)
            assert.deepStrictEqual(["wtmp", "btmp", "lastlog", "audit/audit.log"].map((f) => fs.statSync(`${log}/${f}`).nlink), safeLinks)
            opened.forEach((q, i) => {
              assert.strictEqual(fs.readFileSync(q, "base64"), openBefore[i])
              assert.isFalse(fs.existsSync(`${q}.gz`))
              assert.isFalse(fs.readdirSync(nodePath.dirname(q)).some((n) => n.startsWith(`${nodePath.basename(q)}.byteport-`)))
            })
            // the symlinks themselves are never removed or gzipped
            nodes.forEach((n, i) => {
              if (["symIn", "symOut", "symOutDir", "dangling", "loop"].includes(n.kind)) {
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
          } finally {
            for (const fd of fds) fs.closeSync(fd)
            fs.rmSync(host, { recursive: true, force: true })
          }
        }),
        { numRuns: 15 }
      )
      // not vacuous: both acts really ran on the files the rules allow
      assert.isAbove(acted.gzipOn, 0)
      assert.isAbove(acted.rotate, 0)
    }), 120_000)
})
