/**
 * The append-only audit log: one JSON line per event of every incident (opened, planned,
 * decided, applied, verdict, escalated …), redacted before it is written.
 *
 * The default implementation appends to a JSONL file (`BYTEPORT_AUDIT_LOG`, default
 * `.byteport/audit.jsonl`) opened with `O_APPEND`, one `write` per line, so several processes on
 * one host can share the file without interleaving lines. An in-memory implementation serves tests.
 *
 * **Failure policy.** `record` never fails and never dies: the agent loop must not stop because
 * the audit log cannot be written. An I/O error (unwritable directory, full disk …) is logged at
 * Error level (redacted) and counted in `failures`; the next `record` tries again (the file is
 * re-opened). Operators alert on the `failures` count or on the logged errors.
 *
 * @since 0.1.0
 */
import { mkdir, open, readFile } from "node:fs/promises"
import type { FileHandle } from "node:fs/promises"
import { dirname } from "node:path"
import { Cause, Clock, Config, Context, Effect, Layer, Ref, Scope, Semaphore } from "effect"
import type { Json } from "./Json"
import * as Redactor from "./Redactor"

/** The default path of the audit log. */
export const DEFAULT_PATH = ".byteport/audit.jsonl"

/** An entry to record. `at` (epoch ms) defaults to the Clock's current time. */
export interface Entry {
  readonly at?: number
  readonly incidentId: string
  readonly runbook: string
  readonly event: string
  readonly data?: unknown
}

/** One written line of the audit log (`data` redacted). */
export interface Line {
  readonly at: number
  /** `at` as a UTC ISO-8601 string, for humans and `grep`. */
  readonly time: string
  readonly incidentId: string
  readonly runbook: string
  readonly event: string
  readonly data: Json
}

/** The audit log's operations. */
export interface Shape {
  /** Appends one entry (redacted). Never fails: errors are logged and counted. */
  readonly record: (entry: Entry) => Effect.Effect<void>
  /** The lines recorded so far (the file implementation reads its file back; unparseable lines are skipped). */
  readonly entries: Effect.Effect<ReadonlyArray<Line>>
  /** How many `record` calls could not be written. */
  readonly failures: Effect.Effect<number>
}

/** The Audit service. */
export class Audit extends Context.Service<Audit, Shape>()("@byteport/core/Audit") {}

/** Builds the redacted line for an entry. */
export const toLine = (redactor: Redactor.Shape, entry: Entry, now: number): Line => {
  const at = typeof entry.at === "number" && Number.isFinite(entry.at) ? entry.at : now
  return {
    at,
    time: new Date(at).toISOString(),
    incidentId: redactor.redactString(String(entry.incidentId)),
    runbook: redactor.redactString(String(entry.runbook)),
    event: redactor.redactString(String(entry.event)),
    data: redactor.redact(entry.data ?? null)
  }
}

/** Records one entry with the Audit service. */
export const record = (entry: Entry): Effect.Effect<void, never, Audit> => Effect.flatMap(Effect.service(Audit), (a) => a.record(entry))

/** Runs `effect`; any failure or defect (not interruption) is logged redacted and counted instead of propagated. */
const neverFail = (
  redactor: Redactor.Shape,
  failures: Ref.Ref<number>,
  what: string,
  effect: Effect.Effect<void, unknown>
): Effect.Effect<void> =>
  Effect.catchCause(effect, (cause) =>
    Cause.hasInterruptsOnly(cause)
      ? Effect.failCause(cause as Cause.Cause<never>)
      : Effect.andThen(
        Ref.update(failures, (n) => n + 1),
        Effect.logError(redactor.redactString(`audit: ${what} failed: ${describe(Cause.squash(cause))}`))
      ))

const describe = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))

/** An in-memory audit log (tests). */
export const makeMemory = (redactor: Redactor.Shape): Effect.Effect<Shape> =>
  Effect.gen(function*() {
    const lines = yield* Ref.make<ReadonlyArray<Line>>([])
    const failures = yield* Ref.make(0)
    return {
      record: (entry) =>
        neverFail(
          redactor,
          failures,
          "record",
          Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(lines, (xs) => [...xs, toLine(redactor, entry, now)]))
        ),
      entries: Ref.get(lines),
      failures: Ref.get(failures)
    } satisfies Shape
  })

/**
 * An audit log appending JSON lines to `path` (directories created as needed). The file is
 * opened on first use with `O_APPEND` and closed when the scope ends; writes are serialized.
 */
export const makeFile = (redactor: Redactor.Shape, path: string): Effect.Effect<Shape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const failures = yield* Ref.make(0)
    const lock = yield* Semaphore.make(1)
    let handle: FileHandle | undefined

    const ensureOpen = Effect.tryPromise({
      try: async () => {
        if (handle) return handle
        await mkdir(dirname(path), { recursive: true })
        handle = await open(path, "a", 0o640)
        return handle
      },
      catch: (e) => e
    })

    const writeAll = (fh: FileHandle, buf: Buffer) =>
      Effect.tryPromise({
        try: async () => {
          let off = 0
          while (off < buf.length) {
            const { bytesWritten } = await fh.write(buf, off, buf.length - off)
            off += bytesWritten
          }
        },
        catch: (e) => e
      })

    const closeHandle = Effect.promise(async () => {
      const h = handle
      handle = undefined
      if (h) await h.close().catch(() => undefined)
    })

    yield* Effect.addFinalizer(() => lock.withPermits(1)(closeHandle))

    const record = (entry: Entry): Effect.Effect<void> =>
      neverFail(
        redactor,
        failures,
        `record to ${path}`,
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const buf = Buffer.from(JSON.stringify(toLine(redactor, entry, now)) + "\n", "utf8")
          yield* lock.withPermits(1)(
            Effect.gen(function*() {
              const fh = yield* ensureOpen
              // on a write error, drop the handle so the next record re-opens the file
              yield* Effect.tapError(writeAll(fh, buf), () => closeHandle)
            })
          )
        })
      )

    const entries = Effect.map(
      Effect.promise(() => readFile(path, "utf8").catch(() => "")),
      (text) => {
        const out: Array<Line> = []
        for (const l of text.split("\n")) {
          if (l.trim() === "") continue
          try {
            out.push(JSON.parse(l) as Line)
          } catch {
            // a torn or foreign line: skipped
          }
        }
        return out
      }
    )

    return { record, entries, failures: Ref.get(failures) } satisfies Shape
  })

/** The in-memory layer (needs a Redactor). */
export const layerMemory: Layer.Layer<Audit, never, Redactor.Redactor> = Layer.effect(
  Audit,
  Effect.flatMap(Effect.service(Redactor.Redactor), makeMemory)
)

/** A file layer at an explicit path (needs a Redactor). */
export const layerFile = (path: string): Layer.Layer<Audit, never, Redactor.Redactor> =>
  Layer.effect(Audit, Effect.flatMap(Effect.service(Redactor.Redactor), (r) => makeFile(r, path)))

/** The path configured by `BYTEPORT_AUDIT_LOG` (default `.byteport/audit.jsonl`). */
export const pathConfig: Config.Config<string> = Config.String("BYTEPORT_AUDIT_LOG").pipe(Config.withDefault(DEFAULT_PATH))

/** The default layer: a JSONL file at `BYTEPORT_AUDIT_LOG` (default `.byteport/audit.jsonl`). */
export const layer: Layer.Layer<Audit, Config.ConfigError, Redactor.Redactor> = Layer.effect(
  Audit,
  Effect.gen(function*() {
    const path = yield* pathConfig
    const r = yield* Redactor.Redactor
    return yield* makeFile(r, path)
  })
)
