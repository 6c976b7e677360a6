/**
 * `Ssh`: a core `Shell` on another machine, over SSH (the `ssh2` package).
 *
 * - Host keys are pinned through an OpenSSH `known_hosts` file: a host with no pinned key
 *   (`HostKeyUnknown`), a different key (`HostKeyChanged`) or a `@revoked` one is refused before
 *   authentication, with a typed `SshError`.
 * - Key authentication only: a private key (file or `Redacted` text, optional passphrase) and/or an
 *   SSH agent socket. Keys and passphrases never appear in errors, logs or transcripts.
 * - The command is an argv array: every element is single-quoted for the remote POSIX shell, so
 *   the remote program receives exactly the strings given (no globbing, no expansion).
 * - `sudo: true` runs every command through `sudo -n` (never prompts: a password requirement fails
 *   the command instead of hanging it).
 * - OpenSSH (9.2) refuses `signal` channel requests for root, and closing a channel without a PTY
 *   leaves its command running. So each command runs under a small wrapper (`setsid` + `/bin/sh`)
 *   that leads its own process group and reports the group id first on stderr (a per-run nonce,
 *   stripped from the output). On timeout or interruption a second channel kills that group
 *   (SIGTERM, then SIGKILL after the grace period) and the run ends once it is gone.
 *
 * @since 0.2.0
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import { Context, Duration, Effect, Layer, Redacted, Schema, Scope } from "effect"
import { Shell } from "@byteport/core/shell"
import { Client } from "ssh2"
import type { ClientChannel, ConnectConfig, SFTPWrapper } from "ssh2"
import * as KnownHosts from "./KnownHosts"

// ---------------------------------------------------------------------------------------------
// errors

/** Why an SSH connection or channel failed. */
export const SshErrorReason = Schema.Literals([
  "HostKeyUnknown",
  "HostKeyChanged",
  "HostKeyRevoked",
  "AuthFailed",
  "KeyUnreadable",
  "ConnectFailed",
  "ChannelFailed",
  "InvalidOptions"
])

/** The reason of an `SshError`. */
export type SshErrorReason = typeof SshErrorReason.Type

/** An SSH connection could not be made or used. Names the host, port and user; never a key or passphrase. */
export class SshError extends Schema.TaggedError<SshError>()("SshError", {
  reason: SshErrorReason,
  host: Schema.String,
  port: Schema.Number,
  message: Schema.String,
  /** A system or protocol code (`ECONNREFUSED`, `ETIMEDOUT` …) when there is one. */
  code: Schema.optionalKey(Schema.String)
}) {}

// ---------------------------------------------------------------------------------------------
// options

/** How to reach and log in to a host. */
export interface Options {
  readonly host: string
  /** Default 22. */
  readonly port?: number
  readonly username: string
  /** A private key file (OpenSSH or PEM format). */
  readonly privateKeyPath?: string
  /** A private key's text (instead of a file). */
  readonly privateKey?: Redacted.Redacted<string>
  /** The private key's passphrase. */
  readonly passphrase?: Redacted.Redacted<string>
  /** An SSH agent's socket path (as `SSH_AUTH_SOCK`). */
  readonly agent?: string
  /** The `known_hosts` file pinning the host's key (required unless `knownHosts` is given). */
  readonly knownHostsPath?: string
  /** `known_hosts` text (instead of a file). */
  readonly knownHosts?: string
  /** Run every command through `sudo -n` (default false). */
  readonly sudo?: boolean
  /** The shell's name (default `ssh:<user>@<host>:<port>`). */
  readonly name?: string
  /** How long connecting (TCP, key exchange, authentication) may take (default 20 seconds). */
  readonly connectTimeout?: Duration.Input
  /** Between SIGTERM and SIGKILL when a command is killed (default 1 second). */
  readonly killGraceMillis?: number
}

interface Resolved {
  readonly host: string
  readonly port: number
  readonly username: string
  readonly name: string
  readonly sudo: boolean
  readonly killGraceMillis: number
  readonly config: ConnectConfig
  readonly entries: ReadonlyArray<KnownHosts.Entry>
}

