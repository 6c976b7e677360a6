/**
 * The loopback sshd of scripts/services.sh for the Ssh and SFTP tests. `describeWithSshd` runs its
 * suite when sshd is up; a missing sshd skips it with the reason in its title, except under
 * CI=true, where it fails.
 */
import { describe, inject } from "vitest"
import type { Ssh } from "../../src/index"

const isCI = () => process.env["CI"] === "true" || process.env["CI"] === "1"

/** The settings of the test sshd (`BYTEPORT_TEST_SSHD_*`). */
export interface Sshd {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly key: string
  readonly knownHosts: string
  readonly hostKeyPub: string
  /** The listening sshd's pid. */
  readonly pid: string
  /** Options for `Ssh.connect` / `Ssh.layer` that log in with the test key. */
  readonly options: Ssh.Options
}

const sshdOf = (env: Readonly<Record<string, string>>): Sshd => {
  const host = env["BYTEPORT_TEST_SSHD_HOST"]!
  const port = Number(env["BYTEPORT_TEST_SSHD_PORT"])
  const user = env["BYTEPORT_TEST_SSHD_USER"]!
  const key = env["BYTEPORT_TEST_SSHD_KEY"]!
  const knownHosts = env["BYTEPORT_TEST_SSHD_KNOWN_HOSTS"]!
  return {
    host,
    port,
    user,
    key,
    knownHosts,
    hostKeyPub: env["BYTEPORT_TEST_SSHD_HOST_KEY_PUB"]!,
    pid: env["BYTEPORT_TEST_SSHD_PID"]!,
    options: { host, port, username: user, privateKeyPath: key, knownHostsPath: knownHosts, killGraceMillis: 300 }
  }
}

/** A `describe` that runs only when the test sshd is up (fails under CI=true when it is not). */
export const describeWithSshd = (title: string, body: (sshd: Sshd) => void): void => {
  const ctx = inject("byteportServices")
  const reason = ctx === undefined
    ? "no byteportServices context (run through the root vitest config)"
    : ctx.up.includes("sshd")
    ? undefined
    : `sshd: ${ctx.failures.sshd ?? "not running"}`
  if (reason !== undefined && isCI()) throw new Error(`the test sshd is not available (CI=true): ${reason}`)
  if (reason === undefined) describe(title, () => body(sshdOf(ctx!.env)))
  else describe.skip(`${title} [skipped: ${reason}]`, () => {})
}

/** A `describe` that runs only when the named services of scripts/services.sh are up (fails under CI=true when not). */
export const describeWithServices = (
  names: ReadonlyArray<"sshd" | "hosttools">,
  title: string,
  body: (env: Readonly<Record<string, string>>) => void
): void => {
  const ctx = inject("byteportServices")
  const missing = ctx === undefined ? ["no byteportServices context (run through the root vitest config)"] : names.filter((n) => !ctx.up.includes(n)).map((n) => `${n}: ${ctx.failures[n] ?? "not running"}`)
  if (missing.length > 0 && isCI()) throw new Error(`test services are not available (CI=true): ${missing.join("; ")}`)
  if (missing.length === 0) describe(title, () => body(ctx!.env))
  else describe.skip(`${title} [skipped: ${missing.join("; ")}]`, () => {})
}
