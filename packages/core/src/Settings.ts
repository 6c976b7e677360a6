/**
 * Validated configuration keys. Every number of the seed is a default that configuration may
 * change — so a value that cannot work (a zero or negative timeout, retry count or cap, a port
 * out of range, a mode that does not exist) must be refused where it is read: a typed
 * `ConfigError` naming the key, when the agent starts, never a failure or a silent fallback in
 * an incident. Domain packages read their keys through these too.
 *
 * @example
 * ```ts
 * import { Config, Effect } from "effect"
 * import { Settings } from "@byteport/core"
 * const timeoutMs = Settings.positiveInt("BYTEPORT_PG_STATEMENT_TIMEOUT_MS").pipe(Config.withDefault(10_000))
 * // BYTEPORT_PG_STATEMENT_TIMEOUT_MS=0 → ConfigError: BYTEPORT_PG_STATEMENT_TIMEOUT_MS must be a positive integer, got 0
 * ```
 *
 * @since 0.2.0
 */
import { Config, ConfigProvider, Effect, Schema } from "effect"
import type { Mode } from "./IncidentReport"

const check = <T>(base: Schema.Codec<T, unknown>, ok: (t: T) => boolean, expected: string) => (key: string): Config.Config<T> =>
  Config.schema(
    (base as Schema.Codec<T, unknown>).check(Schema.makeFilter((t: T) => ok(t) || `${key} must be ${expected}, got ${JSON.stringify(t)}`)) as unknown as Schema.ConstraintCodec<T, unknown>,
    key
  )

/** An integer > 0 (timeouts in ms, caps, pool sizes, counts per window). */
export const positiveInt: (key: string) => Config.Config<number> = (key) => check(Schema.Int, (n: number) => n > 0, "a positive integer")(key)

/** An integer ≥ 0 (retries: 0 means "try once"). */
export const nonNegativeInt: (key: string) => Config.Config<number> = (key) => check(Schema.Int, (n: number) => n >= 0, "an integer ≥ 0")(key)

/** A finite number > 0 (seconds, minutes). */
export const positiveNumber: (key: string) => Config.Config<number> = (key) => check(Schema.Finite, (n: number) => n > 0, "a finite number > 0")(key)

/** A finite number ≥ 0 (warm-up seconds: 0 means none). */
export const nonNegativeNumber: (key: string) => Config.Config<number> = (key) => check(Schema.Finite, (n: number) => n >= 0, "a finite number ≥ 0")(key)

/** A finite number > 1 (growth factors: a bump by ×1 is no bump). */
export const factor: (key: string) => Config.Config<number> = (key) => check(Schema.Finite, (n: number) => n > 1, "a finite number > 1")(key)

/** A ratio in (0, 1] (shares of a limit or of allocatable memory). */
export const ratio: (key: string) => Config.Config<number> = (key) => check(Schema.Finite, (n: number) => n > 0 && n <= 1, "a number in (0, 1]")(key)

/** A probability in [0, 1] (confidences, correlations). */
export const probability: (key: string) => Config.Config<number> = (key) => check(Schema.Finite, (n: number) => n >= 0 && n <= 1, "a number in [0, 1]")(key)

/** A TCP port, 1–65535 (or 0, "any free port", with `allowAny`). */
export const port = (key: string, options: { readonly allowAny?: boolean } = {}): Config.Config<number> =>
  check(Schema.Int, (n: number) => n <= 65_535 && (options.allowAny ? n >= 0 : n >= 1), options.allowAny ? "a port in 0–65535 (0: any free port)" : "a port in 1–65535")(key)

/**
 * A strict boolean: `true` or `false` (any case, surrounding spaces ignored). Anything else
 * (`yes`, `1`, `ture`) is a `ConfigError` naming the key, so an opt-in such as
 * `BYTEPORT_AUTO_REPLACE_NODES` is never silently read as off (or on).
 */
