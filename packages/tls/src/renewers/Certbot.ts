/**
 * certbot as a {@link Renewer.Renewer}, through core's `Shell` (argv arrays, no shell):
 *   - an existing lineage (`<configDir>/renewal/<name>.conf`): `certbot renew --cert-name <name>`
 *     (`--force-renewal` when `force`), else `certbot certonly --cert-name <name> -d …`;
 *   - the CA: `--server <directory>`; its HTTPS trusted by `REQUESTS_CA_BUNDLE` (`account.caBundle`);
 *   - http-01: `--webroot -w <dir>` or `--standalone --http-01-port --http-01-address`;
 *   - dns-01: with a {@link DnsProvider.DnsProvider}, `--manual --preferred-challenges dns` and
 *     `--manual-auth-hook` / `--manual-cleanup-hook` running the shipped Node hook
 *     ({@link DnsHook}) that calls back into this process; with a plugin, `--dns-route53`,
 *     `--dns-cloudflare --dns-cloudflare-credentials <file>`, `--dns-google --dns-google-credentials <file>`
 *     (not the seed's `--dns-gcp`), `--dns-<plugin>-propagation-seconds`;
 *   - keys: `--key-type ecdsa --elliptic-curve secp256r1|secp384r1`, `--key-type rsa --rsa-key-size`,
 *     `--reuse-key`.
 * Before certbot runs: wildcards never with http-01, and every dns-01 name in an owned zone.
 * A failure is classified from certbot's output and the new part of its log: a rate limit
 * (`urn:ietf:params:acme:error:rateLimited`, Retry-After from the logged response headers), a
 * failed challenge (wrong key authorization, missing TXT), or `RenewFailed` with the output's tail.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Shell } from "@byteport/core/shell"
import { Effect } from "effect"
import * as DnsProvider from "../dns/DnsProvider"
import * as DnsHook from "./DnsHook"
import * as Renewer from "./Renewer"

const KIND = "certbot"

/** Options of {@link make}. */
export interface Options {
  /** The binary (default `certbot`). */
  readonly certbot?: string
  /** Default `/etc/letsencrypt`, `/var/lib/letsencrypt`, `/var/log/letsencrypt`. */
  readonly configDir?: string
  readonly workDir?: string
  readonly logsDir?: string
  /** `--force-renewal` on `renew` (default true: the runbook decided to renew; certbot would skip a certificate it thinks is not due). */
  readonly force?: boolean
  /** Node for the dns-01 hook (default this process's `process.execPath`). */
  readonly node?: string
  /** Visibility wait of the dns-01 hook (nameservers, timeout); `skip` answers without waiting. */
  readonly dnsVisible?: DnsProvider.VisibleOptions
  readonly skipTxtVisibilityCheck?: boolean
  /** certbot's budget (default 300 s). */
  readonly timeoutMillis?: number
}

const dirs = (options: Options) => ({
  configDir: options.configDir ?? "/etc/letsencrypt",
  workDir: options.workDir ?? "/var/lib/letsencrypt",
  logsDir: options.logsDir ?? "/var/log/letsencrypt"
})

/** The certificate name: `request.name`, else the first domain with a wildcard's `*.` dropped. */
export const certName = (request: Renewer.RenewRequest): string => request.name ?? (request.domains[0] ?? "").replace(/^\*\./, "")

/** True when certbot already has a lineage of that name. */
export const hasLineage = (configDir: string, name: string): boolean => fs.existsSync(path.join(configDir, "renewal", `${name}.conf`))

/**
 * Pure: certbot's argv for a request (`mode` `renew` for an existing lineage, `certonly` for a
 * new one). `hook` is the dns-01 hook command when dns-01 goes through a provider.
 */
