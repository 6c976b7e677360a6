/**
 * `Shell`: run a command (an argv array, never a shell string) on some machine and get its exit
 * code, stdout and stderr back, with a timeout and an output cap.
 *
 * - `Shell.Shell` is the service; `Shell.local` runs on this machine (node:child_process, in its
 *   own process group: a timeout or an interruption kills the child and everything it started).
 * - `Shell.make(run, { name })` builds any other Shell (SSH, a simulated node) from one function
 *   that receives a validated, normalized `Request`; `make` rejects empty or malformed argv,
 *   enforces the timeout (with the Effect clock) and the output cap for every implementation.
 * - A non-zero exit code is a result, not an error (`systemctl is-active` exits 3 for inactive);
 *   `Shell.runOk` turns it into a `ShellError` with reason `NonZeroExit`.
 * - `ShellError` names the program (`argv[0]`), never the arguments, the environment or the output.
 * - `Shell.transcript` is the report-facing view of a result: every line passes the Redactor.
 *
 * @since 0.2.0
 */
import { spawn } from "node:child_process"
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { Redactor } from "@byteport/core"

// ---------------------------------------------------------------------------------------------
// errors

/** Why a command did not produce a result. */
export const ShellErrorReason = Schema.Literals(["InvalidCommand", "SpawnFailed", "TimedOut", "Killed", "NonZeroExit"])

/** The reason of a `ShellError`. */
export type ShellErrorReason = typeof ShellErrorReason.Type

/**
 * A command that could not be run or did not finish: invalid argv, spawn failed (no such program,
 * bad cwd), timed out (and was killed), killed by a signal nobody here sent, or (from `runOk`
 * only) exited non-zero. Names the program (`argv[0]`) and the shell, never arguments, env values
 * or output.
 */
export class ShellError extends Schema.TaggedError<ShellError>()("ShellError", {
  reason: ShellErrorReason,
  /** The program: `argv[0]` (redacted). */
  command: Schema.String,
  /** The shell's name (`local`, `ssh:node-1` …). */
  shell: Schema.String,
  message: Schema.String,
  /** The exit code (`NonZeroExit`). */
  exitCode: Schema.optionalKey(Schema.Number),
  /** The signal that ended the process (`Killed`, `TimedOut`). */
  signal: Schema.optionalKey(Schema.String),
  /** The system error code (`SpawnFailed`: `ENOENT`, `EACCES` …). */
  code: Schema.optionalKey(Schema.String),
  /** The timeout that expired (`TimedOut`). */
  timeoutMillis: Schema.optionalKey(Schema.Number)
}) {}

// ---------------------------------------------------------------------------------------------
// model

/** How to run one command. Every field is optional. */
export interface Options {
  /** Environment variables for the command (added to the inherited ones, winning over them). */
  readonly env?: Readonly<Record<string, string>>
  /** Whether the command inherits this process's environment (default true); false: only `env`. */
  readonly inheritEnv?: boolean
  /** Bytes written to the command's stdin, which is then closed (default: no stdin, as /dev/null). */
  readonly stdin?: string | Uint8Array
  /** The working directory (default: the shell's own). */
  readonly cwd?: string
  /** How long the command may run before it is killed and the run fails `TimedOut` (default 30 seconds). */
  readonly timeout?: Duration.Input
  /** The most bytes kept of stdout and of stderr each; the rest is read and dropped, and the result flags it (default 1 MiB). */
  readonly maxOutputBytes?: number
}

/** A validated, normalized command: what a Shell implementation (`make`) receives. */
export interface Request {
  /** The program and its arguments: at least the program, every element a string without NUL. */
  readonly argv: readonly [string, ...Array<string>]
  readonly env: Readonly<Record<string, string>>
  readonly inheritEnv: boolean
  readonly stdin: Uint8Array | undefined
  readonly cwd: string | undefined
  readonly timeoutMillis: number
  readonly maxOutputBytes: number
}

/** What an implementation returns for a command that ran to its end. */
export interface Output {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  /** Whether stdout was cut at `maxOutputBytes` (an implementation that cuts while reading sets it; `make` cuts what is still too long). */
  readonly stdoutTruncated?: boolean
  /** Whether stderr was cut at `maxOutputBytes`. */
  readonly stderrTruncated?: boolean
}

