#!/usr/bin/env node
/**
 * The `byteport` command line.
 *
 * ```
 * byteport approve <incidentId> --digest <planDigest> --approver <name> [--ttl 30m] [--comment <text>]
 *     Approves a paused incident in the FileStore at BYTEPORT_STORE_DIR (default .byteport/store).
 * byteport pending <incidentId>
 *     Prints what a paused incident waits for (its plan digest and deadline).
 * byteport replay <runbook-module> <fixture>
 *     Prints the plan the module's runbook would build for the fixture. No writes.
 * ```
 *
 * Exit codes: 0 done; 1 usage or bad input; 2 unknown incident; 3 stale digest or not paused;
 * 4 store or module error.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { pathToFileURL } from "node:url"
import { Duration, Effect, Layer } from "effect"
import * as Approval from "./Approval"
import * as FileStore from "./stores/FileStore"
import * as Replay from "./testing/Replay"

/** A usage error (exit code 1). */
class Usage extends Error {}

/** The usage text. */
export const usage = `usage:
  byteport approve <incidentId> --digest <planDigest> --approver <name> [--ttl 30m] [--comment <text>]
  byteport pending <incidentId>
  byteport replay <runbook-module> <fixture.json|fixture.yaml>

environment:
  BYTEPORT_STORE_DIR   the FileStore directory (default .byteport/store)`

/** Parses `30m`, `2h`, `90s`, `1d`, `500ms` or an Effect duration ("30 minutes"). */
export const parseTtl = (text: string): Duration.Duration => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (m) {
    const n = Number(m[1])
    const unit = { ms: "millis", s: "seconds", m: "minutes", h: "hours", d: "days" }[m[2] as "ms" | "s" | "m" | "h" | "d"]
    return Duration.fromInputUnsafe(`${n} ${unit}` as Duration.Input)
  }
  const d = Duration.fromInput(text as Duration.Input)
  if (d._tag === "None" || Duration.toMillis(d.value) <= 0) throw new Usage(`--ttl ${text}: expected a duration like 30m, 2h or 90s`)
  return d.value
}

/** Splits argv into positionals and `--flag value` options. */
export const parseArgs = (argv: ReadonlyArray<string>): { readonly positionals: Array<string>; readonly flags: Map<string, string> } => {
  const positionals: Array<string> = []
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a.startsWith("--")) {
      const eq = a.indexOf("=")
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1))
      else {
        const v = argv[i + 1]
        if (v === undefined || v.startsWith("--")) throw new Usage(`${a} needs a value`)
        flags.set(a.slice(2), v)
        i++
      }
    } else positionals.push(a)
  }
  return { positionals, flags }
}

const out = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

const storeLayer = FileStore.layerConfig

const approve = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { positionals, flags } = parseArgs(argv)
    const incidentId = positionals[0]
    const digest = flags.get("digest")
    const approver = flags.get("approver")
    if (!incidentId || !digest || !approver || positionals.length > 1) throw new Usage("approve needs <incidentId> --digest <d> --approver <name>")
    for (const k of flags.keys()) if (!["digest", "approver", "ttl", "comment"].includes(k)) throw new Usage(`unknown option --${k}`)
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

const replay = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { positionals } = parseArgs(argv)
    const [moduleArg, fixtureArg] = positionals
    if (!moduleArg || !fixtureArg || positionals.length > 2) throw new Usage("replay needs <runbook-module> <fixture>")
    const modulePath = nodePath.resolve(moduleArg)
    const mod = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(modulePath).href) as Promise<Record<string, unknown>>,
      catch: (e) => new Replay.InvalidReplayModule({ module: moduleArg, message: `cannot import ${moduleArg}: ${(e as Error).message}` })
    })
    const rm = yield* Replay.asReplayModule(moduleArg, mod)
    const text = yield* Effect.try({
      try: () => fs.readFileSync(fixtureArg, "utf8"),
      catch: (e) => new Replay.InvalidReplayModule({ module: moduleArg, message: `cannot read ${fixtureArg}: ${(e as Error).message}` })
    })
    const r = yield* Replay.replayFile(rm, fixtureArg, text)
    yield* out(Replay.render(r))
  })

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [command, ...rest] = argv
  try {
    const program = command === "approve"
      ? approve(rest)
      : command === "pending"
      ? pending(rest)
      : command === "replay"
      ? replay(rest)
      : undefined
    if (!program) {
      process.stderr.write(`${command ? `unknown command ${command}\n` : ""}${usage}\n`)
      return command === undefined || command === "--help" || command === "help" ? (command ? 0 : 1) : 1
    }
    const exit = await Effect.runPromiseExit(program as Effect.Effect<void, unknown>)
    if (exit._tag === "Success") return 0
    const reason = exit.cause.reasons[0]
    const err: any = reason?._tag === "Fail" ? reason.error : reason?._tag === "Die" ? reason.defect : undefined
    if (err instanceof Usage) {
      process.stderr.write(`${err.message}\n${usage}\n`)
      return 1
    }
    const tag = err && typeof err === "object" && "_tag" in err ? String(err._tag) : "Error"
    process.stderr.write(`byteport ${command}: ${tag}: ${err?.message ?? String(exit.cause)}\n`)
    return tag === "UnknownIncident"
      ? 2
      : tag === "StaleDigest" || tag === "NotAwaiting"
      ? 3
      : tag === "InvalidApproval" || tag === "FixtureError"
      ? 1
      : 4
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}\n`)
    return 1
  }
}

const isMain = (() => {
  const entry = process.argv[1]
  if (!entry) return false
  try {
    return fs.realpathSync(entry) === fs.realpathSync(new URL(import.meta.url).pathname)
  } catch {
    return false
  }
})()

if (isMain) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
}
