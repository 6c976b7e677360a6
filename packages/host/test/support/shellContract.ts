/**
 * The `Shell` contract: what every Shell implementation (Shell.local, Ssh, LocalSupervisor …)
 * must do. `shellContract(getShell)` registers the tests in the current `describe`.
 * Every shell under test runs on this machine (the SSH one through the loopback sshd), so
 * leftover processes are looked for in this machine's /proc.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { Shell } from "@byteport/core/shell"
import * as fc from "fast-check"

/** Live processes (not zombies) whose command line contains `token`. */
export const processesWith = (token: string): Array<number> => {
  const out: Array<number> = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, "utf8")
      if (!cmd.includes(token)) continue
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
      if (state !== "Z" && Number(name) !== process.pid) out.push(Number(name))
    } catch {
      // gone
    }
  }
  return out
}

/**
 * The processes with `token` still alive after a short settle (a SIGKILLed process takes a moment
 * to become a zombie); a process left running is still there after it.
 */
const leftover = (token: string): Effect.Effect<Array<number>> =>
  Effect.gen(function*() {
    for (let i = 0; i < 50; i++) {
      if (processesWith(token).length === 0) return []
      yield* Effect.sleep("20 millis")
    }
    return processesWith(token)
  })

/** A fractional sleep length unique to one test: `sleep <token>` is findable in /proc. */
const uniqueSleep = (): string => `${900 + Math.floor(Math.random() * 99)}.${Date.now() % 1_000_000}${Math.floor(Math.random() * 1000)}`

/** Arguments that are hard to pass through a shell: quotes, expansions, globs, newlines, unicode, empty. */
export const hostileArg: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom("'", "\"", "$", "`", "\\", " ", "\t", "\n", "*", "?", "[", "]", ";", "&", "|", "<", ">", "(", ")", "{", "}", "~", "!", "#", "%", "=", "-", "a", "é", "😀"),
    maxLength: 20
  }),
  fc.constantFrom("", "'", "''", "'\\''", "$(id)", "`id`", "${HOME}", "$1", "-n", "--", "*", "\n", " leading", "trailing ", "a'b\"c")
).map((s) => s.replace(/\0/g, ""))

