/**
 * How a tls test asks for the real servers of scripts/services.sh (Pebble, the OCSP responder,
 * nginx, haproxy, caddy, certbot). A missing service skips the suite with the reason in its
 * title, except under CI=true, where it fails.
 */
import { Shell } from "@byteport/core/shell"
import { Effect } from "effect"
import * as Backup from "../../src/backup/Backup"
import * as Nginx from "../../src/servers/Nginx"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, inject } from "vitest"
import type { ServiceName } from "../../../../scripts/vitest-global-setup"

const isCI = () => process.env.CI === "true" || process.env.CI === "1"

/** A `describe` that runs only when the named services are up (fails under CI when one is not). */
export const describeWithServices = (
  names: ReadonlyArray<ServiceName>,
  title: string,
  body: (env: Readonly<Record<string, string>>) => void
): void => {
  const ctx = inject("byteportServices")
  const missing = ctx === undefined ? ["no byteportServices context"] : names.filter((n) => !ctx.up.includes(n)).map((n) => `${n}: ${ctx.failures[n] ?? "not running"}`)
  if (missing.length > 0 && isCI()) throw new Error(`required test services are not available (CI=true): ${missing.join("; ")}`)
  const env = ctx?.env ?? {}
  if (missing.length === 0) describe(title, () => body(env))
  else describe.skip(`${title} [skipped: ${missing.join("; ")}]`, () => body(env))
}

/** A fresh temporary directory. */
export const tmp = (prefix: string) => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))

/** A certificate certbot got from a Pebble (`certonly --webroot`), in a private config dir. */
export interface Issued {
  readonly name: string
  readonly live: string
  readonly fullchain: string
  readonly key: string
  readonly cert: string
}

/** certbot certonly against `directory` (http-01 by the shared nginx's webroot). */
export const certbot = (env: Readonly<Record<string, string>>, options: { readonly directory: string; readonly name: string }) =>
  Effect.gen(function*() {
    const dir = tmp("byteport-certbot-")
    const argv = [
      env.BYTEPORT_TEST_CERTBOT ?? "certbot", "certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
      "--server", options.directory, "--webroot", "-w", env.BYTEPORT_TEST_NGINX_WEBROOT ?? "", "-d", options.name,
      "--config-dir", `${dir}/config`, "--work-dir", `${dir}/work`, "--logs-dir", `${dir}/logs`, "--key-type", "ecdsa"
    ]
    const r = yield* Shell.local.run(argv, { env: { REQUESTS_CA_BUNDLE: env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "" }, timeout: 60_000 })
    if (r.exitCode !== 0) throw new Error(`certbot failed: ${r.stderr.slice(-800)}`)
    const live = `${dir}/config/live/${options.name}`
    return { name: options.name, live, fullchain: `${live}/fullchain.pem`, key: `${live}/privkey.pem`, cert: `${live}/cert.pem` } satisfies Issued
  })

/** Waits (real time) until `probe` returns a value. */
export const eventually = <A, E, R>(probe: Effect.Effect<A | undefined, E, R>, timeoutMillis: number, what: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const a = yield* probe
      if (a !== undefined) return a
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
    }
  })

/** The shared nginx of scripts/services.sh as the tls tests use it: its spec, served files, Pebble roots, and a swap-and-reload. */
export const nginxOf = (env: Readonly<Record<string, string>>) => {
  const server = {
    kind: "nginx" as const,
    conf: env.BYTEPORT_TEST_NGINX_CONF ?? "",
    errorLog: env.BYTEPORT_TEST_NGINX_ERROR_LOG ?? "",
    pidFile: env.BYTEPORT_TEST_NGINX_PID_FILE ?? ""
  }
  const target = { cert: env.BYTEPORT_TEST_NGINX_CERT ?? "", key: env.BYTEPORT_TEST_NGINX_KEY ?? "" }
  const rootFiles = [env.BYTEPORT_TEST_PEBBLE_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? ""]
  /** Swaps `cert` and `key` into the served files and reloads nginx. */
  const reload = (cert: Buffer, key: Buffer) =>
    Effect.gen(function*() {
      yield* Effect.orDie(Backup.swap([{ path: target.key, content: key }, { path: target.cert, content: cert }]))
      yield* Effect.orDie(Nginx.make(server).reload.pipe(Effect.provide(Shell.layerLocal)))
    })
  return { server, target, rootFiles, roots: () => rootFiles.map((f) => fs.readFileSync(f, "utf8")), reload }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Runs `effect` holding the shared nginx: test files run in parallel worker processes, and the
 * ones that swap nginx's one certificate must not overlap. An exclusive lock file beside nginx.conf
 * (`O_EXCL`, holding the worker's pid); a dead holder's lock is taken over. Not re-entrant.
 */
export const withNginx = <A, E, R>(env: Readonly<Record<string, string>>, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const lock = path.join(path.dirname(env.BYTEPORT_TEST_NGINX_CONF ?? os.tmpdir()), "byteport-test.lock")
  const acquire = Effect.promise(async () => {
    const deadline = Date.now() + 600_000
    for (;;) {
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: "wx" })
        return
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
      }
      let holder: number
      try {
        holder = Number(fs.readFileSync(lock, "utf8").trim())
      } catch {
        continue // released meanwhile
      }
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
        fs.rmSync(lock, { force: true })
        continue
      }
      if (Date.now() > deadline) throw new Error(`the shared nginx is held by pid ${holder} (${lock})`)
      await new Promise((r) => setTimeout(r, 100))
    }
  })
  const release = Effect.sync(() => {
    try {
      if (fs.readFileSync(lock, "utf8").trim() === String(process.pid)) fs.rmSync(lock, { force: true })
    } catch {
      // already gone
    }
  })
  return Effect.acquireUseRelease(acquire, () => effect, () => release)
}
