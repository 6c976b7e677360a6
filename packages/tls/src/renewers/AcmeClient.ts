/**
 * The in-process ACME renewer (npm `acme-client` v5): account, order, http-01 (webroot or a
 * standalone server of its own) or dns-01 through a {@link DnsProvider.DnsProvider}, finalize with
 * a new key (or the old one), download the chain and write `cert.pem`, `chain.pem`,
 * `fullchain.pem`, `privkey.pem` (0600) to `outDir`.
 *
 * - Before any write or order: the request is checked ({@link Renewer.refusal}: wildcards never
 *   use http-01), and for dns-01 every `_acme-challenge` name must be in a zone the provider owns
 *   (`DnsZoneNotOwned` otherwise: no order, no record).
 * - dns-01: each TXT value is written, then waited for at `dnsNameservers` (real DNS queries)
 *   before the challenge is answered; every value is removed afterwards, whatever happened.
 * - A 429 / `urn:ietf:params:acme:error:rateLimited` is never slept on inside the client (acme-client
 *   would wait Retry-After and retry): it fails at once as {@link Renewer.AcmeRateLimited} with the
 *   Retry-After instant. An invalid challenge fails as {@link Renewer.AcmeChallengeFailed}
 *   (`wrong_key_authorization`, `missing_txt`, `connection`, `other`) with the CA's problem type.
 * - The directory's HTTPS is trusted through `account.caBundle` (a per-request agent; the global
 *   acme-client defaults are left alone).
 *
 * @since 0.1.0
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import acme from "acme-client"
import { Effect, Redacted } from "effect"
import * as Certificate from "../Certificate"
import * as DnsProvider from "../dns/DnsProvider"
import * as Renewer from "./Renewer"

const KIND = "acme-client"

/** An ACME problem document the CA answered with (recorded per renewal). */
interface Problem {
  readonly url: string
  readonly status: number
  readonly type: string | undefined
  readonly detail: string | undefined
  readonly retryAfter: string | undefined
  readonly receivedAt: number
}

interface Ctx {
  readonly agent: https.Agent | undefined
  readonly problems: Array<Problem>
  /** URLs requested, in order (`POST <url>`). */
  readonly requests: Array<string>
}

const als = new AsyncLocalStorage<Ctx>()
let installed = false

const asRecord = (u: unknown): Record<string, unknown> | undefined =>
  u !== null && typeof u === "object" && !Array.isArray(u) ? u as Record<string, unknown> : undefined

/** Interceptors on acme-client's axios instance; they act only inside a renewal of ours (AsyncLocalStorage). */
const install = () => {
  if (installed) return
  installed = true
  acme.axios.interceptors.request.use((config) => {
    const ctx = als.getStore()
    if (ctx === undefined) return config
    if (ctx.agent !== undefined) config.httpsAgent = ctx.agent
    // acme-client's retry interceptor retries 429/5xx after sleeping Retry-After; a renewal of ours never sleeps on a rate limit
    ;(config as unknown as Record<string, unknown>).retryAttempt = 1_000_000
    ctx.requests.push(`${(config.method ?? "get").toUpperCase()} ${config.url ?? ""}`)
    return config
  })
  acme.axios.interceptors.response.use((response) => {
    const ctx = als.getStore()
    if (ctx === undefined) return response
    const data = asRecord(response.data)
    const url = String(response.config.url ?? "")
    const header = response.headers["retry-after"]
    const retryAfter = typeof header === "string" ? header : typeof header === "number" ? String(header) : undefined
    if (data !== undefined && typeof data.type === "string" && response.status >= 400) {
      ctx.problems.push({ url, status: response.status, type: data.type, detail: typeof data.detail === "string" ? data.detail : undefined, retryAfter, receivedAt: Date.now() })
    } else if (response.status === 429) {
      ctx.problems.push({ url, status: 429, type: undefined, detail: undefined, retryAfter, receivedAt: Date.now() })
    }
    const error = asRecord(data?.error)
    if (data !== undefined && data.status === "invalid" && error !== undefined) {
      ctx.problems.push({ url, status: response.status, type: typeof error.type === "string" ? error.type : undefined, detail: typeof error.detail === "string" ? error.detail : undefined, retryAfter: undefined, receivedAt: Date.now() })
    }
    return response
  })
}

