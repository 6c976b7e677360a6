/**
 * dns-01 for external ACME clients (certbot's `--manual-auth-hook` / `--manual-cleanup-hook`):
 * a small Node hook script, shipped in this module ({@link SCRIPT}, written next to the client's
 * work dir), forwards `CERTBOT_DOMAIN` and `CERTBOT_VALIDATION` to a loopback server that BytePort
 * runs for the duration of the renewal ({@link serve}); that server writes the TXT value through
 * the configured {@link DnsProvider.DnsProvider}, waits until it is visible, and answers; the
 * cleanup hook removes it. The hook authenticates with a one-time bearer token passed in the
 * client's environment (`BYTEPORT_DNS_HOOK_URL`, `BYTEPORT_DNS_HOOK_TOKEN`), never on argv.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import type { Scope } from "effect"
import * as DnsProvider from "../dns/DnsProvider"

/** The hook script (plain Node ≥ 18, no dependencies): `node hook.mjs present|cleanup`. */
export const SCRIPT = `#!/usr/bin/env node
// BytePort dns-01 hook for certbot's --manual-auth-hook / --manual-cleanup-hook.
// Forwards CERTBOT_DOMAIN and CERTBOT_VALIDATION to the BytePort process running the renewal.
const action = process.argv[2] === "cleanup" ? "cleanup" : "present"
const url = process.env.BYTEPORT_DNS_HOOK_URL
const token = process.env.BYTEPORT_DNS_HOOK_TOKEN
if (!url || !token) {
  console.error("byteport dns hook: BYTEPORT_DNS_HOOK_URL / BYTEPORT_DNS_HOOK_TOKEN are not set")
  process.exit(2)
}
const res = await fetch(url + "/" + action, {
  method: "POST",
  headers: { authorization: "Bearer " + token, "content-type": "application/json" },
  body: JSON.stringify({ domain: process.env.CERTBOT_DOMAIN ?? "", validation: process.env.CERTBOT_VALIDATION ?? "" })
})
if (!res.ok) {
  console.error("byteport dns hook " + action + ": HTTP " + res.status + " " + (await res.text()))
  process.exit(1)
}
`

/** Writes the hook script into `dir` (0700) and returns its path. */
export const writeScript = (dir: string): string => {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = path.join(dir, "byteport-dns-hook.mjs")
  fs.writeFileSync(file, SCRIPT, { mode: 0o700 })
  return file
}

/**
 * A word for `sh -c` (certbot runs hooks through the shell): as is when it holds only safe
 * characters, else single-quoted. certbot checks the first whitespace-separated word of a hook
 * is an executable, quotes included, so the program's path must be plain.
 */
export const shellQuote = (word: string): string => /^[A-Za-z0-9_\/.:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`

/** What the hook server did (for reports; no token). */
export interface HookCall {
  readonly action: "present" | "cleanup"
  readonly domain: string
  readonly name: string
  readonly ok: boolean
  readonly error?: string
}

/** Options of {@link serve}. */
export interface ServeOptions {
  readonly provider: DnsProvider.DnsProvider
  readonly visible?: DnsProvider.VisibleOptions
  /** Skip the wait until the value is visible (default false). */
  readonly skipVisibilityCheck?: boolean
  readonly ttl?: number
}

/** A running hook server: the env to give the client, and what it was asked. */
export interface HookServer {
  readonly env: Readonly<Record<string, string>>
  readonly calls: () => ReadonlyArray<HookCall>
}

/** Runs the hook server for the scope. */
export const serve = (options: ServeOptions): Effect.Effect<HookServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<HookServer & { readonly server: http.Server }>((resolve) => {
        const token = randomBytes(24).toString("hex")
        const calls: Array<HookCall> = []
        const server = http.createServer((req, res) => {
          const chunks: Array<Buffer> = []
          req.on("data", (c: Buffer) => chunks.push(c))
          req.on("end", () => {
            void (async () => {
              if (req.headers.authorization !== `Bearer ${token}` || req.method !== "POST") return void res.writeHead(403).end("forbidden")
              const action = req.url === "/present" ? "present" : req.url === "/cleanup" ? "cleanup" : undefined
              if (action === undefined) return void res.writeHead(404).end()
              let body: { domain?: string; validation?: string }
              try {
                body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { domain?: string; validation?: string }
              } catch {
                return void res.writeHead(400).end("bad json")
              }
              const domain = body.domain ?? ""
              const value = body.validation ?? ""
              const name = DnsProvider.challengeName(domain)
              const effect = action === "present"
                ? Effect.gen(function*() {
                  yield* DnsProvider.upsertTxt(options.provider, name, value, { ttl: options.ttl ?? 60 })
                  if (options.skipVisibilityCheck !== true) yield* DnsProvider.waitVisible(name, value, options.visible ?? {})
                })
                : DnsProvider.deleteTxt(options.provider, name, value)
              const exit = await Effect.runPromiseExit(effect)
              if (Exit.isSuccess(exit)) {
                calls.push({ action, domain, name, ok: true })
                return void res.writeHead(200).end("ok")
              }
              const error = Exit.isFailure(exit) ? String((exit.cause as unknown as { reasons?: Array<{ error?: { message?: string } }> }).reasons?.[0]?.error?.message ?? "failed") : "failed"
              calls.push({ action, domain, name, ok: false, error })
              res.writeHead(500).end(error)
            })()
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as AddressInfo).port
          resolve({ env: { BYTEPORT_DNS_HOOK_URL: `http://127.0.0.1:${port}`, BYTEPORT_DNS_HOOK_TOKEN: token }, calls: () => [...calls], server })
        })
      })
    ),
    (h) => Effect.promise(() => new Promise<void>((r) => { h.server.closeAllConnections(); h.server.close(() => r()) }))
  ).pipe(Effect.map(({ calls, env }) => ({ env, calls })))