export const argv = (
  request: Renewer.RenewRequest,
  options: Options,
  mode: "renew" | "certonly",
  hook?: { readonly node: string; readonly script: string }
): ReadonlyArray<string> => {
  const d = dirs(options)
  const name = certName(request)
  const out: Array<string> = [options.certbot ?? "certbot", mode, "--cert-name", name, "--non-interactive", "--config-dir", d.configDir, "--work-dir", d.workDir, "--logs-dir", d.logsDir]
  // renew sleeps up to 8 minutes at random when not on a terminal, unless told not to
  if (mode === "renew") out.push("--no-random-sleep-on-renew")
  if (mode === "renew" && (options.force ?? true)) out.push("--force-renewal")
  if (mode === "certonly") for (const domain of request.domains) out.push("-d", domain)
  const account = request.account
  if (account !== undefined) {
    // renew against another CA may register there: both modes agree to its terms
    out.push("--server", account.directoryUrl, "--agree-tos", ...(account.email === undefined ? ["--register-unsafely-without-email"] : ["-m", account.email]))
  }
  const key = request.keyPolicy
  if (key?.type === "reuse") out.push("--reuse-key")
  else if (key?.type === "rsa") out.push("--key-type", "rsa", "--rsa-key-size", String(key.bits ?? 2048))
  else if (key?.type === "ecdsa" || key === undefined) out.push("--key-type", "ecdsa", "--elliptic-curve", key?.curve === "P-384" ? "secp384r1" : "secp256r1")
  const c = request.challenge
  if (c?.type === "http-01" && c.mode === "webroot") out.push("--preferred-challenges", "http-01", "--webroot", "-w", c.webroot)
  if (c?.type === "http-01" && c.mode === "standalone") {
    out.push("--preferred-challenges", "http-01", "--standalone", "--http-01-port", String(c.port ?? 80))
    if (c.address !== undefined) out.push("--http-01-address", c.address)
  }
  if (c?.type === "dns-01") {
    if (c.provider !== undefined && hook !== undefined) {
      const cmd = (action: string) => [hook.node, hook.script, action].map(DnsHook.shellQuote).join(" ")
      out.push("--manual", "--preferred-challenges", "dns", "--manual-auth-hook", cmd("present"), "--manual-cleanup-hook", cmd("cleanup"))
    } else if (c.plugin !== undefined) {
      out.push("--preferred-challenges", "dns", `--dns-${c.plugin}`)
      if (c.credentials !== undefined && c.plugin !== "route53") out.push(`--dns-${c.plugin}-credentials`, c.credentials)
      if (c.propagationSeconds !== undefined) out.push(`--dns-${c.plugin}-propagation-seconds`, String(c.propagationSeconds))
    }
  }
  return out
}

/** Pure: the typed error of a failed certbot run, from its output and the new part of its log. */
export const classify = (
  request: Renewer.RenewRequest,
  text: string,
  exitCode: number,
  now: number
): Renewer.AcmeRateLimited | Renewer.AcmeChallengeFailed | Renewer.RenewFailed => {
  const tail = text.trim().split("\n").filter((l) => !/PRIVATE KEY/.test(l)).slice(-12).join("\n")
  if (text.includes(Renewer.RATE_LIMITED) || /too many (certificates|failed authorizations|new orders)/i.test(text)) {
    const header = /['"]?retry-after['"]?\s*[:=]\s*['"]?([^'"\r\n,}]+)/i.exec(text)?.[1]?.trim()
    const retryAfter = Renewer.parseRetryAfter(header, now)
    const detail = /Detail:\s*(.+)/.exec(text)?.[1]?.trim() ?? /"detail":\s*"([^"]+)"/.exec(text)?.[1] ?? "rate limited"
    return new Renewer.AcmeRateLimited({
      renewer: KIND,
      domains: [...request.domains],
      message: `certbot: rate limited by the CA (${detail})${retryAfter === undefined ? "" : `; retry after ${new Date(retryAfter).toISOString()}`}`,
      ...(retryAfter === undefined ? {} : { retryAfter })
    })
  }
  const failedFor = /Challenge failed for domain (\S+)/.exec(text)?.[1] ?? /Domain:\s*(\S+)/.exec(text)?.[1]
  const detail = /Detail:\s*(.+)/.exec(text)?.[1]?.trim()
  if (failedFor !== undefined || /urn:ietf:params:acme:error:(unauthorized|dns|connection|incorrectResponse)/.test(text)) {
    const lower = `${detail ?? ""} ${text}`.toLowerCase()
    const reason: Renewer.ChallengeFailure = lower.includes("key authorization")
      ? "wrong_key_authorization"
      : /no txt record|nxdomain|incorrect txt record/.test(lower)
      ? "missing_txt"
      : /connection refused|timeout during connect|connection reset/.test(lower)
      ? "connection"
      : "other"
    const type = /Type:\s*(urn:\S+)/.exec(text)?.[1] ?? /(urn:ietf:params:acme:error:\w+)/.exec(text)?.[1]
    const challengeType = /Type:\s*(dns-01|http-01)|(dns-01|http-01) challenge/.exec(text)
    return new Renewer.AcmeChallengeFailed({
      renewer: KIND,
      domain: failedFor ?? request.domains[0] ?? "",
      challengeType: challengeType?.[1] ?? challengeType?.[2] ?? request.challenge?.type ?? "unknown",
      reason,
      message: `certbot: challenge failed for ${failedFor ?? request.domains.join(", ")}: ${detail ?? "see output"}`,
      ...(type === undefined ? {} : { problemType: type })
    })
  }
  return new Renewer.RenewFailed({ renewer: KIND, message: `certbot exited ${exitCode}`, output: tail })
}

