/**
 * `Shell.local` with real commands on this machine: exit codes, stdout/stderr, stdin, env, cwd,
 * argv never interpreted by a shell, typed errors naming only argv[0], timeouts and interruption
 * that kill the process (and its process group), the output cap, and redacted transcripts.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { Redactor } from "@byteport/core"
import { Shell } from "@byteport/core/shell"

const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-shell-"))
let files = 0
const pidFile = () => nodePath.join(tmp, `pid-${++files}`)

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Waits (real time) until `f` holds, up to `ms`. */
const eventually = (f: () => boolean, ms = 3_000) =>
  Effect.promise(async () => {
    const end = Date.now() + ms
    while (Date.now() < end) {
      if (f()) return true
      await new Promise((r) => setTimeout(r, 20))
    }
    return f()
  })

const readPids = (file: string): Array<number> =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split(/\s+/).filter((s) => s !== "").map(Number) : []

const run = (argv: ReadonlyArray<string>, options?: Shell.Options) => Shell.run(argv, options).pipe(Effect.provide(Shell.layerLocal))

describe("Shell.local: results", () => {
  it.live("returns the exit code, stdout and stderr; a non-zero exit is a result, not an error", () =>
    Effect.gen(function*() {
      const r = yield* run(["sh", "-c", "echo out; echo err >&2; exit 3"])
      assert.strictEqual(r.exitCode, 3)
      assert.strictEqual(r.stdout, "out\n")
      assert.strictEqual(r.stderr, "err\n")
      assert.isFalse(r.stdoutTruncated)
      assert.strictEqual(r.shell, "local")
      assert.deepStrictEqual(r.argv, ["sh", "-c", "echo out; echo err >&2; exit 3"])
      const ok = yield* run(["true"])
      assert.strictEqual(ok.exitCode, 0)
      assert.strictEqual(ok.stdout, "")
    }))

  it.live("runOk fails NonZeroExit naming the program and the exit code", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Shell.runOk(["sh", "-c", "exit 7"]).pipe(Effect.provide(Shell.layerLocal)))
      assert.strictEqual(e._tag, "ShellError")
      assert.strictEqual(e.reason, "NonZeroExit")
      assert.strictEqual(e.exitCode, 7)
      assert.strictEqual(e.command, "sh")
      assert.notInclude(e.message, "exit 7")
    }))

  it.live("argv is passed as is: no shell expansion, quoting or command chaining", () =>
    Effect.gen(function*() {
      const arg = "$HOME; echo pwned `id` $(id) 'q' \"dq\" *"
      const r = yield* run(["printf", "%s", arg])
      assert.strictEqual(r.stdout, arg)
    }))

  it.live("stdin is written and closed; without stdin the command reads end-of-file at once", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* run(["cat"], { stdin: "line 1\nline 2\n" })).stdout, "line 1\nline 2\n")
      assert.strictEqual((yield* run(["cat"], { stdin: new Uint8Array([104, 105]) })).stdout, "hi")
      assert.strictEqual((yield* run(["cat"], { timeout: "5 seconds" })).stdout, "")
      const big = "x".repeat(2 * 1024 * 1024)
      const r = yield* run(["wc", "-c"], { stdin: big })
      assert.strictEqual(r.stdout.trim(), String(big.length))
      // a command that exits without reading its stdin (EPIPE) is still a plain result
      assert.strictEqual((yield* run(["sh", "-c", "exit 4"], { stdin: big })).exitCode, 4)
    }))

  it.live("env is added to the inherited environment; inheritEnv false passes only env", () =>
    Effect.gen(function*() {
      const r = yield* run(["sh", "-c", "printf '%s|%s' \"$BYTEPORT_T\" \"$PATH\""], { env: { BYTEPORT_T: "v 1" } })
      assert.strictEqual(r.stdout, `v 1|${process.env["PATH"]}`)
      const only = yield* run(["/usr/bin/env"], { env: { ONLY: "1" }, inheritEnv: false })
      assert.strictEqual(only.stdout, "ONLY=1\n")
    }))

  it.live("cwd sets the working directory", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* run(["pwd"], { cwd: tmp })).stdout.trim(), fs.realpathSync(tmp))
    }))
})

