/**
 * A scripted Shell for tests: a list of expected commands (argv matched exactly) with the output,
 * exit code or error each one gets. An unexpected command dies with `UnexpectedCommand` (naming
 * the command and what was still expected) and is recorded, so `assertDone` fails the test even
 * when the code under test swallowed the defect. Built with `Shell.make`, so argv validation,
 * timeouts (virtual time: a `delay` longer than the command's timeout fails `TimedOut`) and output
 * caps behave as with any other Shell.
 *
 * @since 0.2.0
 */
import { Duration, Effect, Layer, Schema } from "effect"
import { Shell } from "@byteport/core/shell"

/** One expected command and its response. */
export interface ShellExpectation {
  /** The exact argv. */
  readonly argv: ReadonlyArray<string>
  /** When given, stdin must equal it. */
  readonly stdin?: string
  /** When given, each of these variables must be passed with this value. */
  readonly env?: Readonly<Record<string, string>>
  /** When given, the cwd must equal it. */
  readonly cwd?: string
  /** The exit code (default 0). */
  readonly exitCode?: number
  readonly stdout?: string
  readonly stderr?: string
  /** Fail instead of answering. */
  readonly fail?: "SpawnFailed" | "TimedOut" | "Killed"
  /** How long the command "runs" (Effect clock: virtual under TestClock). */
  readonly delay?: Duration.Input
  /** How many calls it answers (default 1; `"any"`: unlimited, never required). */
  readonly times?: number | "any"
}

/** Options of a script. */
export interface ScriptOptions {
  /** Whether expectations must be met in order (default false: any unused matching one answers). */
  readonly ordered?: boolean
  /** The shell's name (default `scripted`). */
  readonly name?: string
}

/** A command the script did not expect (a defect: the test is wrong or the code is). */
export class UnexpectedCommand extends Schema.TaggedError<UnexpectedCommand>()("UnexpectedCommand", {
  argv: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** A scripted shell and what it saw. */
export interface ScriptedShell {
  /** The Shell. */
  readonly shell: Shell.ShellShape
  /** A layer providing it as the Shell service. */
  readonly layer: Layer.Layer<Shell.Shell>
  /** Every request it received, in order (expected or not). */
  readonly calls: () => ReadonlyArray<Shell.Request>
  /** The argv of every unexpected command. */
  readonly unexpected: () => ReadonlyArray<ReadonlyArray<string>>
  /** Expectations not yet met (`times: "any"` ones excluded). */
  readonly remaining: () => ReadonlyArray<ShellExpectation>
  /** Dies unless every expectation was met and no unexpected command was run. */
  readonly assertDone: Effect.Effect<void>
}

const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => a.length === b.length && a.every((x, i) => x === b[i])

const show = (argv: ReadonlyArray<string>): string => JSON.stringify(argv)

/** Builds a scripted shell from its expectations. */
export const scriptedShell = (expectations: ReadonlyArray<ShellExpectation>, options: ScriptOptions = {}): ScriptedShell => {
  const name = options.name ?? "scripted"
  const left = expectations.map((e) => ({ e, left: e.times === "any" ? Infinity : e.times ?? 1 }))
  const calls: Array<Shell.Request> = []
  const unexpected: Array<ReadonlyArray<string>> = []
  const decoder = new TextDecoder()

  const matches = (e: ShellExpectation, r: Shell.Request): boolean =>
    same(e.argv, r.argv) &&
    (e.stdin === undefined || (r.stdin !== undefined && decoder.decode(r.stdin) === e.stdin)) &&
    (e.cwd === undefined || e.cwd === r.cwd) &&
    (e.env === undefined || Object.entries(e.env).every(([k, v]) => r.env[k] === v))

  const remaining = () => left.filter((x) => x.left > 0 && x.left !== Infinity).map((x) => x.e)

  const shell = Shell.make((request) =>
    Effect.suspend(() => {
      calls.push(request)
      const open = left.filter((x) => x.left > 0)
      const candidates = options.ordered ? open.slice(0, 1) : open
      const hit = candidates.find((x) => matches(x.e, request))
      if (hit === undefined) {
        unexpected.push(request.argv)
        const expected = open.map((x) => show(x.e.argv))
        return Effect.die(new UnexpectedCommand({
          argv: [...request.argv],
          message: `unexpected command ${show(request.argv)} on ${name}; ${
            expected.length === 0 ? "no command was expected" : `expected ${options.ordered ? "next" : "one of"}: ${expected.join(", ")}`
          }`
        }))
      }
      hit.left--
      const e = hit.e
      const answer = e.fail !== undefined
        ? Effect.fail(Shell.error(name, request, e.fail, e.fail === "Killed" ? { signal: "SIGKILL" } : e.fail === "TimedOut" ? { timeoutMillis: request.timeoutMillis } : { code: "ENOENT" }))
        : Effect.succeed({ exitCode: e.exitCode ?? 0, stdout: e.stdout ?? "", stderr: e.stderr ?? "" })
      return e.delay === undefined ? answer : Effect.andThen(Effect.sleep(e.delay), answer)
    }), { name })

  return {
    shell,
    layer: Shell.layer(shell),
    calls: () => [...calls],
    unexpected: () => [...unexpected],
    remaining,
    assertDone: Effect.suspend(() => {
      const problems: Array<string> = []
      if (unexpected.length > 0) problems.push(`unexpected commands: ${unexpected.map(show).join(", ")}`)
      const rest = remaining()
      if (rest.length > 0) problems.push(`expected commands never run: ${rest.map((e) => show(e.argv)).join(", ")}`)
      return problems.length === 0 ? Effect.void : Effect.die(new Error(`scripted shell ${name}: ${problems.join("; ")}`))
    })
  }
}