const sshError = (o: { readonly host: string; readonly port: number }, reason: SshErrorReason, message: string, code?: string): SshError =>
  new SshError({ reason, host: o.host, port: o.port, message, ...(code !== undefined ? { code } : {}) })

const codeOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : undefined

const resolve = (options: Options): Effect.Effect<Resolved, SshError> =>
  Effect.try({
    try: (): Resolved => {
      const port = options.port ?? 22
      const where = { host: options.host, port }
      if (typeof options.host !== "string" || options.host.length === 0) throw sshError(where, "InvalidOptions", "host is empty")
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw sshError(where, "InvalidOptions", `port ${port} is not a TCP port`)
      if (typeof options.username !== "string" || options.username.length === 0) throw sshError(where, "InvalidOptions", "username is empty")
      if (options.privateKeyPath === undefined && options.privateKey === undefined && options.agent === undefined) {
        throw sshError(where, "InvalidOptions", "no key: give privateKeyPath, privateKey or agent")
      }
      let knownHosts = options.knownHosts
      if (knownHosts === undefined) {
        if (options.knownHostsPath === undefined) throw sshError(where, "InvalidOptions", "no known_hosts: give knownHostsPath or knownHosts (host keys are always pinned)")
        try {
          knownHosts = fs.readFileSync(options.knownHostsPath, "utf8")
        } catch (e) {
          throw sshError(where, "InvalidOptions", `known_hosts ${options.knownHostsPath} is unreadable`, codeOf(e))
        }
      }
      let privateKey: string | Buffer | undefined
      if (options.privateKey !== undefined) privateKey = Redacted.value(options.privateKey)
      else if (options.privateKeyPath !== undefined) {
        try {
          privateKey = fs.readFileSync(options.privateKeyPath)
        } catch (e) {
          throw sshError(where, "KeyUnreadable", `private key ${options.privateKeyPath} is unreadable`, codeOf(e))
        }
      }
      const entries = KnownHosts.parse(knownHosts)
      const algorithms = KnownHosts.algorithmsFor(entries, options.host, port)
      const timeout = options.connectTimeout === undefined ? 20_000 : Duration.toMillis(options.connectTimeout)
      const config: ConnectConfig = {
        host: options.host,
        port,
        username: options.username,
        readyTimeout: timeout,
        ...(privateKey !== undefined ? { privateKey } : {}),
        ...(options.passphrase !== undefined ? { passphrase: Redacted.value(options.passphrase) } : {}),
        ...(options.agent !== undefined ? { agent: options.agent } : {}),
        // offer only the pinned key types, so the server presents a key we can check
        ...(algorithms.length > 0 ? { algorithms: { serverHostKey: [...algorithms] as NonNullable<NonNullable<ConnectConfig["algorithms"]>["serverHostKey"]> } } : {})
      }
      return {
        host: options.host,
        port,
        username: options.username,
        name: options.name ?? `ssh:${options.username}@${options.host}:${port}`,
        sudo: options.sudo ?? false,
        killGraceMillis: options.killGraceMillis ?? 1_000,
        config,
        entries
      }
    },
    catch: (e) => (e instanceof SshError ? e : sshError({ host: options.host, port: options.port ?? 22 }, "InvalidOptions", "invalid SSH options"))
  })

// ---------------------------------------------------------------------------------------------
// connecting

/** Clients whose connection has ended. */
const gone = new WeakSet<Client>()