describe("Shell.local: errors", () => {
  it.live("empty or malformed argv is rejected before anything runs", () =>
    Effect.gen(function*() {
      for (const argv of [[], [""], ["echo", "a\0b"], [1 as unknown as string]]) {
        const e = yield* Effect.flip(run(argv))
        assert.strictEqual(e.reason, "InvalidCommand", JSON.stringify(argv))
      }
      // a shell string is not an argv
      const e = yield* Effect.flip(run("rm -rf /" as unknown as Array<string>))
      assert.strictEqual(e.reason, "InvalidCommand")
      for (const options of [{ timeout: 0 }, { timeout: -1 }, { timeout: "soon" as never }, { maxOutputBytes: 0 }, { maxOutputBytes: 1.5 }, { env: { "A=B": "x" } }]) {
        assert.strictEqual((yield* Effect.flip(run(["true"], options))).reason, "InvalidCommand", JSON.stringify(options))
      }
    }))

  it.live("a missing program fails SpawnFailed naming argv[0] only: never the arguments or env values", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(run(["/nonexistent/byteport-tool", "--password", "hunter2"], { env: { API_TOKEN: "tok-s3cr3t" } }))
      assert.strictEqual(e.reason, "SpawnFailed")
      assert.strictEqual(e.command, "/nonexistent/byteport-tool")
      assert.strictEqual(e.code, "ENOENT")
      const all = JSON.stringify(e) + e.message + String(e.stack)
      assert.notInclude(all, "hunter2")
      assert.notInclude(all, "tok-s3cr3t")
      assert.strictEqual((yield* Effect.flip(run(["pwd"], { cwd: nodePath.join(tmp, "missing") }))).reason, "SpawnFailed")
      const plain = nodePath.join(tmp, "not-executable")
      fs.writeFileSync(plain, "echo hi\n", { mode: 0o644 })
      const notExecutable = yield* Effect.flip(run([plain]))
      assert.deepStrictEqual([notExecutable.reason, notExecutable.code], ["SpawnFailed", "EACCES"])
    }))

  it.live("a process killed by a signal nobody here sent fails Killed with the signal", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(run(["sh", "-c", "kill -9 $$"]))
      assert.strictEqual(e.reason, "Killed")
      assert.strictEqual(e.signal, "SIGKILL")
    }))
})

describe("Shell.local: timeouts, interruption and the output cap", () => {
  it.live("a timeout kills `sleep 30` and fails TimedOut", () =>
    Effect.gen(function*() {
      const file = pidFile()
      const started = Date.now()
      const e = yield* Effect.flip(run(["sh", "-c", `echo $$ > ${file}; exec sleep 30`], { timeout: "300 millis" }))
      assert.strictEqual(e.reason, "TimedOut")
      assert.strictEqual(e.timeoutMillis, 300)
      assert.isBelow(Date.now() - started, 5_000)
      const [pid] = readPids(file)
      assert.isNumber(pid)
      assert.isTrue(yield* eventually(() => !alive(pid!)), `sleep (pid ${pid}) is gone`)
    }))

  it.live("the timeout kills the whole process group, and SIGKILLs what ignores SIGTERM", () =>
    Effect.gen(function*() {
      const file = pidFile()
      const shell = Shell.makeLocal({ killGraceMillis: 200 })
      const e = yield* Effect.flip(shell.run(["sh", "-c", `trap '' TERM; sleep 30 & echo $$ $! > ${file}; while :; do sleep 0.1; done`], { timeout: "400 millis" }))
      assert.strictEqual(e.reason, "TimedOut")
      const pids = readPids(file)
      assert.lengthOf(pids, 2)
      assert.isTrue(yield* eventually(() => pids.every((p) => !alive(p))), `all of ${pids} are gone`)
    }))

  it.live("interrupting the run kills the process and waits for it to exit", () =>
    Effect.gen(function*() {
      const file = pidFile()
      const fiber = yield* Effect.forkChild(run(["sh", "-c", `sleep 30 & echo $$ $! > ${file}; wait`], { timeout: "60 seconds" }))
      assert.isTrue(yield* eventually(() => readPids(file).length === 2), "the command started")
      const pids = readPids(file)
      assert.isTrue(pids.every(alive))
      const started = Date.now()
      const exit = yield* Fiber.await(yield* Effect.as(Fiber.interrupt(fiber), fiber))
      assert.isTrue(Exit.isFailure(exit) && exit.cause.reasons.every((r) => r._tag === "Interrupt"))
      assert.isBelow(Date.now() - started, 3_000)
      assert.isFalse(alive(pids[0]!), "the command exited before the interruption returned")
      assert.isTrue(yield* eventually(() => pids.every((p) => !alive(p))), `all of ${pids} are gone`)
    }))

  it.live("commands still running when this process exits are killed with it", () =>
    Effect.gen(function*() {
      const file = pidFile()
      const code = yield* Effect.promise(() =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", nodePath.join(__dirname, "scripts/exitWhileRunning.ts"), file], {
            stdio: "inherit"
          })
          child.on("exit", (c) => resolve(c))
        })
      )
      assert.strictEqual(code, 0)
      const pids = readPids(file)
      assert.lengthOf(pids, 2)
      assert.isTrue(yield* eventually(() => pids.every((p) => !alive(p))), `all of ${pids} are gone`)
    }), 30_000)

  it.live("a timeout beyond Node's timer range (30 days) does not fire at once", () =>
    Effect.gen(function*() {
      const r = yield* run(["sh", "-c", "sleep 0.3; echo slept"], { timeout: "30 days" })
      assert.strictEqual(r.stdout, "slept\n")
    }))

  it.live("output beyond the cap is dropped and flagged; the command still runs to its end", () =>
    Effect.gen(function*() {
      const r = yield* run(["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; echo done >&2"], { maxOutputBytes: 1000 })
      assert.strictEqual(r.exitCode, 0)
      assert.strictEqual(r.stdout, "a".repeat(1000))
      assert.isTrue(r.stdoutTruncated)
      assert.strictEqual(r.stderr, "done\n")
      assert.isFalse(r.stderrTruncated)
      assert.strictEqual(r.maxOutputBytes, 1000)
      const exact = yield* run(["printf", "%s", "b".repeat(1000)], { maxOutputBytes: 1000 })
      assert.isFalse(exact.stdoutTruncated)
    }))
})

