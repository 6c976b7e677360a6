/**
 * The TLS servers BytePort reloads after a certificate swap, each behind one `Server` interface:
 * `check` validates the live configuration without changing anything (the dry run's server-side
 * validation: `nginx -t`, `haproxy -c`, `caddy validate`), `reload` makes the server read its
 * certificate files again and confirms it did (a new worker generation, a new haproxy worker,
 * Caddy's admin API answering 200). Commands are argv arrays run through core's `Shell`.
 *
 * @since 0.1.0
 */
import { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"

/** A server check or reload failed. `output` is the command's redacted stderr tail, never a file's content. */
export class ReloadFailed extends Schema.TaggedError<ReloadFailed>()("ReloadFailed", {
  server: Schema.String,
  message: Schema.String,
  output: Schema.optional(Schema.String)
}) {}

/** What a reload did. */
export interface Reloaded {
  readonly server: string
  /** A sentence: "nginx -s reload: workers 101 → 205". */
  readonly detail: string
}

/** One reloadable server. */
export interface Server {
  /** `nginx`, `haproxy`, `caddy`. */
  readonly kind: string
  /** Validates the configuration as it is on disk now; writes nothing, reloads nothing. */
  readonly check: Effect.Effect<string, ReloadFailed, Shell.Shell>
  /** Reloads and confirms the server took it. */
  readonly reload: Effect.Effect<Reloaded, ReloadFailed, Shell.Shell>
}

/** The last lines of a command's stderr/stdout (commands here never print key material). */
export const tail = (text: string, lines = 5): string => text.trim().split("\n").slice(-lines).join("\n")

/** Runs argv; a non-zero exit or a spawn failure is a `ReloadFailed` naming the command. */
export const runChecked = (server: string, argv: ReadonlyArray<string>, what: string) =>
  Effect.gen(function*() {
    const r = yield* Shell.run(argv, { timeout: 30_000 }).pipe(
      Effect.mapError((e) => new ReloadFailed({ server, message: `${what}: ${Shell.formatArgv(argv)} could not run (${e.reason})` }))
    )
    if (r.exitCode !== 0) {
      return yield* new ReloadFailed({ server, message: `${what}: ${Shell.formatArgv(argv)} exited ${r.exitCode}`, output: tail(r.stderr || r.stdout) })
    }
    return r
  })

/** Polls `probe` (every 50 ms after a miss) until it returns a value or `timeoutMillis` (real time) passes. */
export const poll = <A, E, R>(probe: Effect.Effect<A | undefined, E, R>, timeoutMillis: number): Effect.Effect<A | undefined, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const a = yield* probe
      if (a !== undefined || Date.now() > deadline) return a
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
    }
  })