const logSize = (file: string): number => {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

/** The certbot renewer. */
export const make = (options: Options = {}): Renewer.Renewer<Shell.Shell> => {
  const describe = (request: Renewer.RenewRequest): string => {
    const mode = hasLineage(dirs(options).configDir, certName(request)) ? "renew" : "certonly"
    return `certbot ${mode} --cert-name ${certName(request)} (${request.domains.join(", ")}) against ${request.account?.directoryUrl ?? "the lineage's server"} by ${request.challenge?.type ?? "the lineage's authenticator"}`
  }
  const renew = (request: Renewer.RenewRequest): Effect.Effect<Renewer.Renewed, Renewer.RenewError, Shell.Shell> =>
    Effect.scoped(Effect.gen(function*() {
      const refused = Renewer.refusal(request, ["http-01", "dns-01"])
      if (refused !== undefined) return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: refused })
      const c = request.challenge
      if (c?.type === "dns-01" && c.provider === undefined && c.plugin === undefined) {
        return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: "dns-01 needs a DnsProvider or a certbot DNS plugin" })
      }
      if (c?.type === "dns-01" && c.provider !== undefined) {
        for (const d of request.domains) yield* DnsProvider.zoneOf(c.provider, DnsProvider.challengeName(d))
      }
      const d = dirs(options)
      const name = certName(request)
      const mode = hasLineage(d.configDir, name) ? "renew" as const : "certonly" as const
      if (mode === "certonly" && request.domains.length === 0) return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: "no domain" })
      const env: Record<string, string> = {}
      if (request.account?.caBundle !== undefined) env.REQUESTS_CA_BUNDLE = request.account.caBundle
      let hook: { readonly node: string; readonly script: string } | undefined
      if (c?.type === "dns-01" && c.provider !== undefined) {
        const server = yield* DnsHook.serve({
          provider: c.provider,
          ...(options.dnsVisible === undefined ? {} : { visible: options.dnsVisible }),
          ...(options.skipTxtVisibilityCheck === undefined ? {} : { skipVisibilityCheck: options.skipTxtVisibilityCheck })
        })
        Object.assign(env, server.env)
        hook = { node: options.node ?? process.execPath, script: DnsHook.writeScript(path.join(d.workDir, "byteport-hooks")) }
      }
      const args = argv(request, options, mode, hook)
      const log = path.join(d.logsDir, "letsencrypt.log")
      const before = logSize(log)
      const r = yield* Shell.run(args, { env, timeout: request.timeoutMillis ?? options.timeoutMillis ?? 300_000, maxOutputBytes: 4 * 1024 * 1024 }).pipe(
        Effect.mapError((e) => new Renewer.RenewFailed({ renewer: KIND, message: `certbot could not run (${e.reason})` }))
      )
      if (r.exitCode !== 0) {
        const logged = yield* Effect.sync(() => {
          try {
            const fd = fs.openSync(log, "r")
            const size = fs.fstatSync(fd).size
            const buf = Buffer.alloc(Math.max(0, size - before))
            fs.readSync(fd, buf, 0, buf.length, before)
            fs.closeSync(fd)
            return buf.toString("utf8")
          } catch {
            return ""
          }
        })
        return yield* classify(request, `${r.stdout}\n${r.stderr}\n${logged}`, r.exitCode, Date.now())
      }
      const live = path.join(d.configDir, "live", name)
      const files: Renewer.RenewedFiles = { cert: path.join(live, "cert.pem"), chain: path.join(live, "chain.pem"), fullchain: path.join(live, "fullchain.pem"), key: path.join(live, "privkey.pem") }
      return yield* Renewer.readRenewed(KIND, live, files, c === undefined ? [] : request.domains.map((domain) => ({ domain, type: c.type })))
    }))
  return { kind: KIND, challenges: ["http-01", "dns-01"], describe, renew }
}