/** The result of a command that ran to its end (whatever its exit code). Raw output: use `transcript` for anything that reaches a report. */
export interface Result {
  /** The shell's name. */
  readonly shell: string
  readonly argv: ReadonlyArray<string>
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  readonly stdoutTruncated: boolean
  readonly stderrTruncated: boolean
  /** The cap that applied to each stream. */
  readonly maxOutputBytes: number
  /** How long it ran, by the Effect clock (virtual under TestClock). */
  readonly durationMillis: number
}

/** The operations of a Shell. */
export interface ShellShape {
  /** The shell's name (`local`, `ssh:node-1`, `kube-sim:node-a` …), shown in transcripts and errors. */
  readonly name: string
  /** Runs one command. Interrupting the effect stops (kills) the command. */
  readonly run: (argv: ReadonlyArray<string>, options?: Options) => Effect.Effect<Result, ShellError>
}

/** The Shell service: where host, node and TLS work runs its commands. */
export class Shell extends Context.Service<Shell, ShellShape>()("@byteport/core/Shell") {}

/** The default timeout: 30 seconds. */
export const DEFAULT_TIMEOUT_MILLIS = 30_000

/** The default output cap per stream: 1 MiB. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// validation

const programOf = (argv: ReadonlyArray<unknown>): string =>
  Redactor.defaultRedactor.redactString(typeof argv[0] === "string" && argv[0].length > 0 ? argv[0] : "<none>")

/** Validates argv and options into a Request, or explains why they are invalid. */
const normalize = (argv: ReadonlyArray<string>, options: Options | undefined): Request | string => {
  if (!Array.isArray(argv)) return "argv must be an array of strings (a command is never a shell string)"
  if (argv.length === 0) return "argv is empty"
  for (let i = 0; i < argv.length; i++) {
    const a: unknown = argv[i]
    if (typeof a !== "string") return `argv[${i}] is not a string`
    if (a.includes("\0")) return `argv[${i}] contains a NUL byte`
  }
  if (argv[0]!.length === 0) return "argv[0] (the program) is empty"
  const o = options ?? {}
  let timeoutMillis = DEFAULT_TIMEOUT_MILLIS
  if (o.timeout !== undefined) {
    const d = Duration.fromInput(o.timeout)
    if (d._tag === "None") return "timeout is not a duration"
    timeoutMillis = Duration.toMillis(d.value)
    if (!Number.isFinite(timeoutMillis) || timeoutMillis <= 0) return "timeout must be positive and finite"
  }
  const maxOutputBytes = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes <= 0) return "maxOutputBytes must be a positive integer"
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (k.length === 0 || k.includes("=") || k.includes("\0")) return "an env name is empty or contains '=' or NUL"
    if (typeof v !== "string" || v.includes("\0")) return `env ${k} is not a string without NUL`
    env[k] = v
  }
  if (o.cwd !== undefined && (typeof o.cwd !== "string" || o.cwd.length === 0 || o.cwd.includes("\0"))) return "cwd is empty or malformed"
  const stdin = o.stdin === undefined ? undefined : typeof o.stdin === "string" ? new TextEncoder().encode(o.stdin) : o.stdin
  return {
    argv: [...argv] as unknown as Request["argv"],
    env,
    inheritEnv: o.inheritEnv ?? true,
    stdin,
    cwd: o.cwd,
    timeoutMillis,
    maxOutputBytes
  }
}

const utf8 = new TextEncoder()

/** Cuts a string to at most `max` UTF-8 bytes (never in the middle of a character). */
const capString = (s: string, max: number): { readonly text: string; readonly truncated: boolean } => {
  if (s.length * 3 <= max) return { text: s, truncated: false }
  const bytes = utf8.encode(s)
  if (bytes.length <= max) return { text: s, truncated: false }
  let end = max
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return { text: new TextDecoder().decode(bytes.subarray(0, end)), truncated: true }
}

// ---------------------------------------------------------------------------------------------
// constructors

/** Options of `make`. */
export interface MakeOptions {
  /** The shell's name, shown in transcripts and errors (default `custom`). */
  readonly name?: string
}

/**
 * Builds a Shell from one function. `run` receives a validated Request (non-empty argv, positive
 * timeout and cap, env and stdin normalized); invalid input fails `InvalidCommand` before `run` is
 * called. `make` also enforces the timeout (with the Effect clock: interrupting `run`, which must
 * stop the command, then failing `TimedOut`) and the output cap, so an implementation that ignores
 * either still honours both. `run` fails only with `ShellError`s it builds with `error`.
 */