/** Opens one authenticated ssh2 client, the host key checked against the pinned keys. */
const open = (r: Resolved): Promise<Client> =>
  new Promise((resolvePromise, reject) => {
    const client = new Client()
    let refused: SshError | undefined
    let settled = false
    const fail = (e: SshError) => {
      if (settled) return
      settled = true
      reject(e)
      client.end()
    }
    client.on("ready", () => {
      if (settled) return
      settled = true
      resolvePromise(client)
    })
    client.on("error", (e: Error & { level?: string }) => {
      if (refused !== undefined) return fail(refused)
      const level = e.level ?? ""
      if (level === "client-authentication" || level === "agent") {
        return fail(sshError(r, "AuthFailed", `authentication as ${r.username} on ${r.host}:${r.port} failed (key not accepted)`))
      }
      if (level === "client-timeout") return fail(sshError(r, "ConnectFailed", `connecting to ${r.host}:${r.port} timed out`, "ETIMEDOUT"))
      const code = codeOf(e)
      return fail(sshError(r, "ConnectFailed", `connecting to ${r.host}:${r.port} failed${code !== undefined ? ` (${code})` : ""}`, code))
    })
    client.on("end", () => gone.add(client))
    client.on("close", () => gone.add(client))
    client.on("close", () => fail(refused ?? sshError(r, "ConnectFailed", `${r.host}:${r.port} closed the connection before it was ready`)))
    try {
      client.connect({
        ...r.config,
        hostVerifier: (key: Buffer): boolean => {
          const v = KnownHosts.verify(r.entries, r.host, r.port, key)
          if (v._tag === "Known") return true
          refused = v._tag === "Unknown"
            ? sshError(r, "HostKeyUnknown", `no pinned host key for ${KnownHosts.hostName(r.host, r.port)} in known_hosts; refusing to connect`)
            : v._tag === "Changed"
            ? sshError(r, "HostKeyChanged", `the host key of ${KnownHosts.hostName(r.host, r.port)} differs from the pinned one (known_hosts lines ${v.lines.join(", ")}); refusing to connect`)
            : sshError(r, "HostKeyRevoked", `the host key of ${KnownHosts.hostName(r.host, r.port)} is @revoked (known_hosts line ${v.line}); refusing to connect`)
          return false
        }
      })
    } catch {
      // ssh2 throws synchronously on a key it cannot parse (wrong passphrase, unknown format): never echo its text
      fail(sshError(r, "KeyUnreadable", `the private key for ${r.username}@${r.host} could not be parsed (wrong passphrase or unsupported format)`))
    }
  })

/** An open SSH connection: commands (`shell`) and files (`sftp`) share it; it reconnects after a drop. */
export interface Connection {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly username: string
  /** A Shell running commands over this connection (`sudo` overrides the connection's option). */
  readonly shell: (options?: { readonly sudo?: boolean; readonly name?: string }) => Shell.ShellShape
  /** An SFTP session over this connection (opened once, reopened after a drop). */
  readonly sftp: Effect.Effect<SFTPWrapper, SshError>
  /** Closes the connection (running commands end). */
  readonly close: Effect.Effect<void>
}

/** The Connection service (for `HostFs.layerSftp` and anything else sharing the SSH connection). */
export class SshConnection extends Context.Service<SshConnection, Connection>()("@byteport/host/SshConnection") {}

const makeConnection = (r: Resolved, first: Client): Connection => {
  let current: Promise<Client> | undefined = Promise.resolve(first)
  let sftpSession: Promise<SFTPWrapper> | undefined
  let closed = false
  const watch = (c: Client) => {
    c.on("close", () => {
      if (current !== undefined) {
        void current.then((now) => {
          if (now === c) {
            current = undefined
            sftpSession = undefined
          }
        }, () => {})
      }
    })
  }
  watch(first)
  /** The connected client; `stale`: a client found disconnected, replaced by a new connection. */
  const client = async (stale?: Client): Promise<Client> => {
    if (closed) throw sshError(r, "ConnectFailed", `the connection to ${r.host}:${r.port} was closed`)
    const cur = current
    if (stale !== undefined && cur !== undefined && (await cur.catch(() => undefined)) === stale && current === cur) {
      current = undefined
      sftpSession = undefined
    }
    if (current === undefined) {
      const next = open(r)
      current = next
      next.then(watch, () => {
        if (current === next) current = undefined
      })
    }
    return current
  }
  const sftp = Effect.tryPromise({
    try: () => {
      if (sftpSession === undefined) {
        const s = client().then((c) =>
          new Promise<SFTPWrapper>((ok, ko) =>
            c.sftp((err, session) => {
              if (err) ko(sshError(r, "ChannelFailed", `the SFTP subsystem on ${r.host}:${r.port} failed to start`))
              else {
                session.on("close", () => {
                  if (sftpSession === s) sftpSession = undefined
                })
                ok(session)
              }
            })
          )
        )
        sftpSession = s
        s.catch(() => {
          if (sftpSession === s) sftpSession = undefined
        })
      }
      return sftpSession
    },
    catch: (e) => (e instanceof SshError ? e : sshError(r, "ChannelFailed", "the SFTP session failed"))
  })
  return {
    name: r.name,
    host: r.host,
    port: r.port,
    username: r.username,
    shell: (o) => makeShell(r, client, o?.sudo ?? r.sudo, o?.name ?? r.name),
    sftp,
    close: Effect.promise(async () => {
      closed = true
      const c = current
      current = undefined
      if (c !== undefined) {
        try {
          ;(await c).end()
        } catch {
          // never connected
        }
      }
    })
  }
}