/** Registers the Shell contract tests for one implementation. */
export const shellContract = (getShell: () => Shell.ShellShape, options: { readonly runs?: number } = {}): void => {
  const run = (argv: ReadonlyArray<string>, o?: Shell.Options) => Effect.suspend(() => getShell().run(argv, o))

  it.live("argv round-trip (property): printf '%s\\0' prints every argument exactly", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.array(hostileArg, { minLength: 1, maxLength: 6 }), { minLength: 8, maxLength: 8 }), async (argvs) => {
          // eight commands at once: a remote shell is slow to start, and concurrency is part of the contract
          const rs = await Effect.runPromise(Effect.forEach(argvs, (args) => run(["printf", "%s\\0", ...args]), { concurrency: 8 }))
          rs.forEach((r, i) => {
            assert.strictEqual(r.exitCode, 0)
            assert.deepStrictEqual(r.stdout.split("\0").slice(0, -1), argvs[i])
          })
        }),
        { numRuns: options.runs ?? 6 }
      )
    ), 120_000)

  it.live("env values round-trip; inheritEnv false passes only the given variables", () =>
    Effect.gen(function*() {
      const value = "it's $HOME `id` \"q\" \\ *\nline2"
      const r = yield* run(["printenv", "BYTEPORT_CONTRACT_X"], { env: { BYTEPORT_CONTRACT_X: value } })
      assert.strictEqual(r.stdout, `${value}\n`)
      const only = yield* run(["/usr/bin/env"], { env: { BYTEPORT_CONTRACT_Y: "1" }, inheritEnv: false })
      assert.include(only.stdout, "BYTEPORT_CONTRACT_Y=1")
      assert.notInclude(only.stdout, "HOME=")
    }))

  it.live("exit codes are results; runOk turns non-zero into NonZeroExit", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* run(["true"])).exitCode, 0)
      assert.strictEqual((yield* run(["sh", "-c", "exit 3"])).exitCode, 3)
      assert.strictEqual((yield* run(["sh", "-c", "echo out; echo err >&2; exit 42"])).exitCode, 42)
      const r = yield* run(["sh", "-c", "echo out; echo err >&2; exit 42"])
      assert.strictEqual(r.stdout, "out\n")
      assert.strictEqual(r.stderr, "err\n")
      const failed = yield* Effect.exit(Shell.runOk(["sh", "-c", "exit 5"]).pipe(Effect.provide(Shell.layer(getShell()))))
      assert.isTrue(Exit.isFailure(failed))
      const e = yield* Effect.flip(Shell.runOk(["sh", "-c", "exit 5"]).pipe(Effect.provide(Shell.layer(getShell()))))
      assert.strictEqual(e.reason, "NonZeroExit")
      assert.strictEqual(e.exitCode, 5)
    }))

  it.live("a program that does not exist fails SpawnFailed; stdin and cwd are honoured", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(run(["/nonexistent/byteport-no-such-program", "secret-arg"]))
      assert.strictEqual(e.reason, "SpawnFailed")
      assert.notInclude(e.message, "secret-arg")
      const cat = yield* run(["cat"], { stdin: "hello\nworld" })
      assert.strictEqual(cat.stdout, "hello\nworld")
      const noStdin = yield* run(["cat"])
      assert.strictEqual(noStdin.stdout, "")
      const dir = fs.realpathSync(os.tmpdir())
      assert.strictEqual((yield* run(["pwd"], { cwd: dir })).stdout, `${dir}\n`)
    }))

  it.live("a command killed by a signal nobody here sent fails Killed, naming the signal; exit 137 stays an exit code", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(run(["sh", "-c", "kill -KILL $$"]))
      assert.strictEqual(e.reason, "Killed")
      assert.strictEqual(e.signal, "SIGKILL")
      const t = yield* Effect.flip(run(["sh", "-c", "kill -TERM $$"]))
      assert.strictEqual(t.signal, "SIGTERM")
      assert.strictEqual((yield* run(["sh", "-c", "exit 137"])).exitCode, 137)
    }))

  it.live("output beyond maxOutputBytes is cut and flagged, per stream", () =>
    Effect.gen(function*() {
      const r = yield* run(["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; head -c 5000 /dev/zero | tr '\\0' b >&2"], { maxOutputBytes: 1000 })
      assert.strictEqual(r.exitCode, 0)
      assert.strictEqual(r.stdout, "a".repeat(1000))
      assert.isTrue(r.stdoutTruncated)
      assert.strictEqual(r.stderr, "b".repeat(1000))
      assert.isTrue(r.stderrTruncated)
      const small = yield* run(["printf", "xyz"], { maxOutputBytes: 3 })
      assert.strictEqual(small.stdout, "xyz")
      assert.isFalse(small.stdoutTruncated)
    }))

  it.live("a timed-out command fails TimedOut and leaves no process behind (children included)", () =>
    Effect.gen(function*() {
      const t = uniqueSleep()
      const started = Date.now()
      const e = yield* Effect.flip(run(["sh", "-c", `sleep ${t} & sleep ${t}; wait`], { timeout: "400 millis" }))
      assert.strictEqual(e.reason, "TimedOut")
      assert.strictEqual(e.timeoutMillis, 400)
      assert.isBelow(Date.now() - started, 10_000)
      assert.deepStrictEqual(yield* leftover(`sleep\0${t}`), [])
    }))

  it.live("a command that ignores SIGTERM is SIGKILLed after the grace period", () =>
    Effect.gen(function*() {
      const t = uniqueSleep()
      const e = yield* Effect.flip(run(["sh", "-c", `trap '' TERM; sleep ${t}`], { timeout: "300 millis" }))
      assert.strictEqual(e.reason, "TimedOut")
      assert.deepStrictEqual(yield* leftover(`sleep\0${t}`), [])
    }))

  it.live("interrupting a run kills the command", () =>
    Effect.gen(function*() {
      const t = uniqueSleep()
      const fiber = yield* Effect.forkChild(run(["sleep", t], { timeout: "60 seconds" }))
      // wait until it really runs, then interrupt
      for (let i = 0; i < 200 && processesWith(`sleep\0${t}`).length === 0; i++) yield* Effect.sleep("10 millis")
      assert.isAbove(processesWith(`sleep\0${t}`).length, 0)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* leftover(`sleep\0${t}`), [])
    }))

  it.live("concurrent commands keep their outputs apart", () =>
    Effect.gen(function*() {
      const rs = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) => run(["sh", "-c", `echo out-${i}; echo err-${i} >&2; exit ${i}`]), { concurrency: 8 })
      rs.forEach((r, i) => {
        assert.strictEqual(r.stdout, `out-${i}\n`)
        assert.strictEqual(r.stderr, `err-${i}\n`)
        assert.strictEqual(r.exitCode, i)
      })
    }))

  it.live("a file argument path with odd characters reaches the program intact", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-contract-"))
      const file = nodePath.join(dir, "x) y (z 'q' $HOME *")
      fs.writeFileSync(file, "content")
      try {
        const r = yield* run(["cat", "--", file])
        assert.strictEqual(r.stdout, "content")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
}