describe("Shell.transcript: the report-facing lines pass the Redactor", () => {
  const secretCommand = [
    "sh",
    "-c",
    "echo 'connecting to postgres://app:hunter2@db:5432/orders'; echo 'password=hunter2 ok'; echo 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' >&2; echo sekrit-42"
  ]

  it.live("secrets in the command line, stdout and stderr are redacted; ordinary lines are kept", () =>
    Effect.gen(function*() {
      const r = yield* run([...secretCommand, "postgres://app:hunter2@db/x"], { env: { PGPASSWORD: "hunter2" } })
      assert.include(r.stdout, "hunter2") // the raw result is for parsers
      const lines = yield* Shell.transcript(r).pipe(Effect.provide(Redactor.layerDefault))
      const text = lines.join("\n")
      assert.notInclude(text, "hunter2")
      assert.notInclude(text, "eyJzdWIiOiJ4In0")
      assert.include(text, "[REDACTED]")
      assert.strictEqual(lines[1], `exit 0 in ${r.durationMillis} ms`)
      assert.isTrue(lines[0]!.startsWith("$ sh -c "))
      assert.include(lines, "stdout| sekrit-42")
      assert.isTrue(lines.some((l) => l.startsWith("stderr| Authorization:")))
      const ev = yield* Shell.evidence(r).pipe(Effect.provide(Redactor.layerDefault))
      assert.notInclude(JSON.stringify(ev), "hunter2")
      assert.strictEqual(ev.exitCode, 0)
      assert.isTrue(ev.command.startsWith("sh -c "))
      assert.deepStrictEqual(ev.output, lines.slice(2))
    }))

  it.live("the configured Redactor service is the one used (extra patterns apply)", () =>
    Effect.gen(function*() {
      const r = yield* run(secretCommand)
      const lines = yield* Shell.transcript(r).pipe(Effect.provide(Redactor.layer({ extraPatterns: [/sekrit-\d+/] })))
      assert.notInclude(lines.join("\n"), "sekrit-42")
      assert.include(lines, "stdout| [REDACTED]")
    }))

  it.live("a PEM key spanning lines is redacted whole; long output keeps the last lines and says so", () =>
    Effect.gen(function*() {
      const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAAAAsecretbody\n-----END PRIVATE KEY-----\n"
      const r = yield* run(["cat"], { stdin: pem })
      const lines = Shell.transcriptWith(Redactor.defaultRedactor, r)
      assert.notInclude(lines.join("\n"), "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
      assert.notInclude(lines.join("\n"), "secretbody")
      const many = yield* run(["seq", "1", "120"], { maxOutputBytes: 100 })
      const t = Shell.transcriptWith(Redactor.defaultRedactor, many, { maxLines: 5 })
      assert.isTrue(t.some((l) => /^stdout: … \d+ earlier lines omitted$/.test(l)))
      assert.include(t, "stdout: truncated at 100 bytes")
      assert.lengthOf(t.filter((l) => l.startsWith("stdout| ")), 5)
    }))

  it.live("a Shell built by make is validated and capped like the local one", () =>
    Effect.gen(function*() {
      let called = 0
      const shell = Shell.make(() => Effect.sync(() => (called++, { exitCode: 0, stdout: "é".repeat(10), stderr: "" })), { name: "ssh:node-1" })
      assert.strictEqual((yield* Effect.flip(shell.run([]))).reason, "InvalidCommand")
      assert.strictEqual(called, 0)
      const r = yield* shell.run(["uname"], { maxOutputBytes: 5 })
      assert.strictEqual(r.stdout, "éé") // cut at a character boundary (é is 2 bytes)
      assert.isTrue(r.stdoutTruncated)
      const lines = yield* Shell.transcript(r).pipe(Effect.provide(Layer.succeed(Redactor.Redactor, Redactor.defaultRedactor)))
      assert.strictEqual(lines[0], "$ uname  (on ssh:node-1)")
      // an implementation that never returns still times out (make enforces the timeout)
      const hang = Shell.make(() => Effect.never, { name: "hang" })
      const e = yield* Effect.flip(hang.run(["x"], { timeout: "50 millis" }))
      assert.strictEqual(e.reason, "TimedOut")
      assert.strictEqual(e.shell, "hang")
    }))
})
