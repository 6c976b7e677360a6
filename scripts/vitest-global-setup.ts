import { execFile } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"

/** The real servers `scripts/services.sh` runs for integration tests. */
export type ServiceName =
  | "postgres" | "pgbouncer" | "mariadb" | "pgreplica"
  // TLS servers (issue 15): two Pebbles on one challtestsrv, the OCSP responder, nginx, haproxy, caddy, certbot
  | "pebble" | "ocsp" | "nginx" | "haproxy" | "caddy" | "certbot"
  // host tests (issue 14): the loopback sshd, and logrotate / systemd-journal-remote / jcmd
  | "sshd" | "hosttools"

/** What the global setup hands to every test worker (read it with `inject("byteportServices")`). */
export interface ServicesContext {
  /** `KEY=VALUE` settings printed by `scripts/services.sh env` (BYTEPORT_TEST_PG_URL, ...). */
  readonly env: Readonly<Record<string, string>>
  /** Services that are up and answered their readiness probe. */
  readonly up: ReadonlyArray<ServiceName>
  /** Why a service is not available, by service name. */
  readonly failures: Readonly<Partial<Record<ServiceName, string>>>
}

declare module "vitest" {
  export interface ProvidedContext {
    byteportServices: ServicesContext
  }
}

const ALL: ReadonlyArray<ServiceName> = [
  "postgres", "pgbouncer", "mariadb", "pgreplica",
  "pebble", "ocsp", "nginx", "haproxy", "caddy", "certbot",
  "sshd", "hosttools"
]
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "services.sh")
const LEASE = `vitest-${process.pid}`

interface RunResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (args: ReadonlyArray<string>): Promise<RunResult> =>
  new Promise((resolve) => {
    execFile("bash", [SCRIPT, ...args], { timeout: 600_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })

const parseEnv = (text: string): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=")
    if (eq > 0 && !line.startsWith("#")) env[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
  }
  return env
}

const isCI = () => process.env.CI === "true" || process.env.CI === "1"

/**
 * Starts PostgreSQL, its streaming replica, pgbouncer and MariaDB (scripts/services.sh up, under a lease held by this
 * vitest process) and provides their settings to the tests. Under CI a server that cannot start
 * fails the run; elsewhere the failure is recorded and the tests that need it are skipped.
 * Set BYTEPORT_SERVICES_SKIP=1 to start nothing (every service then counts as unavailable).
 */
export async function setup(project: TestProject): Promise<void> {
  let env: Record<string, string> = {}
  let up: Array<ServiceName> = []
  let reason = ""
  if (process.env.BYTEPORT_SERVICES_SKIP === "1") {
    reason = "BYTEPORT_SERVICES_SKIP=1"
  } else {
    const started = Date.now()
    const result = await run(["up", "--lease", LEASE, "--pid", String(process.pid)])
    if (result.code !== 0) {
      reason = `scripts/services.sh up exited ${result.code}: ${result.stderr.trim().split("\n").slice(-8).join("\n")}`
    }
    const printed = await run(["env"])
    if (printed.code === 0) env = parseEnv(printed.stdout)
    const listed = (env.BYTEPORT_TEST_SERVICES_UP ?? "").split(/\s+/)
    up = ALL.filter((s) => listed.includes(s))
    if (result.code === 0) {
      console.log(`[byteport services] ${up.join(", ")} ready in ${Date.now() - started} ms`)
    }
  }
  const failures: Partial<Record<ServiceName, string>> = {}
  for (const s of ALL) if (!up.includes(s)) failures[s] = reason || `${s} is not running`
  if (Object.keys(failures).length > 0) {
    const text = Object.entries(failures).map(([s, r]) => `${s}: ${r}`).join("\n")
    if (isCI()) throw new Error(`[byteport services] a test server could not start (CI=true):\n${text}`)
    console.warn(`[byteport services] unavailable; tests that need them are skipped:\n${text}`)
  }
  for (const [k, v] of Object.entries(env)) process.env[k] = v
  project.provide("byteportServices", { env, up, failures })
}

/** Drops this run's lease; the servers stop once no other live test run holds one. */
export async function teardown(): Promise<void> {
  if (process.env.BYTEPORT_SERVICES_SKIP === "1" || process.env.BYTEPORT_SERVICES_KEEP === "1") return
  await run(["down", "--lease", LEASE])
}