/** Connects (host key pinned, key authentication); the connection closes with the scope. */
export const connect = (options: Options): Effect.Effect<Connection, SshError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.flatMap(resolve(options), (r) =>
      Effect.map(
        Effect.tryPromise({ try: () => open(r), catch: (e) => (e instanceof SshError ? e : sshError(r, "ConnectFailed", "connecting failed")) }),
        (c) => makeConnection(r, c)
      )),
    (c) => c.close
  )

/** The SshConnection service, connected when the layer is built and closed with it. */
export const layerConnection = (options: Options): Layer.Layer<SshConnection, SshError> =>
  Layer.effect(SshConnection, Effect.map(connect(options), (c) => SshConnection.of(c)))

/** A core `Shell` over SSH, plus the `SshConnection` it uses (for `HostFs.layerSftp`). */
export const layer = (options: Options): Layer.Layer<Shell.Shell | SshConnection, SshError> =>
  Layer.effect(Shell.Shell, Effect.map(Effect.service(SshConnection), (c) => Shell.Shell.of(c.shell()))).pipe(
    Layer.provideMerge(layerConnection(options))
  )

// ---------------------------------------------------------------------------------------------
// commands

/** Single-quotes one argument for a POSIX shell (`'` becomes `'\''`); the shell passes it on unchanged. */
export const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`

/** The command line for a POSIX shell: every element quoted. */
export const commandLine = (argv: ReadonlyArray<string>): string => argv.map(quote).join(" ")

/**
 * The wrapper: `$1` the nonce, `$2` the cwd (empty: none), `$3` the number of `NAME=VALUE` env
 * pairs that follow, then the argv. It reports its pid (= its process group, `setsid`) first.
 */
const WRAPPER = [
  `t=$1; d=$2; n=$3; shift 3`,
  `printf 'BYTEPORT_PGID=%s:%s\\n' "$t" "$$" >&2`,
  `while [ "$n" -gt 0 ]; do export "$1"; shift; n=$((n-1)); done`,
  `if [ -n "$d" ]; then cd "$d" 2>/dev/null || { printf 'BYTEPORT_SPAWN=%s:ENOENT\\n' "$t" >&2; exit 127; }; fi`,
  `command -v "$1" >/dev/null 2>&1 || { printf 'BYTEPORT_SPAWN=%s:ENOENT\\n' "$t" >&2; exit 127; }`,
  `exec "$@"`
].join("\n")

const KILLER = [
  `p=$1; n=$2`,
  `kill -TERM "-$p" 2>/dev/null || exit 0`,
  `i=0`,
  `while kill -0 "-$p" 2>/dev/null; do`,
  `  if [ "$i" -ge "$n" ]; then kill -KILL "-$p" 2>/dev/null; break; fi`,
  `  sleep 0.05; i=$((i+1))`,
  `done`,
  `exit 0`
].join("\n")

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The remote command line of a request (exposed for tests): sudo, setsid, env, the wrapper, argv. */
export const wrap = (request: Shell.Request, nonce: string, sudo: boolean): string => {
  const env = Object.entries(request.env).map(([k, v]) => `${k}=${v}`)
  return commandLine([
    ...(sudo ? ["sudo", "-n", "--"] : []),
    "setsid",
    "-w",
    ...(request.inheritEnv ? [] : ["env", "-i"]),
    "/bin/sh",
    "-c",
    WRAPPER,
    "byteport-ssh",
    nonce,
    request.cwd ?? "",
    String(env.length),
    ...env,
    ...request.argv
  ])
}

/**
 * Opens an exec channel. `wire` runs synchronously in ssh2's callback: the exit status may arrive in
 * the same packet batch as the channel's confirmation, and an `exit` listener added a microtask
 * later would miss it.
 */
const exec = (c: Client, command: string, wire?: (ch: ClientChannel) => void): Promise<ClientChannel> =>
  new Promise((ok, ko) =>
    c.exec(command, (err, ch) => {
      if (err) return ko(err)
      wire?.(ch)
      ok(ch)
    }))

const makeShell = (r: Resolved, client: (stale?: Client) => Promise<Client>, sudo: boolean, name: string): Shell.ShellShape =>
  Shell.make(
    (request) =>
      Effect.callback<Shell.Output, Shell.ShellError>((resume) => {
        for (const k of Object.keys(request.env)) {
          if (!ENV_NAME.test(k)) {
            resume(Effect.fail(Shell.error(name, request, "InvalidCommand", { message: `${Shell.formatArgv([request.argv[0]])}: env name is not a shell variable name` })))
            return
          }
        }
        const nonce = randomBytes(9).toString("hex")
        const marker = new RegExp(`^BYTEPORT_PGID=${nonce}:(\\d+)$`)
        const spawnMarker = `BYTEPORT_SPAWN=${nonce}:`
        const out = { stdout: [] as Array<Buffer>, stderr: [] as Array<Buffer>, bytes: { stdout: 0, stderr: 0 }, cut: { stdout: false, stderr: false } }
        const collect = (stream: "stdout" | "stderr", chunk: Buffer) => {
          const room = request.maxOutputBytes - out.bytes[stream]
          if (room <= 0) {
            if (chunk.length > 0) out.cut[stream] = true
            return
          }
          const kept = chunk.length > room ? chunk.subarray(0, room) : chunk
          if (kept.length < chunk.length) out.cut[stream] = true
          out[stream].push(kept)
          out.bytes[stream] += kept.length
        }
        let head = Buffer.alloc(0)
        let pgid: number | undefined
        let seen = false
        let channel: ClientChannel | undefined
        let conn: Client | undefined
        let done = false
        let closed = false
        const closeWaiters: Array<() => void> = []
        const pgidWaiters: Array<() => void> = []
        const onStderr = (chunk: Buffer) => {
          if (seen) return collect("stderr", chunk)
          head = Buffer.concat([head, chunk])
          for (;;) {
            const nl = head.indexOf(10)
            if (nl < 0) break
            const line = head.subarray(0, nl)
            head = head.subarray(nl + 1)
            const m = marker.exec(line.toString("utf8"))
            if (m !== null) {
              seen = true
              pgid = Number(m[1])
              for (const w of pgidWaiters.splice(0)) w()
              if (head.length > 0) collect("stderr", head)
              head = Buffer.alloc(0)
              return
            }
            collect("stderr", Buffer.concat([line, Buffer.from("\n")]))
          }
          if (head.length > 64 * 1024) {
            collect("stderr", head)
            head = Buffer.alloc(0)
          }
        }
        const finish = (effect: Effect.Effect<Shell.Output, Shell.ShellError>) => {
          if (done) return
          done = true
          resume(effect)
        }
        let exitCode: number | null = null
        let exitSignal: string | undefined
        const command = wrap(request, nonce, sudo)
        const wire = (ch: ClientChannel) => {
          ch.on("exit", (code: number | null, signal?: string) => {
            exitCode = code
            if (typeof signal === "string") exitSignal = signal
          })
        }
        // a channel that could not open on a connection that turns out to be gone (nothing ran yet):
        // reconnect once; any other channel failure fails this command only
        const open = (c: Client): Promise<ClientChannel> =>
          exec(c, command, wire).catch(async (e: unknown) => {
            if (!(e instanceof Error && e.message === "Not connected")) {
              await new Promise((ok) => setTimeout(ok, 100))
              if (!gone.has(c)) throw e
            }
            const fresh = await client(c)
            conn = fresh
            return exec(fresh, command, wire)
          })
        client().then(
          (c) => {
            conn = c
            if (done) return
            return open(c).then(
              (ch) => {
                channel = ch
                if (done) {
                  ch.close()
                  return
                }
                ch.on("data", (d: Buffer) => collect("stdout", d))
                ch.stderr.on("data", onStderr)
                ch.on("close", () => {
                  closed = true
                  for (const w of closeWaiters.splice(0)) w()
                  for (const w of pgidWaiters.splice(0)) w()
                  if (!seen && head.length > 0) collect("stderr", head)
                  const stderr = Buffer.concat(out.stderr).toString("utf8")
                  const spawnAt = stderr.indexOf(spawnMarker)
                  if (spawnAt >= 0) {
                    const code = /^[A-Z]+/.exec(stderr.slice(spawnAt + spawnMarker.length))?.[0] ?? "ENOENT"
                    return finish(Effect.fail(Shell.error(name, request, "SpawnFailed", { code })))
                  }
                  // `setsid -w` reports a child killed by a signal on stderr and exits with the signal's number
                  const setsidLine = pgid !== undefined ? new RegExp(`(^|\n)setsid: child ${pgid} did not exit normally[^\n]*\n?$`).exec(stderr) : null
                  if (setsidLine !== null && exitCode !== null) {
                    const sig = Object.entries(os.constants.signals).find(([, n]) => n === exitCode)?.[0] ?? `signal ${exitCode}`
                    return finish(Effect.fail(Shell.error(name, request, "Killed", { signal: sig })))
                  }
                  if (exitCode === null) {
                    return finish(Effect.fail(Shell.error(name, request, "Killed", { signal: exitSignal !== undefined ? `SIG${exitSignal}` : "unknown" })))
                  }
                  finish(Effect.succeed({
                    exitCode,
                    stdout: Buffer.concat(out.stdout).toString("utf8"),
                    stderr,
                    stdoutTruncated: out.cut.stdout,
                    stderrTruncated: out.cut.stderr
                  }))
                })
                ch.stderr.on("error", () => {})
                ch.on("error", () => {})
                if (request.stdin !== undefined) ch.end(Buffer.from(request.stdin))
                else ch.end()
              },
              (e: unknown) =>
                finish(Effect.fail(Shell.error(name, request, "SpawnFailed", {
                  code: e instanceof SshError ? e.reason : "ChannelFailed",
                  message: `${Shell.formatArgv([request.argv[0]])}: could not open an SSH channel on ${name}${e instanceof SshError ? `: ${e.message}` : ""}`
                })))
            )
          },
          (e: unknown) => {
            const reason = e instanceof SshError ? e.reason : "ConnectFailed"
            finish(Effect.fail(Shell.error(name, request, "SpawnFailed", { code: reason, message: `${Shell.formatArgv([request.argv[0]])}: could not run on ${name}: ${e instanceof SshError ? e.message : "connection failed"}` })))
          }
        )
        // interruption (timeout included): kill the remote process group over a second channel, then close
        return Effect.promise(async () => {
          done = true
          if (channel === undefined || closed) return
          if (pgid === undefined) {
            await new Promise<void>((ok) => {
              const t = setTimeout(ok, 5_000)
              pgidWaiters.push(() => {
                clearTimeout(t)
                ok()
              })
            })
          }
          if (pgid !== undefined && pgid > 1 && conn !== undefined && !closed) {
            const steps = Math.max(1, Math.ceil(r.killGraceMillis / 50))
            const killer = commandLine([...(sudo ? ["sudo", "-n", "--"] : []), "/bin/sh", "-c", KILLER, "byteport-kill", String(pgid), String(steps)])
            try {
              const k = await exec(conn, killer)
              k.on("data", () => {})
              k.stderr.on("data", () => {})
              k.end()
              await new Promise<void>((ok) => {
                const t = setTimeout(ok, r.killGraceMillis + 10_000)
                k.on("close", () => {
                  clearTimeout(t)
                  ok()
                })
              })
            } catch {
              // the connection is gone: the remote sshd ends the session's processes itself
            }
          }
          if (!closed) {
            await new Promise<void>((ok) => {
              const t = setTimeout(ok, 2_000)
              closeWaiters.push(() => {
                clearTimeout(t)
                ok()
              })
              channel!.close()
            })
          }
        })
      }),
    { name }
  )
