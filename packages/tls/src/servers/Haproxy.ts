/**
 * haproxy in master-worker mode: `haproxy -c -f <cfg>` validates, the master CLI's `reload`
 * (over the master socket given with `-S`) reloads, confirmed by a new worker PID in the master's
 * `show proc`. The runtime API of the admin socket can also replace a certificate in memory
 * with no reload (`set ssl cert` + `commit ssl cert`, each payload ending in an empty line);
 * the file on disk is what a later reload reads.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as net from "node:net"
import { Effect } from "effect"
import * as Nginx from "./Nginx"
import { poll, ReloadFailed, runChecked } from "./Server"
import type { Server } from "./Server"

/** How to reach one haproxy. */
export interface Options {
  /** The configuration file (`-f`). */
  readonly cfg: string
  /** The master CLI socket (`-S <path>`). */
  readonly masterSocket: string
  /** The haproxy binary (default `haproxy` on PATH). */
  readonly binary?: string | undefined
  /** How long to wait for the new worker (ms, default 10 000). */
  readonly reloadTimeoutMillis?: number | undefined
  /**
   * How to make haproxy read the certificate: `master-cli` (default: `reload` on the master
   * socket), `usr2` (SIGUSR2 to the master named by `pidFile`), or `runtime-api` (no reload: the
   * PEM file `crt` is read from disk and pushed with `set ssl cert` + `commit ssl cert` on
   * `adminSocket`; the file on disk is what a later reload reads).
   */
  readonly reloadBy?: "master-cli" | "usr2" | "runtime-api" | undefined
  /** The master's pid file (`usr2`). */
  readonly pidFile?: string | undefined
  /** The admin (stats) socket at `level admin` (`runtime-api`). */
  readonly adminSocket?: string | undefined
  /** The PEM path as named in the `bind … crt` line (`runtime-api`). */
  readonly crt?: string | undefined
}

/** `haproxy -c -f <cfg>`: the argv of the configuration check. */
export const checkArgv = (o: Options): ReadonlyArray<string> => [o.binary ?? "haproxy", "-c", "-q", "-f", o.cfg]

/** Sends one command on a Unix socket (one command per connection) and returns the whole answer. */
export const command = (socketPath: string, text: string, timeoutMillis = 5_000): Effect.Effect<string, ReloadFailed> =>
  Effect.callback<string, ReloadFailed>((resume) => {
    const chunks: Array<Buffer> = []
    let done = false
    const socket = net.createConnection(socketPath)
    const finish = (e: Effect.Effect<string, ReloadFailed>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resume(e)
    }
    const timer = setTimeout(() => finish(Effect.fail(new ReloadFailed({ server: "haproxy", message: `no answer on ${socketPath} within ${timeoutMillis} ms` }))), timeoutMillis)
    // one command per connection; the half-close makes haproxy answer and close
    socket.on("connect", () => socket.end(text.endsWith("\n") ? text : `${text}\n`))
    socket.on("data", (c) => chunks.push(c))
    socket.on("end", () => finish(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
    socket.on("close", () => finish(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
    socket.on("error", (e: NodeJS.ErrnoException) =>
      finish(Effect.fail(new ReloadFailed({ server: "haproxy", message: `cannot talk to ${socketPath} (${e.code ?? "error"})` }))))
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** The current worker PIDs from the master CLI's `show proc`. */
export const workers = (masterSocket: string): Effect.Effect<ReadonlyArray<number>, ReloadFailed> =>
  Effect.map(command(masterSocket, "show proc"), (out) =>
    out.split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === "worker").map((f) => Number(f[0])).filter(Number.isSafeInteger))

/**
 * Replaces a certificate in haproxy's memory through the runtime API (no reload):
 * `set ssl cert <path> <<` with the PEM (cert, chain, key) and an empty last line, then
 * `commit ssl cert <path>`. The PEM goes to the socket only, never to a log.
 */
export const setSslCert = (adminSocket: string, certPath: string, pem: string): Effect.Effect<string, ReloadFailed> =>
  Effect.gen(function*() {
    const body = pem.replace(/\n+$/, "")
    const set = yield* command(adminSocket, `set ssl cert ${certPath} <<\n${body}\n\n`)
    if (!/Transaction (created|updated)/i.test(set)) {
      return yield* new ReloadFailed({ server: "haproxy", message: `set ssl cert ${certPath} was not accepted`, output: set.trim().split("\n")[0] })
    }
    const commit = yield* command(adminSocket, `commit ssl cert ${certPath}\n`)
    if (!/Success!/.test(commit)) {
      return yield* new ReloadFailed({ server: "haproxy", message: `commit ssl cert ${certPath} failed`, output: commit.trim().split("\n").slice(-2).join(" ") })
    }
    return `set ssl cert + commit ssl cert ${certPath}: Success`
  })

/** A haproxy `Server` (reload through the master CLI). */
export const make = (o: Options): Server => ({
  kind: "haproxy",
  check: Effect.map(runChecked("haproxy", checkArgv(o), "haproxy configuration check"), () => `haproxy -c: ${o.cfg} is valid`),
  reload: Effect.gen(function*() {
    yield* runChecked("haproxy", checkArgv(o), "haproxy configuration check")
    if (o.reloadBy === "runtime-api") {
      if (o.adminSocket === undefined || o.crt === undefined) {
        return yield* new ReloadFailed({ server: "haproxy", message: "runtime-api needs adminSocket and crt" })
      }
      const crt = o.crt
      const pem = yield* Effect.try({ try: () => fs.readFileSync(crt, "utf8"), catch: () => new ReloadFailed({ server: "haproxy", message: `cannot read ${crt}` }) })
      const detail = yield* setSslCert(o.adminSocket, crt, pem)
      return { server: "haproxy", detail: `haproxy runtime API ${detail}` }
    }
    const before = yield* workers(o.masterSocket)
    if (o.reloadBy === "usr2") {
      const master = o.pidFile === undefined ? undefined : Nginx.masterPid(o.pidFile)
      if (master === undefined) return yield* new ReloadFailed({ server: "haproxy", message: `no live haproxy master in ${o.pidFile ?? "(no pidFile)"}` })
      yield* Effect.try({ try: () => process.kill(master, "SIGUSR2"), catch: () => new ReloadFailed({ server: "haproxy", message: `cannot signal the haproxy master ${master}` }) })
    } else yield* command(o.masterSocket, "reload")
    const fresh = yield* poll(Effect.map(workers(o.masterSocket).pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<number>)), (now) => {
      const added = now.filter((p) => !before.includes(p))
      return added.length > 0 ? added : undefined
    }), o.reloadTimeoutMillis ?? 10_000)
    if (fresh === undefined) {
      return yield* new ReloadFailed({ server: "haproxy", message: `haproxy started no new worker after the master CLI reload (workers ${before.join(",")})` })
    }
    return { server: "haproxy", detail: `haproxy ${o.reloadBy === "usr2" ? "USR2 to the master" : "master CLI reload"}: workers ${before.join(",") || "-"} → ${fresh.join(",")}` }
  })
})
