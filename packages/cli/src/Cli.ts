/**
 * The `byteport` command line (moved here from `@byteport/core`, whose library functions stay):
 *
 * ```
 * byteport replay <runbook-id> <fixture-dir> [--json]       what the runbook would do, no socket, no write
 * byteport replay <runbook-module> <fixture.json|yaml>      the same for a module exporting a ReplayModule
 * byteport record <runbook-id> --target <ref> --out <dir>   save what the runbook's probes read, redacted
 * byteport run --config <file>                              run the agent (SIGTERM: finish the step, exit 0)
 * byteport approve <incidentId> --digest <d> --approver <name> [--ttl 30m] [--comment <text>]
 * byteport pending <incidentId>
 * ```
 *
 * Exit codes are per command (see the README): replay 0 plan, 1 no action, 2 usage or bad
 * fixture, 3 a guardrail denies, 4 error; approve/pending 0 done, 1 usage or bad input,
 * 2 unknown incident, 3 stale digest or not paused, 4 store error; record 0 saved, 2 usage or
 * unsupported runbook, 4 cluster error; run 0 stopped by a signal, 2 usage or bad config, 4 error.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { pathToFileURL } from "node:url"
import { Approval, FileStore } from "@byteport/core"
import { Effect, Layer } from "effect"
import { onlyFlags, parseArgs, parseTtl, Usage } from "./Args"
import * as Record from "./Record"
import * as Replay from "./Replay"
import * as Run from "./Run"

/** The usage text. */
export const usage = `usage:
  byteport replay <runbook-id> <fixture-dir> [--json]
  byteport replay <runbook-module> <fixture.json|fixture.yaml>
  byteport record <runbook-id> --target <ref> --out <dir> [--kubeconfig <file>] [--context <name>]
  byteport run --config <file.yaml|file.json>
  byteport approve <incidentId> --digest <planDigest> --approver <name> [--ttl 30m] [--comment <text>]
  byteport pending <incidentId>

environment:
  BYTEPORT_STORE_DIR   the FileStore directory of approve/pending (default .byteport/store)
  KUBECONFIG           the kubeconfig of record and run (unless --kubeconfig / the config file say)`

const out = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

const storeLayer = FileStore.layerConfig

const approve = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const parsed = parseArgs(argv)
    const { positionals, flags } = parsed
    const incidentId = positionals[0]
    const digest = flags.get("digest")
    const approver = flags.get("approver")
    if (!incidentId || !digest || !approver || positionals.length > 1) throw new Usage("approve needs <incidentId> --digest <d> --approver <name>")
    onlyFlags(parsed, ["digest", "approver", "ttl", "comment"])
    const ttl = parseTtl(flags.get("ttl") ?? "30m")
    const comment = flags.get("comment")
    const record = yield* Approval.approve(incidentId, { planDigest: digest, approver, ...(comment ? { comment } : {}) }, { ttl })
    yield* out(`approved ${incidentId}: plan ${record.planDigest} by ${record.approver} until ${new Date(record.expiresAt).toISOString()}`)
  }).pipe(Effect.provide(Layer.orDie(storeLayer)))

const pending = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { positionals } = parseArgs(argv)
    const incidentId = positionals[0]
    if (!incidentId) throw new Usage("pending needs <incidentId>")
    const p = yield* Approval.pending(incidentId)
    yield* out(p ? JSON.stringify(p, null, 2) : `${incidentId} is not waiting for an approval`)
  }).pipe(Effect.provide(Layer.orDie(storeLayer)))

/** A file argument is a replay module (runbook ids are never files). */
const isModule = (arg: string) => {
  try {
    return fs.statSync(arg).isFile()
  } catch {
    return false
  }
}

