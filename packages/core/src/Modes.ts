/**
 * Runbook modes from a file that operators edit while the agent runs: flip a runbook from
 * `dry_run` to `auto` (or back to `observe`) without a restart.
 *
 * ```yaml
 * # modes.yaml (JSON works too)
 * default: dry_run
 * runbooks:
 *   k8s.oom.six-signal: auto
 * ```
 *
 * `Modes.fromFile(path)` is a layer; with it, the mode of every incident (`Runbook.handle`,
 * `resume`, `run`, `Catalog.run`, `Agent.run`) is looked up in the file first: the runbook's entry,
 * else the file's `default`; only a runbook the file says nothing about falls back to the
 * environment (`BYTEPORT_MODE_<ID>`, `BYTEPORT_MODE`) and the runbook's default. A per-call
 * `{ mode }` still wins over all of them.
 *
 * The file is re-read when it changes: a watcher reloads it on every save (so a bad edit is reported
 * at once), and each lookup reads it again (a few bytes, once per incident), so the next incident
 * always sees the last good edit. Values
 * are case-insensitive (`AUTO` is `auto`). An invalid edit — not JSON/YAML, an unknown mode, an
 * unknown key, a deleted file — never crashes the agent and never changes a mode: the last good
 * table stays in force and a `ModesFileError` is logged (once per bad version), kept in `errors`,
 * and audited by the next incident (`config.invalid_mode`, as an invalid environment mode is). At layer construction an invalid or missing file fails the layer with that error, like
 * any configuration the agent refuses at startup.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer, Queue, Ref, Schema, Semaphore } from "effect"
import * as YAML from "yaml"
import type { Mode } from "./IncidentReport"
import * as Settings from "./Settings"

/** What a modes file says: a default for every runbook and per-runbook entries (both optional). */
export interface Table {
  readonly default?: Mode | undefined
  readonly runbooks: Readonly<Record<string, Mode>>
}

/** A modes file that cannot be used (unreadable, not JSON/YAML, an unknown mode or key). */
export class ModesFileError extends Schema.TaggedError<ModesFileError>()("ModesFileError", {
  /** The file. */
  path: Schema.String,
  message: Schema.String
}) {}

/** The source of modes the runbook mode lookup consults (see `fromFile`). */
export interface Source {
  /** Where the modes come from (the file's path). */
  readonly origin: string
  /** The mode for a runbook id (its entry, else the table's default), `undefined` when the source says nothing; re-reads a changed file first. */
  readonly modeOf: (runbookId: string) => Effect.Effect<Mode | undefined>
  /** The table in force (the last good version). */
  readonly current: Effect.Effect<Table>
  /** Every invalid version met so far, oldest first. */
  readonly errors: Effect.Effect<ReadonlyArray<ModesFileError>>
  /** Re-reads the file now if it changed (what the watcher and every lookup do). */
  readonly reload: Effect.Effect<void>
  /** The errors no incident has reported yet, and marks them reported (the mode lookup audits them as `config.invalid_mode`). */
  readonly takeUnreported: Effect.Effect<ReadonlyArray<ModesFileError>>
}

/** The modes source in force; none by default (then modes come from configuration only). */
export const Current: Context.Reference<Source | undefined> = Context.Reference<Source | undefined>("@byteport/core/Modes", {
  defaultValue: () => undefined
})

const topKeys = new Set(["default", "runbooks"])

/** Parses and validates a modes file's text (JSON or YAML); `file` names it in errors. */
export const parse = (file: string, text: string): Table | ModesFileError => {
  const fail = (message: string) => new ModesFileError({ path: file, message: `${file}: ${message}` })
  let raw: unknown
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text)
  } catch (e) {
    return fail(`not valid ${/\.json$/i.test(file) ? "JSON" : "YAML"}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`)
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return fail(`expected a mapping with "default" and/or "runbooks", got ${raw === null ? "nothing" : Array.isArray(raw) ? "a list" : typeof raw}`)
  }
  const obj = raw as Record<string, unknown>
  const unknownKeys = Object.keys(obj).filter((k) => !topKeys.has(k))
  if (unknownKeys.length > 0) return fail(`unknown key ${unknownKeys.map((k) => JSON.stringify(k)).join(", ")} (expected "default" and "runbooks")`)
  const modeAt = (where: string, v: unknown): Mode | ModesFileError => {
    const m = Settings.parseMode(v)
    return m ?? fail(`${where} must be observe, dry_run or auto (any case), got ${JSON.stringify(v)}`)
  }
  let dflt: Mode | undefined
  if (obj["default"] !== undefined) {
    const m = modeAt("default", obj["default"])
    if (m instanceof ModesFileError) return m
    dflt = m
  }
  const runbooks: Record<string, Mode> = {}
  const rb = obj["runbooks"]
  if (rb !== undefined && rb !== null) {
    if (typeof rb !== "object" || Array.isArray(rb)) return fail(`"runbooks" must map runbook ids to modes`)
    for (const [id, v] of Object.entries(rb as Record<string, unknown>)) {
      const m = modeAt(`runbooks.${id}`, v)
      if (m instanceof ModesFileError) return m
      runbooks[id] = m
    }
  }
  return { ...(dflt !== undefined ? { default: dflt } : {}), runbooks }
}