/** Options of {@link make}. */
export interface Options {
  /** `host:port` nameservers that must answer a dns-01 TXT value before the challenge is answered (default: the system's). */
  readonly dnsNameservers?: ReadonlyArray<string>
  /** How long a TXT value may take to become visible (default 60 s). */
  readonly dnsTimeoutMillis?: number
  /** TTL of the TXT records (default 60). */
  readonly dnsTtl?: number
  /**
   * Answer dns-01 challenges without waiting for the TXT value at `dnsNameservers` (default false:
   * wait). For split-horizon setups where BytePort's resolvers cannot see the public answer; the
   * CA then decides, and a missing record fails as `AcmeChallengeFailed` (`missing_txt`).
   */
  readonly skipTxtVisibilityCheck?: boolean
}

/** Classifies a CA's challenge problem. */
export const challengeFailure = (type: string | undefined, detail: string | undefined): Renewer.ChallengeFailure => {
  const d = (detail ?? "").toLowerCase()
  if (d.includes("key authorization") || d.includes("keyauthorization")) return "wrong_key_authorization"
  if (d.includes("txt") || d.includes("nxdomain")) return "missing_txt"
  if (type === "urn:ietf:params:acme:error:connection" || d.includes("connection refused") || d.includes("timeout") || d.includes("dial")) return "connection"
  if (type === "urn:ietf:params:acme:error:dns") return "missing_txt"
  return "other"
}

/** Turns the problems a renewal saw (rate limit first) into its typed error. */
export const errorOf = (
  renewer: string,
  domains: ReadonlyArray<string>,
  problems: ReadonlyArray<Problem>,
  fallback: string
): Renewer.AcmeRateLimited | Renewer.RenewFailed => {
  const limited = problems.find((p) => p.type === Renewer.RATE_LIMITED || (p.status === 429 && p.type === undefined))
  if (limited !== undefined) {
    const retryAfter = Renewer.parseRetryAfter(limited.retryAfter, limited.receivedAt)
    return new Renewer.AcmeRateLimited({
      renewer,
      domains: [...domains],
      url: limited.url,
      message: `rate limited by the CA (${limited.detail ?? "HTTP 429"})${retryAfter === undefined ? "" : `; retry after ${new Date(retryAfter).toISOString()}`}`,
      ...(retryAfter === undefined ? {} : { retryAfter })
    })
  }
  const last = problems[problems.length - 1]
  return new Renewer.RenewFailed({
    renewer,
    message: last?.detail !== undefined ? `${fallback}: ${last.detail}` : fallback,
    ...(last?.type === undefined ? {} : { problemType: last.type })
  })
}

const message = (e: unknown): string => e instanceof Error ? e.message : String(e)

const makeKey = (policy: Renewer.KeyPolicy | undefined): Promise<Buffer> => {
  const p = policy ?? { type: "ecdsa" as const }
  if (p.type === "reuse") return fs.promises.readFile(p.keyPath)
  if (p.type === "rsa") return acme.crypto.createPrivateRsaKey(p.bits ?? 2048)
  return acme.crypto.createPrivateEcdsaKey(p.curve ?? "P-256")
}

/** Writes the four files (key 0600) and returns their paths and the leaf's facts. */
export const writeFiles = (outDir: string, fullchain: string, key: string | Buffer) => {
  fs.mkdirSync(outDir, { recursive: true, mode: 0o700 })
  const pems = acme.crypto.splitPemChain(fullchain)
  const leafPem = pems[0] ?? ""
  const chainPem = pems.slice(1).join("\n")
  const files: Renewer.RenewedFiles = {
    cert: path.join(outDir, "cert.pem"),
    chain: path.join(outDir, "chain.pem"),
    fullchain: path.join(outDir, "fullchain.pem"),
    key: path.join(outDir, "privkey.pem")
  }
  const write = (file: string, content: string | Buffer, mode: number) => {
    fs.writeFileSync(file, content, { mode })
    fs.chmodSync(file, mode)
  }
  write(files.key, key, 0o600)
  write(files.cert, `${leafPem.trim()}\n`, 0o644)
  write(files.chain, chainPem === "" ? "" : `${chainPem.trim()}\n`, 0o644)
  write(files.fullchain, `${pems.map((p) => p.trim()).join("\n")}\n`, 0o644)
  const leaf = Certificate.fromX509(new X509Certificate(leafPem))
  return { files, leaf }
}

/** Serves `/.well-known/acme-challenge/<token>` from a map (http-01 standalone). */
const standalone = (port: number, address: string, tokens: Map<string, string>) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        new Promise<http.Server>((resolve, reject) => {
          const server = http.createServer((req, res) => {
            const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? "")
            const value = m?.[1] === undefined ? undefined : tokens.get(m[1])
            if (value === undefined) {
              res.writeHead(404).end()
              return
            }
            res.writeHead(200, { "content-type": "text/plain" }).end(value)
          })
          server.once("error", reject)
          server.listen(port, address, () => resolve(server))
        }),
      catch: (e) => new Renewer.RenewerMisconfigured({ renewer: KIND, message: `http-01 standalone: cannot listen on ${address}:${port} (${message(e)})` })
    }),
    (server) => Effect.promise(() => new Promise<void>((r) => server.close(() => r())))
  )

