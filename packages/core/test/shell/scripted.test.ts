/**
 * The scripted Shell of `@byteport/core/testing`: exact argv matching, answers and errors,
 * unexpected commands (a defect, recorded, and reported by `assertDone` even when swallowed),
 * ordered scripts, virtual-time delays against the command's timeout, and the output cap.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Shell, Systemctl } from "@byteport/core/shell"
import { scriptedShell } from "@byteport/core/testing"

const isDefect = (exit: Exit.Exit<unknown, unknown>, pattern: RegExp): boolean =>
  Exit.isFailure(exit) && exit.cause.reasons.some((r) => r._tag === "Die" && pattern.test(String((r.defect as Error).message)))

describe("scriptedShell", () => {
  it.effect("answers the expected commands (argv matched exactly) and a parser reads the answer", () =>
    Effect.gen(function*() {
      const script = scriptedShell([
        { argv: ["systemctl", "show", "kubelet"], stdout: "Id=kubelet.service\nActiveState=failed\nResult=oom-kill\n" },
        { argv: ["systemctl", "is-active", "kubelet"], stdout: "failed\n", exitCode: 3 }
      ])
      const program = Effect.gen(function*() {
        const show = yield* Shell.runOk(["systemctl", "show", "kubelet"])
        const unit = yield* Systemctl.parseShowOne(show.stdout)
        const active = yield* Shell.run(["systemctl", "is-active", "kubelet"])
        return [unit.activeState, unit.result, active.exitCode, active.shell] as const
      })
      assert.deepStrictEqual(yield* program.pipe(Effect.provide(script.layer)), ["failed", "oom-kill", 3, "scripted"])
      yield* script.assertDone
      assert.deepStrictEqual(script.calls().map((c) => c.argv), [["systemctl", "show", "kubelet"], ["systemctl", "is-active", "kubelet"]])
    }))

  it.effect("an unexpected command dies naming it and what was expected; assertDone reports it even if swallowed", () =>
    Effect.gen(function*() {
      const script = scriptedShell([{ argv: ["df", "-P"] }])
      const exit = yield* Effect.exit(script.shell.run(["df", "-h"]))
      assert.isTrue(isDefect(exit, /unexpected command \["df","-h"\] on scripted; expected one of: \["df","-P"\]/))
      // argv must match exactly: an extra argument is another command
      assert.isTrue(isDefect(yield* Effect.exit(script.shell.run(["df", "-P", "/"])), /unexpected command/))
      assert.deepStrictEqual(script.unexpected(), [["df", "-h"], ["df", "-P", "/"]])
      const done = yield* Effect.exit(script.assertDone)
      assert.isTrue(isDefect(done, /unexpected commands: \["df","-h"\], \["df","-P","\/"\]; expected commands never run: \["df","-P"\]/))
    }))

  it.effect("each expectation answers once unless times says otherwise; stdin, env and cwd must match when given", () =>
    Effect.gen(function*() {
      const script = scriptedShell([
        { argv: ["cat"], stdin: "a", stdout: "a" },
        { argv: ["env"], env: { LC_ALL: "C" }, cwd: "/tmp", stdout: "ok" },
        { argv: ["uptime"], stdout: "up", times: 2 },
        { argv: ["hostname"], stdout: "node-1", times: "any" }
      ])
      assert.isTrue(isDefect(yield* Effect.exit(script.shell.run(["cat"], { stdin: "b" })), /unexpected/))
      assert.strictEqual((yield* script.shell.run(["cat"], { stdin: "a" })).stdout, "a")
      assert.isTrue(isDefect(yield* Effect.exit(script.shell.run(["env"], { cwd: "/tmp" })), /unexpected/))
      assert.strictEqual((yield* script.shell.run(["env"], { env: { LC_ALL: "C", X: "1" }, cwd: "/tmp" })).stdout, "ok")
      yield* script.shell.run(["uptime"])
      assert.deepStrictEqual(script.remaining().map((e) => e.argv), [["uptime"]])
      yield* script.shell.run(["uptime"])
      assert.isTrue(isDefect(yield* Effect.exit(script.shell.run(["uptime"])), /unexpected/))
      for (let i = 0; i < 3; i++) yield* script.shell.run(["hostname"])
      assert.deepStrictEqual(script.remaining(), [])
    }))

  it.effect("ordered scripts require the next expectation", () =>
    Effect.gen(function*() {
      const script = scriptedShell([{ argv: ["a"] }, { argv: ["b"] }], { ordered: true, name: "node-1" })
      assert.isTrue(isDefect(yield* Effect.exit(script.shell.run(["b"])), /unexpected command \["b"\] on node-1; expected next: \["a"\]/))
      yield* script.shell.run(["a"])
      yield* script.shell.run(["b"])
    }))

  it.effect("scripted errors are ShellErrors; a delay beyond the command's timeout fails TimedOut in virtual time", () =>
    Effect.gen(function*() {
      const script = scriptedShell([
        { argv: ["crictl", "ps"], fail: "SpawnFailed" },
        { argv: ["slow"], delay: "10 seconds", stdout: "late" },
        { argv: ["quick"], delay: "1 second", stdout: "in time" }
      ])
      const spawn = yield* Effect.flip(script.shell.run(["crictl", "ps"]))
      assert.deepStrictEqual([spawn.reason, spawn.command, spawn.shell], ["SpawnFailed", "crictl", "scripted"])
      const slow = yield* Effect.forkChild(Effect.flip(script.shell.run(["slow"], { timeout: "5 seconds" })))
      yield* TestClock.adjust("5 seconds")
      const e = yield* Fiber.join(slow)
      assert.strictEqual(e.reason, "TimedOut")
      assert.strictEqual(e.timeoutMillis, 5000)
      const quick = yield* Effect.forkChild(script.shell.run(["quick"], { timeout: "5 seconds" }))
      yield* TestClock.adjust("1 second")
      const q = yield* Fiber.join(quick)
      assert.strictEqual(q.stdout, "in time")
      assert.strictEqual(q.durationMillis, 1000) // by the Effect clock
    }))

  it.effect("the output cap and argv validation apply to scripted answers too", () =>
    Effect.gen(function*() {
      const script = scriptedShell([{ argv: ["journalctl", "-o", "json"], stdout: "x".repeat(100) }])
      const r = yield* script.shell.run(["journalctl", "-o", "json"], { maxOutputBytes: 10 })
      assert.strictEqual(r.stdout, "x".repeat(10))
      assert.isTrue(r.stdoutTruncated)
      assert.strictEqual((yield* Effect.flip(script.shell.run([]))).reason, "InvalidCommand")
      assert.deepStrictEqual(script.unexpected(), [])
    }))
})
