/**
 * How a test asks for a real server. The root vitest globalSetup (scripts/vitest-global-setup.ts)
 * starts them and provides their settings; a test file wraps its suite in
 * `describeWithServices(["postgres"], "name", (env) => { ... })`. A missing service skips the
 * suite with the reason in its title, except under CI=true, where it fails.
 */
import { ConfigProvider, Layer } from "effect"
import { describe, inject } from "vitest"
import type { ServiceName } from "../../../../scripts/vitest-global-setup"

export type { ServiceName }

/** The settings of the running services (`BYTEPORT_TEST_*`), or an empty record. */
export const servicesEnv = (): Readonly<Record<string, string>> => inject("byteportServices")?.env ?? {}

/** `undefined` if every service is up, else why not. */
export const unavailable = (names: ReadonlyArray<ServiceName>): string | undefined => {
  const ctx = inject("byteportServices")
  if (ctx === undefined) return "no byteportServices context (run through the root vitest config)"
  const missing = names.filter((n) => !ctx.up.includes(n))
  if (missing.length === 0) return undefined
  return missing.map((n) => `${n}: ${ctx.failures[n] ?? "not running"}`).join("; ")
}

const isCI = () => process.env.CI === "true" || process.env.CI === "1"

/** Asserts the services are up; throws (under CI) or returns false so the caller can skip. */
export const requireService = (...names: ReadonlyArray<ServiceName>): boolean => {
  const reason = unavailable(names)
  if (reason === undefined) return true
  if (isCI()) throw new Error(`required test services are not available (CI=true): ${reason}`)
  return false
}

/** A `describe` that runs only when the named services are up. */
export const describeWithServices = (
  names: ReadonlyArray<ServiceName>,
  title: string,
  body: (env: Readonly<Record<string, string>>) => void
): void => {
  const reason = unavailable(names)
  if (reason !== undefined && isCI()) throw new Error(`required test services are not available (CI=true): ${reason}`)
  const env = servicesEnv()
  if (reason === undefined) describe(title, () => body(env))
  else describe.skip(`${title} [skipped: ${reason}]`, () => body(env))
}

/** A ConfigProvider layer over the given record (for `Postgres.layerConfig` and friends). */
export const configFrom = (record: Readonly<Record<string, string>>) =>
  ConfigProvider.layer(ConfigProvider.fromEnvRecord(record)) as Layer.Layer<never>