export const boolean = (key: string): Config.Config<boolean> =>
  check(Schema.String, (s: string) => ["true", "false"].includes(s.trim().toLowerCase()), "true or false")(key).pipe(
    Config.map((s) => s.trim().toLowerCase() === "true")
  )

/** The modes, in trust order. */
export const modes: ReadonlyArray<Mode> = ["observe", "dry_run", "auto"]

/** A mode (`observe`, `dry_run`, `auto`), case-insensitive (`AUTO` is `auto`). */
export const mode = (key: string): Config.Config<Mode> =>
  check(Schema.String, (s: string) => (modes as ReadonlyArray<string>).includes(s.trim().toLowerCase()), "observe, dry_run or auto (any case)")(key).pipe(
    Config.map((s) => s.trim().toLowerCase() as Mode)
  )

/** A mode from any value, case-insensitive (`" AUTO "` is `auto`); `undefined` for anything else. */
export const parseMode = (value: unknown): Mode | undefined => {
  if (typeof value !== "string") return undefined
  const m = value.trim().toLowerCase()
  return (modes as ReadonlyArray<string>).includes(m) ? (m as Mode) : undefined
}

/** The mode key of a runbook id: `k8s.oom.six-signal` → `BYTEPORT_MODE_K8S_OOM_SIX_SIGNAL`. */
export const modeKey = (runbookId: string): string => `BYTEPORT_MODE_${runbookId.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`

/**
 * The mode keys the current provider holds: `BYTEPORT_MODE` and every `BYTEPORT_MODE_*` it can
 * list (environment-style providers list their keys; others contribute what `extra` names).
 */
export const modeKeys = (extra: ReadonlyArray<string> = []): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const provider = yield* ConfigProvider.ConfigProvider
    const found = new Set<string>(["BYTEPORT_MODE", ...extra])
    const walk = (path: ReadonlyArray<string>, depth: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (depth > 12) return
        const node = yield* provider.load(path).pipe(Effect.orElseSucceed(() => undefined))
        if (!node || node._tag !== "Record") return
        for (const k of node.keys) {
          const next = [...path, k]
          if (next.length > 2) found.add(next.join("_"))
          yield* walk(next, depth + 1)
        }
      })
    yield* walk(["BYTEPORT", "MODE"], 0)
    return [...found]
  })

/**
 * Validates every mode key (see `modeKeys`): an unknown mode (`BYTEPORT_MODE=atuo`) is a
 * `ConfigError` naming the key.
 */
export const validateModes = (extra: ReadonlyArray<string> = []): Effect.Effect<void, Config.ConfigError> =>
  Effect.gen(function*() {
    for (const key of yield* modeKeys(extra)) yield* Config.option(mode(key))
  })

/**
 * Validates a count read from any `Config` (e.g. `Config.Int("max_restarts_per_hour")` given to
 * `Guardrail.rateLimit`) as a positive integer, naming the key it was read from: a value of 0 or
 * less is a `ConfigError` here, at startup, instead of a runtime denial. Returns the value.
 */
export const positiveCount = (config: Config.Config<number>): Effect.Effect<number, Config.ConfigError> =>
  Effect.gen(function*() {
    const provider = yield* ConfigProvider.ConfigProvider
    const read: Array<string> = []
    const recording = ConfigProvider.make((path) => Effect.tap(provider.load(path), (node) => Effect.sync(() => {
      if (node && node._tag === "Value") read.push(path.map(String).join("_"))
    })))
    const n = yield* config.parse(recording)
    const key = read[read.length - 1] ?? "a configured count"
    return yield* positiveInt(key).parse(ConfigProvider.fromUnknown({ [key]: Number.isFinite(n) ? String(n) : "NaN" }))
  })

/** Reads every configuration check given (Configs or validators) once; the first invalid one fails. */
export const validateAll = (checks: ReadonlyArray<Effect.Effect<unknown, Config.ConfigError>>): Effect.Effect<void, Config.ConfigError> =>
  Effect.forEach(checks, (c) => c, { discard: true })