export const make = (
  run: (request: Request) => Effect.Effect<Output, ShellError>,
  options: MakeOptions = {}
): ShellShape => {
  const name = options.name ?? "custom"
  return {
    name,
    run: (argv, runOptions) =>
      Effect.suspend(() => {
        const request = normalize(argv, runOptions)
        if (typeof request === "string") {
          return Effect.fail(new ShellError({ reason: "InvalidCommand", command: programOf(argv ?? []), shell: name, message: `invalid command: ${request}` }))
        }
        return Effect.flatMap(Clock.currentTimeMillis, (started) => run(request).pipe(
          Effect.timeoutOrElse({
            duration: request.timeoutMillis,
            orElse: () => Effect.fail(timedOut(name, request))
          }),
          Effect.flatMap((out) => Effect.map(Clock.currentTimeMillis, (ended): Result => {
            const stdout = capString(out.stdout, request.maxOutputBytes)
            const stderr = capString(out.stderr, request.maxOutputBytes)
            return {
              shell: name,
              argv: request.argv,
              exitCode: out.exitCode,
              stdout: stdout.text,
              stderr: stderr.text,
              stdoutTruncated: stdout.truncated || out.stdoutTruncated === true,
              stderrTruncated: stderr.truncated || out.stderrTruncated === true,
              maxOutputBytes: request.maxOutputBytes,
              durationMillis: ended - started
            }
          }))
        ))
      })
  }
}

/** Builds a `ShellError` for a request (for Shell implementations): names argv[0] and the shell only. */
export const error = (
  shell: string,
  request: { readonly argv: ReadonlyArray<string> },
  reason: ShellErrorReason,
  detail: { readonly message?: string; readonly exitCode?: number; readonly signal?: string; readonly code?: string; readonly timeoutMillis?: number } = {}
): ShellError => {
  const command = programOf(request.argv)
  const message = detail.message ??
    (reason === "SpawnFailed"
      ? `${command}: could not start on ${shell}${detail.code ? ` (${detail.code})` : ""}`
      : reason === "TimedOut"
      ? `${command}: timed out on ${shell} after ${detail.timeoutMillis ?? "?"} ms and was killed`
      : reason === "Killed"
      ? `${command}: killed on ${shell}${detail.signal ? ` by ${detail.signal}` : ""}`
      : reason === "NonZeroExit"
      ? `${command}: exited ${detail.exitCode ?? "?"} on ${shell}`
      : `${command}: invalid command`)
  return new ShellError({
    reason,
    command,
    shell,
    message,
    ...(detail.exitCode !== undefined ? { exitCode: detail.exitCode } : {}),
    ...(detail.signal !== undefined ? { signal: detail.signal } : {}),
    ...(detail.code !== undefined ? { code: detail.code } : {}),
    ...(detail.timeoutMillis !== undefined ? { timeoutMillis: detail.timeoutMillis } : {})
  })
}

const timedOut = (shell: string, request: Request): ShellError =>
  error(shell, request, "TimedOut", { timeoutMillis: request.timeoutMillis })

/** A layer providing a Shell built by `make` (or any ShellShape). */
export const layer = (shell: ShellShape): Layer.Layer<Shell> => Layer.succeed(Shell, Shell.of(shell))

// ---------------------------------------------------------------------------------------------
// local

/** Options of the local shell. */
export interface LocalOptions {
  /** How long a killed command gets between SIGTERM and SIGKILL (default 1 second). */
  readonly killGraceMillis?: number
}

const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** The process groups of running local commands: SIGKILLed if this process exits while they run. */
const running = new Set<number>()
let exitHook = false
const track = (pid: number): void => {
  if (!exitHook) {
    exitHook = true
    process.on("exit", () => {
      for (const p of running) killGroup(p, "SIGKILL")
    })
  }
  running.add(pid)
}

