import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as zlib from "node:zlib"
import { assert, describe, it } from "@effect/vitest"
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Effect, Exit } from "effect"
import * as Permit from "../../core/src/Permit"
import * as Cleaners from "../src/actions/Cleaners"
import * as Safety from "../src/safety/Safety"

const DAY = 24 * 3600 * 1000
const now = Date.now()
const tmp = () => fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-clean-")))
const write = (p: string, body: string | Buffer, ageMs: number) => {
  fs.mkdirSync(nodePath.dirname(p), { recursive: true })
  fs.writeFileSync(p, body)
  const t = (now - ageMs) / 1000
  fs.utimesSync(p, t, t)
}
const reasonOf = (exit: Exit.Exit<unknown, Safety.Refused>): string | undefined =>
  Exit.isFailure(exit) ? (exit.cause.reasons[0] as { error?: Safety.Refused } | undefined)?.error?.reason : undefined

const runHandler = (h: ActionHandler.ActionHandler, c: Safety.Candidate, mode: "auto" | "dry_run") => {
  const action = Action.make({ kind: h.kind, target: TargetRef.make("host.file", c.path), params: { ...c }, description: `${h.kind} ${c.path}` })
  const permit = Permit.mint(Action.digest(action), "inc-1", Date.now() + 60_000, mode, `p-${Math.random()}`)
  return { action, run: h.run(action, permit) }
}