const replayModule = (moduleArg: string, fixtureArg: string) =>
  Effect.gen(function*() {
    // loaded here: @byteport/core/testing imports @effect/vitest (an optional peer)
    const { asReplayModule, InvalidReplayModule, renderReplay, replayFile } = yield* Effect.promise(() => import("@byteport/core/testing"))
    const modulePath = nodePath.resolve(moduleArg)
    const mod = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(modulePath).href) as Promise<Record<string, unknown>>,
      catch: (e) => new InvalidReplayModule({ module: moduleArg, message: `cannot import ${moduleArg}: ${(e as Error).message}` })
    })
    const rm = yield* asReplayModule(moduleArg, mod)
    const text = yield* Effect.try({
      try: () => fs.readFileSync(fixtureArg, "utf8"),
      catch: (e) => new InvalidReplayModule({ module: moduleArg, message: `cannot read ${fixtureArg}: ${(e as Error).message}` })
    })
    const r = yield* replayFile(rm, fixtureArg, text)
    yield* out(renderReplay(r))
    return 0
  })

const replay = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const parsed = parseArgs(argv, ["json"])
    const [first, second] = parsed.positionals
    if (!first || !second || parsed.positionals.length > 2) throw new Usage("replay needs <runbook-id> <fixture-dir>")
    onlyFlags(parsed, [])
    if (isModule(first)) return yield* replayModule(first, second)
    const r = yield* Replay.replay(first, second)
    yield* out(parsed.switches.has("json") ? Replay.toJson(r) : Replay.render(r))
    return r.exitCode
  })

/** The exit code of a failed command. */
const codeOf = (command: string, err: unknown): number => {
  const tag = err && typeof err === "object" && "_tag" in err ? String((err as { _tag: unknown })._tag) : "Error"
  if (command === "replay") {
    // the module form keeps core's codes: 1 a bad fixture, 4 a bad module
    return tag === "FixtureError" || tag === "UnknownRunbook" ? 2 : 4
  }
  if (command === "record" || command === "run") return tag === "Usage" || tag === "UnsupportedRunbook" || tag === "BadConfig" ? 2 : 4
  return tag === "UnknownIncident"
    ? 2
    : tag === "StaleDigest" || tag === "NotAwaiting"
    ? 3
    : tag === "InvalidApproval" || tag === "FixtureError"
    ? 1
    : 4
}

const usageCode = (command: string) => (command === "replay" || command === "record" || command === "run" ? 2 : 1)

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [command, ...rest] = argv
  if (command === "--help" || command === "help") {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  try {
    const program: Effect.Effect<number | void, unknown> | undefined = command === "approve"
      ? approve(rest)
      : command === "pending"
      ? pending(rest)
      : command === "replay"
      ? replay(rest)
      : command === "record"
      ? Record.command(rest)
      : command === "run"
      ? Run.command(rest)
      : undefined
    if (!program || command === undefined) {
      process.stderr.write(`${command ? `unknown command ${command}\n` : ""}${usage}\n`)
      return 1
    }
    const exit = await Effect.runPromiseExit(program)
    if (exit._tag === "Success") return typeof exit.value === "number" ? exit.value : 0
    const reason = exit.cause.reasons[0]
    const err: unknown = reason?._tag === "Fail" ? reason.error : reason?._tag === "Die" ? reason.defect : undefined
    if (err instanceof Usage) {
      process.stderr.write(`${err.message}\n${usage}\n`)
      return usageCode(command)
    }
    // a fixture error of the module form of replay keeps core's exit code 1
    if (command === "replay" && err && typeof err === "object" && (err as { _tag?: string })._tag === "FixtureError" && isModule(rest[0] ?? "")) {
      process.stderr.write(`byteport replay: FixtureError: ${(err as Error).message}\n`)
      return 1
    }
    const tag = err && typeof err === "object" && "_tag" in err ? String((err as { _tag: unknown })._tag) : "Error"
    process.stderr.write(`byteport ${command}: ${tag}: ${(err as { message?: string } | undefined)?.message ?? String(exit.cause)}\n`)
    return codeOf(command, err)
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}\n`)
    return usageCode(command ?? "")
  }
}