/** Sends a signal to the child's process group (it leads one), or to the child if that fails. */
const killGroup = (pid: number | undefined, signal: NodeJS.Signals): void => {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

/**
 * Runs commands on this machine with node:child_process `spawn` (no shell: argv[0] is looked up
 * in PATH and the arguments are passed as they are). The child leads its own process group; on
 * timeout or interruption the whole group gets SIGTERM, then SIGKILL after the grace period, and
 * the run ends only once the child has exited. If this process exits (normally, or through
 * `process.exit`) while commands run, their groups get SIGKILL. Output beyond the cap is read and dropped.
 */
export const makeLocal = (options: LocalOptions = {}): ShellShape => {
  const grace = options.killGraceMillis ?? 1_000
  return make(
    (request) =>
      Effect.callback<Output, ShellError>((resume) => {
        const [program, ...args] = request.argv
        let child: ReturnType<typeof spawn>
        try {
          child = spawn(program, args, {
            cwd: request.cwd,
            env: request.inheritEnv ? { ...process.env, ...request.env } : { ...request.env },
            stdio: [request.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
            detached: true,
            windowsHide: true
          })
        } catch (e) {
          resume(Effect.fail(error("local", request, "SpawnFailed", { code: codeOf(e) })))
          return
        }
        if (child.pid !== undefined) track(child.pid)
        const out = { stdout: [] as Array<Buffer>, stderr: [] as Array<Buffer>, bytes: { stdout: 0, stderr: 0 }, cut: { stdout: false, stderr: false } }
        const collect = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
          const room = request.maxOutputBytes - out.bytes[stream]
          if (room <= 0) {
            out.cut[stream] = true
            return
          }
          const kept = chunk.length > room ? chunk.subarray(0, room) : chunk
          if (kept.length < chunk.length) out.cut[stream] = true
          out[stream].push(kept)
          out.bytes[stream] += kept.length
        }
        child.stdout!.on("data", collect("stdout"))
        child.stderr!.on("data", collect("stderr"))
        let done = false
        let killedForTimeout = false
        let exited = false
        const exitWaiters: Array<() => void> = []
        let killTimer: ReturnType<typeof setTimeout> | undefined
        let closed = false
        // the group may outlive its leader (a background job holding the pipes): signal the group
        // even after the leader exited, and SIGKILL whatever is left after the grace period
        const stop = () => {
          if (closed) return
          killGroup(child.pid, "SIGTERM")
          if (killTimer === undefined) {
            killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), grace)
            killTimer.unref()
          }
        }
        // setTimeout fires at once beyond 2^31-1 ms: longer timeouts are left to make's (Effect clock) timeout
        const timer = request.timeoutMillis <= MAX_TIMER_MILLIS
          ? setTimeout(() => {
            killedForTimeout = true
            stop()
          }, request.timeoutMillis)
          : undefined
        const finish = (effect: Effect.Effect<Output, ShellError>) => {
          if (done) return
          done = true
          clearTimeout(timer)
          resume(effect)
        }
        child.on("error", (e) => {
          if (child.pid === undefined) {
            exited = true
            clearTimeout(timer)
            for (const w of exitWaiters.splice(0)) w()
            finish(Effect.fail(error("local", request, "SpawnFailed", { code: codeOf(e) })))
          }
        })
        child.on("exit", () => {
          exited = true
          for (const w of exitWaiters.splice(0)) w()
        })
        child.on("close", (code, signal) => {
          closed = true
          if (child.pid !== undefined) running.delete(child.pid)
          if (killTimer !== undefined) clearTimeout(killTimer)
          if (killedForTimeout) finish(Effect.fail(timedOut("local", request)))
          else if (code === null) finish(Effect.fail(error("local", request, "Killed", { signal: signal ?? "unknown" })))
          else {
            finish(Effect.succeed({
              exitCode: code,
              stdout: Buffer.concat(out.stdout).toString("utf8"),
              stderr: Buffer.concat(out.stderr).toString("utf8"),
              stdoutTruncated: out.cut.stdout,
              stderrTruncated: out.cut.stderr
            }))
          }
        })
        if (request.stdin !== undefined && child.stdin) {
          child.stdin.on("error", () => {}) // EPIPE: the command exited without reading all its stdin
          child.stdin.end(request.stdin)
        }
        // interruption: kill the group and wait until the child has exited
        return Effect.callback<void>((resumeStop) => {
          done = true
          clearTimeout(timer)
          stop()
          if (exited || child.pid === undefined) resumeStop(Effect.void)
          else exitWaiters.push(() => resumeStop(Effect.void))
        })
      }),
    { name: "local" }
  )
}

const codeOf = (e: unknown): string =>
  typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : "unknown"

/** The local shell (this machine) with default options. */
export const local: ShellShape = makeLocal()