/** The mode a table gives a runbook: its entry, else the default, else `undefined`. */
export const lookup = (table: Table, runbookId: string): Mode | undefined =>
  Object.prototype.hasOwnProperty.call(table.runbooks, runbookId) ? table.runbooks[runbookId] : table.default

/** The file's text, or the error reading it. */
const readText = (file: string): string | ModesFileError => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (e) {
    return new ModesFileError({ path: file, message: `${file}: cannot be read: ${e instanceof Error ? e.message : String(e)}` })
  }
}

interface State {
  readonly table: Table
  /** The text (or read error) last looked at, good or bad: an unchanged file is not parsed or reported again. */
  readonly seen: string
  readonly errors: ReadonlyArray<ModesFileError>
  /** How many of `errors` an incident has reported (audited). */
  readonly reported: number
}

/**
 * Builds a modes source over a file (scoped: the watcher stops with the scope). Fails with
 * `ModesFileError` when the file is missing or invalid now.
 */
export const make = (file: string) =>
  Effect.gen(function*() {
    const abs = path.resolve(file)
    const text = readText(abs)
    if (text instanceof ModesFileError) return yield* text
    const table = parse(abs, text)
    if (table instanceof ModesFileError) return yield* table
    const state = yield* Ref.make<State>({ table, seen: text, errors: [], reported: 0 })
    const lock = yield* Semaphore.make(1)

    // The file is tiny and read once per lookup (once per incident): no missed edit, whatever
    // the file system's timestamp resolution.
    const reload: Effect.Effect<void> = lock.withPermits(1)(Effect.gen(function*() {
      const s = yield* Ref.get(state)
      const now = readText(abs)
      const seen = now instanceof ModesFileError ? `\u0000${now.message}` : now
      if (seen === s.seen) return
      const next = now instanceof ModesFileError ? now : parse(abs, now)
      if (next instanceof ModesFileError) {
        yield* Ref.set(state, { ...s, seen, errors: [...s.errors, next] })
        yield* Effect.logError(`${next.message}; keeping the last good modes`).pipe(Effect.annotateLogs({ modesFile: abs, error: "ModesFileError" }))
        return
      }
      yield* Ref.set(state, { ...s, table: next, seen })
      yield* Effect.logInfo(`modes reloaded from ${abs}`).pipe(Effect.annotateLogs({ modesFile: abs }))
    }))

    // Reload on every change the OS reports (editors often replace the file: watch its directory).
    // The watcher exists once the layer is built; a fiber in the layer's scope does the reloads.
    const changes = yield* Queue.sliding<void>(1)
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        try {
          return fs.watch(path.dirname(abs), { persistent: false }, (_event, name) => {
            if (name === null || name === path.basename(abs)) Queue.offerUnsafe(changes, undefined)
          })
        } catch {
          return undefined // no watcher (e.g. the directory vanished): lookups still read the file
        }
      }),
      (w) => Effect.sync(() => w?.close())
    )
    // (50 ms after an event, so a save in progress is read whole, not as a truncated file)
    yield* Queue.take(changes).pipe(Effect.andThen(Effect.sleep("50 millis")), Effect.andThen(reload), Effect.forever, Effect.forkScoped)

    return {
      origin: abs,
      modeOf: (runbookId: string) => Effect.andThen(reload, Effect.map(Ref.get(state), (s) => lookup(s.table, runbookId))),
      current: Effect.andThen(reload, Effect.map(Ref.get(state), (s) => s.table)),
      errors: Effect.map(Ref.get(state), (s) => s.errors),
      reload,
      takeUnreported: Ref.modify(state, (s): [ReadonlyArray<ModesFileError>, State] => [s.errors.slice(s.reported), { ...s, reported: s.errors.length }])
    } satisfies Source
  })

/**
 * The layer: modes from `file` (JSON or YAML), re-read on change, consulted by every runbook's
 * mode lookup. Fails at construction with `ModesFileError` when the file is missing or invalid.
 *
 * @example
 * ```ts
 * import { Modes } from "@byteport/core"
 * import { Effect } from "effect"
 * // modes.yaml: { default: dry_run, runbooks: { k8s.oom.six-signal: auto } }
 * declare const program: Effect.Effect<void>
 * program.pipe(Effect.provide(Modes.fromFile("/etc/byteport/modes.yaml")))
 * ```
 */
export const fromFile = (file: string): Layer.Layer<never, ModesFileError> =>
  Layer.effect(Current, Effect.map(make(file), (s): Source | undefined => s))