/**
 * The acme-client renewer. The account key is `account.accountKeyPath` when given, else one
 * ECDSA key made per renewer (registered on first use with `termsOfServiceAgreed`).
 */
export const make = (options: Options = {}): Renewer.Renewer => {
  install()
  let accountKey: Promise<Buffer> | undefined
  const accountKeyOf = (account: Renewer.Account) =>
    account.accountKeyPath !== undefined ? fs.promises.readFile(account.accountKeyPath) : (accountKey ??= acme.crypto.createPrivateEcdsaKey("P-256"))
  /** Registered account URLs by directory and key (a registered key is not registered again). */
  const accountUrls = new Map<string, string>()

  const describe = (request: Renewer.RenewRequest): string => {
    const c = request.challenge
    const how = c === undefined
      ? "no challenge configured"
      : c.type === "dns-01"
      ? `dns-01 via ${c.provider?.kind ?? "no provider"}`
      : c.mode === "webroot"
      ? `http-01 webroot ${c.webroot}`
      : `http-01 standalone on ${c.address ?? "0.0.0.0"}:${c.port ?? 80}`
    return `acme-client: order ${request.domains.join(", ")} from ${request.account?.directoryUrl ?? "(no directory)"} by ${how}`
  }

  const renew = (request: Renewer.RenewRequest): Effect.Effect<Renewer.Renewed, Renewer.RenewError> =>
    Effect.timeoutOrElse(renewUntimed(request), {
      duration: request.timeoutMillis ?? 120_000,
      orElse: () => Effect.fail(new Renewer.RenewFailed({ renewer: KIND, message: `timed out after ${request.timeoutMillis ?? 120_000} ms (challenge records and servers were cleaned up)` }))
    })

  const renewUntimed = (request: Renewer.RenewRequest): Effect.Effect<Renewer.Renewed, Renewer.RenewError> =>
    Effect.scoped(Effect.gen(function*() {
      const refused = Renewer.refusal(request, ["http-01", "dns-01"])
      if (refused !== undefined) return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: refused })
      const account = request.account
      if (account === undefined) return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: "no ACME account / directory configured" })
      const challenge = request.challenge
      if (challenge === undefined) return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: "no challenge configured" })
      if (challenge.type === "dns-01" && challenge.provider === undefined) {
        return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: "dns-01 needs a DnsProvider (plugins are certbot's and acme.sh's)" })
      }
      // dns-01: every record name in an owned zone before any order or write
      if (challenge.type === "dns-01" && challenge.provider !== undefined) {
        for (const d of request.domains) yield* DnsProvider.zoneOf(challenge.provider, DnsProvider.challengeName(d))
      }

      const caBundle = account.caBundle
      const agent = caBundle === undefined ? undefined : yield* Effect.try({
        try: () => new https.Agent({ ca: fs.readFileSync(caBundle) }),
        catch: (e) => new Renewer.RenewerMisconfigured({ renewer: KIND, message: `account.caBundle ${caBundle} is unreadable (${message(e)})` })
      })
      const ctx: Ctx = { agent, problems: [], requests: [] }
      const call = <A>(what: string, f: () => Promise<A>) =>
        Effect.tryPromise({ try: () => als.run(ctx, f), catch: (e) => errorOf(KIND, request.domains, ctx.problems, `${what}: ${message(e)}`) })

      const key = yield* call("account key", () => accountKeyOf(account))
      const accountId = `${account.directoryUrl}|${account.accountKeyPath ?? "generated"}`
      const known = accountUrls.get(accountId)
      const client = new acme.Client({
        directoryUrl: account.directoryUrl,
        accountKey: key,
        backoffAttempts: 20,
        backoffMin: 100,
        backoffMax: 1_000,
        ...(known === undefined ? {} : { accountUrl: known })
      })
      if (known === undefined) {
        yield* call("new account", () =>
          client.createAccount({ termsOfServiceAgreed: true, ...(account.email === undefined ? {} : { contact: [`mailto:${account.email}`] }) }))
        accountUrls.set(accountId, client.getAccountUrl())
      }
      const order = yield* call("new order", () => client.createOrder({ identifiers: request.domains.map((value) => ({ type: "dns", value })) }))
      const authzs = yield* call("authorizations", () => client.getAuthorizations(order))

      const tokens = new Map<string, string>()
      if (challenge.type === "http-01" && challenge.mode === "standalone") {
        yield* standalone(challenge.port ?? 80, challenge.address ?? "0.0.0.0", tokens)
      }
      const used: Array<{ readonly domain: string; readonly type: Renewer.ChallengeType }> = []
      const cleanups: Array<Effect.Effect<void>> = []
      yield* Effect.addFinalizer(() => Effect.forEach(cleanups, (c) => c, { discard: true }))

      for (const authz of authzs) {
        const domain = `${authz.wildcard === true ? "*." : ""}${authz.identifier.value}`
        if (authz.status === "valid") continue
        const ch = authz.challenges.find((c) => c.type === challenge.type)
        if (ch === undefined) {
          return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: `the CA offers no ${challenge.type} challenge for ${domain}` })
        }
        const keyAuthorization = yield* call("key authorization", () => client.getChallengeKeyAuthorization(ch))
        const token = "token" in ch ? String(ch.token) : ""
        if (challenge.type === "dns-01" && challenge.provider !== undefined) {
          const provider = challenge.provider
          const name = DnsProvider.challengeName(authz.identifier.value)
          cleanups.push(Effect.ignore(DnsProvider.deleteTxt(provider, name, keyAuthorization)))
          yield* DnsProvider.upsertTxt(provider, name, keyAuthorization, { ttl: options.dnsTtl ?? 60 })
          if (options.skipTxtVisibilityCheck !== true) {
            yield* DnsProvider.waitVisible(name, keyAuthorization, {
              ...(options.dnsNameservers === undefined ? {} : { nameservers: options.dnsNameservers }),
              timeoutMillis: options.dnsTimeoutMillis ?? 60_000
            })
          }
        } else if (challenge.type === "http-01" && challenge.mode === "webroot") {
          const dir = path.join(challenge.webroot, ".well-known", "acme-challenge")
          const file = path.join(dir, token)
          yield* Effect.try({
            try: () => {
              fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
              fs.writeFileSync(file, keyAuthorization, { mode: 0o644 })
            },
            catch: (e) => new Renewer.RenewFailed({ renewer: KIND, message: `http-01 webroot: cannot write ${file} (${message(e)})` })
          })
          cleanups.push(Effect.sync(() => fs.rmSync(file, { force: true })))
        } else {
          tokens.set(token, keyAuthorization)
        }
        const before = ctx.problems.length
        yield* Effect.tryPromise({
          try: () => als.run(ctx, async () => {
            await client.completeChallenge(ch)
            await client.waitForValidStatus(ch)
          }),
          catch: (e) => {
            const limited = errorOf(KIND, request.domains, ctx.problems.slice(before), "")
            if (limited._tag === "AcmeRateLimited") return limited
            const problem = ctx.problems.slice(before).reverse().find((p) => p.type !== undefined)
            return new Renewer.AcmeChallengeFailed({
              renewer: KIND,
              domain,
              challengeType: challenge.type,
              reason: challengeFailure(problem?.type, problem?.detail ?? message(e)),
              message: `${challenge.type} for ${domain} failed: ${problem?.detail ?? message(e)}`,
              ...(problem?.type === undefined ? {} : { problemType: problem.type })
            })
          }
        })
        used.push({ domain, type: challenge.type })
      }

      const certKey = yield* call("certificate key", () => makeKey(request.keyPolicy))
      const [, csr] = yield* call("CSR", () =>
        acme.crypto.createCsr({ commonName: request.domains[0] ?? "", altNames: [...request.domains] }, certKey))
      const finalized = yield* call("finalize", () => client.finalizeOrder(order, csr))
      const fullchain = yield* call("certificate", () => client.getCertificate(finalized))
      const outDir = request.outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "byteport-renew-"))
      const { files, leaf } = yield* Effect.try({
        try: () => writeFiles(outDir, fullchain, certKey),
        catch: (e) => new Renewer.RenewFailed({ renewer: KIND, message: `writing the certificate to ${outDir}: ${message(e)}` })
      })
      return {
        renewer: KIND,
        domains: [...request.domains],
        files,
        pems: { cert: fs.readFileSync(files.cert, "utf8"), chain: fs.readFileSync(files.chain, "utf8"), fullchain: fs.readFileSync(files.fullchain, "utf8"), key: Redacted.make(certKey.toString("utf8")) },
        orderUrl: order.url,
        serial: leaf.serial,
        fingerprint256: leaf.fingerprint256,
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
        challenges: used
      } satisfies Renewer.Renewed
    }))

  return { kind: KIND, challenges: ["http-01", "dns-01"], describe, renew }
}