/** A layer providing the local shell. */
export const layerLocal: Layer.Layer<Shell> = layer(local)

// ---------------------------------------------------------------------------------------------
// accessors

/** Runs a command with the Shell service. */
export const run = (argv: ReadonlyArray<string>, options?: Options): Effect.Effect<Result, ShellError, Shell> =>
  Effect.flatMap(Effect.service(Shell), (shell) => shell.run(argv, options))

/** Runs a command with the Shell service and fails `NonZeroExit` unless it exits 0. */
export const runOk = (argv: ReadonlyArray<string>, options?: Options): Effect.Effect<Result, ShellError, Shell> =>
  Effect.flatMap(run(argv, options), (result) =>
    result.exitCode === 0 ? Effect.succeed(result) : Effect.fail(error(result.shell, { argv: result.argv }, "NonZeroExit", { exitCode: result.exitCode })))

// ---------------------------------------------------------------------------------------------
// transcripts (report-facing)

/** Quotes argv for display (never for execution): an argument with spaces or quotes is single-quoted. */
export const formatArgv = (argv: ReadonlyArray<string>): string =>
  argv.map((a) => (a.length > 0 && /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ")

/** Options of `transcript`. */
export interface TranscriptOptions {
  /** The most lines kept per stream (the last ones; default 50). */
  readonly maxLines?: number
}

const streamLines = (redactor: Redactor.Shape, label: string, text: string, truncated: boolean, cap: number, maxLines: number): Array<string> => {
  if (text.length === 0 && !truncated) return []
  // redact the whole stream first (a PEM key spans lines), then split
  const lines = redactor.redactString(text).split(/\r?\n/)
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  const out: Array<string> = []
  if (lines.length > maxLines) out.push(`${label}: … ${lines.length - maxLines} earlier lines omitted`)
  for (const l of lines.slice(-maxLines)) out.push(`${label}| ${l}`)
  if (truncated) out.push(`${label}: truncated at ${cap} bytes`)
  return out
}

/** The report-facing lines of a result, each redacted with the given redactor: the command, the exit code and duration, then stdout and stderr. */
export const transcriptWith = (redactor: Redactor.Shape, result: Result, options: TranscriptOptions = {}): ReadonlyArray<string> => {
  const maxLines = Math.max(0, options.maxLines ?? 50)
  return [
    `$ ${redactor.redactString(formatArgv(result.argv))}${result.shell === "local" ? "" : `  (on ${redactor.redactString(result.shell)})`}`,
    `exit ${result.exitCode} in ${result.durationMillis} ms`,
    ...streamLines(redactor, "stdout", result.stdout, result.stdoutTruncated, result.maxOutputBytes, maxLines),
    ...streamLines(redactor, "stderr", result.stderr, result.stderrTruncated, result.maxOutputBytes, maxLines)
  ]
}

/** The report-facing lines of a result, each redacted with the Redactor service. */
export const transcript = (result: Result, options?: TranscriptOptions): Effect.Effect<ReadonlyArray<string>, never, Redactor.Redactor> =>
  Effect.map(Effect.service(Redactor.Redactor), (r) => transcriptWith(r, result, options))

/** Redacts text for a report line by line with the Redactor service (e.g. a parsed field taken from a command's output). */
export const redactLines = (text: string): Effect.Effect<ReadonlyArray<string>, never, Redactor.Redactor> =>
  Effect.map(Effect.service(Redactor.Redactor), (r) => r.redactString(text).split(/\r?\n/))

/** A result as report evidence: JSON-safe, every string redacted with the Redactor service. */
export interface Evidence {
  readonly shell: string
  /** The command line, redacted. */
  readonly command: string
  readonly exitCode: number
  readonly durationMillis: number
  /** The transcript's output lines (stdout then stderr), redacted. */
  readonly output: ReadonlyArray<string>
}

/** A result as report evidence (for facts, escalation bundles): the redacted command, exit code, duration and output lines. */
export const evidence = (result: Result, options?: TranscriptOptions): Effect.Effect<Evidence, never, Redactor.Redactor> =>
  Effect.map(Effect.service(Redactor.Redactor), (r) => {
    const lines = transcriptWith(r, result, options)
    return {
      shell: r.redactString(result.shell),
      command: r.redactString(formatArgv(result.argv)),
      exitCode: result.exitCode,
      durationMillis: result.durationMillis,
      output: lines.slice(2)
    }
  })
