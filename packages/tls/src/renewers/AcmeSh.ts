/**
 * acme.sh as a {@link Renewer.Renewer} (argv through core's `Shell`): `acme.sh --renew -d <domain>`
 * (`--force`, `--ecc` for an ECDSA lineage) for an existing lineage in its home, else `--issue`
 * with `-d` per name, `--server <directory>`, `-w <webroot>` / `--standalone --httpport`, or
 * `--dns dns_aws|dns_cf|dns_gcloud` (credentials in acme.sh's own environment variables:
 * `AWS_ACCESS_KEY_ID`…, `CF_Token`…, gcloud's configuration), `--keylength ec-256|ec-384|2048…`.
 * The certificate is then in `<home>/<domain>[_ecc]/` (`<domain>.cer`, `ca.cer`, `fullchain.cer`,
 * `<domain>.key`). A BytePort `DnsProvider` cannot be used by acme.sh (its DNS APIs are its own
 * shell scripts): dns-01 needs `plugin`.
 *
 * acme.sh cannot be installed on the test machines: the argv is unit-tested; a real run happens
 * only where `acme.sh` is on PATH.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Shell } from "@byteport/core/shell"
import { Effect } from "effect"
import * as Renewer from "./Renewer"

const KIND = "acme.sh"

/** acme.sh's DNS API names for BytePort's plugin names. */
export const DNS_API: Readonly<Record<Renewer.DnsPlugin, string>> = { route53: "dns_aws", cloudflare: "dns_cf", google: "dns_gcloud" }

/** Options of {@link make}. */
export interface Options {
  /** The script (default `acme.sh`). */
  readonly acmeSh?: string
  /** `--home` (default `~/.acme.sh`, acme.sh's own). */
  readonly home?: string
  /** `--force` on renew (default true). */
  readonly force?: boolean
  readonly timeoutMillis?: number
}

const keyLength = (policy: Renewer.KeyPolicy | undefined): string | undefined =>
  policy === undefined ? "ec-256" : policy.type === "ecdsa" ? (policy.curve === "P-384" ? "ec-384" : "ec-256") : policy.type === "rsa" ? String(policy.bits ?? 2048) : undefined

/** True when the request asks for an ECDSA key (acme.sh keeps those in `<domain>_ecc`). */
export const isEcc = (request: Renewer.RenewRequest): boolean => (keyLength(request.keyPolicy) ?? "").startsWith("ec-")

/** The lineage directory of a request in `home`. */
export const lineageDir = (home: string, request: Renewer.RenewRequest): string => path.join(home, `${request.domains[0] ?? ""}${isEcc(request) ? "_ecc" : ""}`)

/** Pure: acme.sh's argv (`renew` for an existing lineage, `issue` for a new one). */
export const argv = (request: Renewer.RenewRequest, options: Options, mode: "renew" | "issue"): ReadonlyArray<string> => {
  const out: Array<string> = [options.acmeSh ?? "acme.sh", mode === "renew" ? "--renew" : "--issue"]
  for (const d of mode === "renew" ? request.domains.slice(0, 1) : request.domains) out.push("-d", d)
  if (options.home !== undefined) out.push("--home", options.home)
  if (request.account !== undefined) out.push("--server", request.account.directoryUrl)
  if (mode === "renew") {
    if (options.force ?? true) out.push("--force")
    if (isEcc(request)) out.push("--ecc")
    return out
  }
  const kl = keyLength(request.keyPolicy)
  if (kl !== undefined) out.push("--keylength", kl)
  if (request.account?.email !== undefined) out.push("--accountemail", request.account.email)
  const c = request.challenge
  if (c?.type === "http-01" && c.mode === "webroot") out.push("-w", c.webroot)
  if (c?.type === "http-01" && c.mode === "standalone") out.push("--standalone", "--httpport", String(c.port ?? 80))
  if (c?.type === "dns-01" && c.plugin !== undefined) out.push("--dns", DNS_API[c.plugin])
  return out
}

/** The acme.sh renewer. */
export const make = (options: Options = {}): Renewer.Renewer<Shell.Shell> => {
  const home = options.home ?? path.join(process.env.HOME ?? "/root", ".acme.sh")
  const modeOf = (request: Renewer.RenewRequest) => (fs.existsSync(lineageDir(home, request)) ? "renew" as const : "issue" as const)
  return {
    kind: KIND,
    challenges: ["http-01", "dns-01"],
    describe: (request) => Shell.formatArgv(argv(request, options, modeOf(request))),
    renew: (request) =>
      Effect.gen(function*() {
        const refused = Renewer.refusal(request, ["http-01", "dns-01"])
        if (refused !== undefined) return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: refused })
        if (request.challenge?.type === "dns-01" && request.challenge.plugin === undefined) {
          return yield* new Renewer.RenewerMisconfigured({ renewer: KIND, message: "acme.sh needs a DNS plugin (dns_aws, dns_cf, dns_gcloud); a BytePort DnsProvider cannot drive it" })
        }
        const env: Record<string, string> = {}
        if (request.account?.caBundle !== undefined) env.CA_BUNDLE = request.account.caBundle
        const args = argv(request, options, modeOf(request))
        const r = yield* Shell.run(args, { env, timeout: request.timeoutMillis ?? options.timeoutMillis ?? 300_000 }).pipe(
          Effect.mapError((e) => new Renewer.RenewFailed({ renewer: KIND, message: `acme.sh could not run (${e.reason})` }))
        )
        // acme.sh exits 2 when a renewal was skipped (not due): with --force it never is
        if (r.exitCode !== 0) {
          const text = `${r.stdout}\n${r.stderr}`
          if (text.includes(Renewer.RATE_LIMITED)) {
            return yield* new Renewer.AcmeRateLimited({ renewer: KIND, domains: [...request.domains], message: "acme.sh: rate limited by the CA" })
          }
          return yield* new Renewer.RenewFailed({ renewer: KIND, message: `acme.sh exited ${r.exitCode}`, output: text.trim().split("\n").slice(-10).join("\n") })
        }
        const dir = lineageDir(home, request)
        const main = request.domains[0] ?? ""
        const files: Renewer.RenewedFiles = { cert: path.join(dir, `${main}.cer`), chain: path.join(dir, "ca.cer"), fullchain: path.join(dir, "fullchain.cer"), key: path.join(dir, `${main}.key`) }
        return yield* Renewer.readRenewed(KIND, dir, files, request.challenge === undefined ? [] : request.domains.map((domain) => ({ domain, type: request.challenge!.type })))
      })
  }
}