describe("Cleaners", () => {
  it.effect("scanTmp: files idle > 24 h only; never sockets, symlinks or anything under systemd-private-*", () =>
    Effect.gen(function*() {
      const root = tmp()
      write(`${root}/old`, "x", 2 * DAY)
      write(`${root}/fresh`, "x", 3600 * 1000)
      write(`${root}/systemd-private-abc-foo/old`, "x", 2 * DAY)
      write(`${root}/deep/er/old2`, "x", 2 * DAY)
      fs.symlinkSync(`${root}/old`, `${root}/link`)
      const server = net.createServer()
      yield* Effect.promise(() => new Promise<void>((r) => server.listen(`${root}/sock`, () => r())))
      const t = (now - 2 * DAY) / 1000
      fs.lutimesSync(`${root}/sock`, t, t)
      const p = Safety.policy({ roots: [root], hostRoot: root })
      const found = Cleaners.scanTmp(p, { now }).map((c) => nodePath.relative(root, c.path)).sort()
      assert.deepStrictEqual(found, ["deep/er/old2", "old"])
      server.close()
      fs.rmSync(root, { recursive: true, force: true })
    }))

  it.effect("policy: roots outside the prefix or through a symlink are refused", () =>
    Effect.sync(() => {
      const base = tmp()
      fs.mkdirSync(`${base}/real`)
      fs.symlinkSync(`${base}/real`, `${base}/via`)
      assert.throws(() => Safety.policy({ roots: [`${base}/real`], prefix: `${base}/other` }), /not under the prefix/)
      assert.throws(() => Safety.policy({ roots: [`${base}/via`] }), /not its real path/)
      assert.throws(() => Safety.policy({ roots: ["relative/dir"] }), /not absolute/)
      assert.deepStrictEqual(Safety.policy({ roots: [`${base}/real`], prefix: base }).roots, [`${base}/real`])
      fs.rmSync(base, { recursive: true, force: true })
    }))

  it.effect("the hard safe-list holds by path, by (dev, inode) through a hard link, and by active log name; configuration adds", () =>
    Effect.gen(function*() {
      const host = tmp()
      const log = `${host}/var/log`
      for (const f of ["wtmp", "btmp", "lastlog", "audit/audit.log", "nginx/access.log", "nginx/error.log", "auth.log", "app/keep.log", "app/old.log"]) write(`${log}/${f}`, "data\n", 30 * DAY)
      fs.linkSync(`${log}/wtmp`, `${log}/app/wtmp-copy.log`)
      const p = Safety.policy({ roots: [log], hostRoot: host, safeList: [`${log}/app/keep.log`] })
      const candidates = Cleaners.scanLogs(p, { now })
      const outcomes: Record<string, string> = {}
      for (const c of candidates) {
        const exit = yield* Effect.exit(Cleaners.gzipFile(p, c))
        outcomes[nodePath.relative(log, c.path)] = Exit.isSuccess(exit) ? "gzipped" : reasonOf(exit)!
      }
      assert.deepStrictEqual(outcomes, {
        "wtmp": "safe-listed", "btmp": "safe-listed", "lastlog": "safe-listed", "audit/audit.log": "safe-listed",
        "app/wtmp-copy.log": "safe-listed", "app/keep.log": "safe-listed", "app/old.log": "gzipped"
      })
      // active names are never even candidates, and refused if handed in
      const active = Safety.candidateOf(`${log}/auth.log`, fs.lstatSync(`${log}/auth.log`, { bigint: true }))
      assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.deleteFile(p, active))), "safe-listed")
      for (const f of ["wtmp", "btmp", "lastlog", "audit/audit.log", "nginx/access.log", "auth.log", "app/keep.log"]) assert.strictEqual(fs.readFileSync(`${log}/${f}`, "utf8"), "data\n")
      fs.rmSync(host, { recursive: true, force: true })
    }))

  it.effect("gzip: the archive verifies, keeps the mtime, the original goes; an open log is never gzipped", () =>
    Effect.gen(function*() {
      const root = tmp()
      const body = Buffer.from("line\n".repeat(20_000))
      write(`${root}/app.log.1`, body, 10 * DAY)
      write(`${root}/held.log.1`, "held\n", 10 * DAY)
      const fd = fs.openSync(`${root}/held.log.1`, "r")
      const p = Safety.policy({ roots: [root], hostRoot: root })
      const [app, held] = Cleaners.scanLogs(p, { now }).slice().sort((a, b) => a.path.localeCompare(b.path))
      const done = yield* Cleaners.gzipFile(p, app!)
      assert.strictEqual(done.archive, `${root}/app.log.1.gz`)
      assert.isFalse(fs.existsSync(`${root}/app.log.1`))
      assert.deepStrictEqual(zlib.gunzipSync(fs.readFileSync(`${root}/app.log.1.gz`)), body)
      assert.strictEqual(Math.round(fs.statSync(`${root}/app.log.1.gz`).mtimeMs), Math.round(app!.mtimeMs))
      assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.gzipFile(p, held!))), "open")
      assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.deleteFile(p, held!))), "open")
      assert.isFalse(fs.existsSync(`${root}/held.log.1.gz`))
      fs.closeSync(fd)
      // closed now: it may go
      yield* Cleaners.deleteFile(p, held!)
      assert.isFalse(fs.existsSync(`${root}/held.log.1`))
      // no temp file left beside the archive
      assert.deepStrictEqual(fs.readdirSync(root), ["app.log.1.gz"])
      fs.rmSync(root, { recursive: true, force: true })
    }))

  it.effect("a file swapped for a symlink between scan and act leaves the link's target intact", () =>
    Effect.gen(function*() {
      const root = tmp()
      const outside = tmp()
      write(`${outside}/precious`, "precious\n", 30 * DAY)
      write(`${root}/a/old.tmp`, "x", 2 * DAY)
      write(`${root}/b/old.log`, "y", 30 * DAY)
      const p = Safety.policy({ roots: [root], hostRoot: root })
      const [tmpC] = Cleaners.scanTmp(p, { now }).filter((c) => c.path.endsWith("old.tmp"))
      const [logC] = Cleaners.scanLogs(p, { now }).filter((c) => c.path.endsWith("old.log"))
      // the attack: file → symlink to the outside file; and a directory component → symlink
      fs.rmSync(tmpC!.path)
      fs.symlinkSync(`${outside}/precious`, tmpC!.path)
      fs.rmSync(`${root}/b`, { recursive: true })
      write(`${outside}/b/old.log`, "y", 30 * DAY)
      fs.symlinkSync(`${outside}/b`, `${root}/b`)
      assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.deleteFile(p, tmpC!))), "symlink")
      assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.gzipFile(p, logC!))), "symlink")
      assert.strictEqual(fs.readFileSync(`${outside}/precious`, "utf8"), "precious\n")
      assert.strictEqual(fs.readFileSync(`${outside}/b/old.log`, "utf8"), "y")
      assert.isFalse(fs.existsSync(`${outside}/b/old.log.gz`))
      assert.isTrue(fs.lstatSync(tmpC!.path).isSymbolicLink())
      // a file replaced by another regular file (new inode) is refused as changed
      write(`${root}/c/old.tmp`, "z", 2 * DAY)
      const [cC] = Cleaners.scanTmp(p, { now }).filter((c) => c.path.endsWith("c/old.tmp"))
      fs.rmSync(cC!.path)
      write(cC!.path, "other", 2 * DAY)
      assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.deleteFile(p, cC!))), "changed")
      assert.strictEqual(fs.readFileSync(cC!.path, "utf8"), "other")
      fs.rmSync(root, { recursive: true, force: true })
      fs.rmSync(outside, { recursive: true, force: true })
    }))

  it.effect("handlers: dry_run changes nothing; observe says NotApplied before and Applied after", () =>
    Effect.gen(function*() {
      const root = tmp()
      write(`${root}/t/old`, "x", 2 * DAY)
      write(`${root}/l/app.log.2`, "log\n", 10 * DAY)
      const p = Safety.policy({ roots: [root], hostRoot: root })
      const del = Cleaners.deleteTmpHandler(p)
      const gz = Cleaners.gzipLogHandler(p)
      const [t] = Cleaners.scanTmp(p, { now }).filter((c) => c.path.endsWith("t/old"))
      const [l] = Cleaners.scanLogs(p, { now }).filter((c) => c.path.endsWith("app.log.2"))
      const listing = () => JSON.stringify([fs.readdirSync(`${root}/t`), fs.readdirSync(`${root}/l`), fs.statSync(`${root}/l/app.log.2`).mtimeMs])
      const before = listing()
      for (const [h, c] of [[del, t!], [gz, l!]] as const) {
        const dry = runHandler(h, c, "dry_run")
        const r = yield* dry.run
        assert.strictEqual(r.result["dryRun"], true)
        assert.match(r.detail, /^would /)
        assert.strictEqual(listing(), before)
        const o = yield* h.observe!(dry.action, { incidentId: "inc-1", since: 0 })
        assert.strictEqual(o._tag, "NotApplied")
      }
      for (const [h, c] of [[del, t!], [gz, l!]] as const) {
        const real = runHandler(h, c, "auto")
        yield* real.run
        assert.strictEqual((yield* h.observe!(real.action, { incidentId: "inc-1", since: 0 }))._tag, "Applied")
      }
      assert.deepStrictEqual(fs.readdirSync(`${root}/t`), [])
      assert.deepStrictEqual(fs.readdirSync(`${root}/l`), ["app.log.2.gz"])
      // a refused act is an ActionFailed marked as a conflict
      write(`${root}/t/again`, "x", 2 * DAY)
      const [a] = Cleaners.scanTmp(p, { now })
      fs.appendFileSync(a!.path, "more")
      const exit = yield* Effect.exit(runHandler(del, a!, "auto").run)
      assert.match(JSON.stringify(exit), /ActionFailed/)
      assert.match(JSON.stringify(exit), /"conflict":true/)
      fs.rmSync(root, { recursive: true, force: true })
    }))
})
