/**
 * The action kind `tls.renew`: one renewal through a {@link Renewer.Renewer} (acme-client,
 * certbot, acme.sh …) into a staging directory (`outDir`: `cert.pem`, `chain.pem`,
 * `fullchain.pem`, `privkey.pem`), which the install action then swaps in. Nothing a server reads
 * is touched here, so it needs no undo. dry_run only describes the renewal: no ACME order, no DNS
 * record, no file. `observe` reads the staged `fullchain.pem`: a leaf for the names whose notAfter
 * is past the planned-from one → Applied.
 *
 * Renewers and DNS providers are named in the params and resolved from the maps the handler is
 * built with (a provider is a live client, never serialised into a plan).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { X509Certificate } from "node:crypto"
import { Action, ActionHandler, type Json, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import type * as DnsProvider from "../dns/DnsProvider"
import type * as Renewer from "../renewers/Renewer"

/** The action kind. */
export const KIND = "tls.renew"

/** A challenge as plan params (a DNS provider by its configured name). */
export const ChallengeParams = Schema.Union([
  Schema.Struct({ type: Schema.Literal("http-01"), mode: Schema.Literal("webroot"), webroot: Schema.String }),
  Schema.Struct({ type: Schema.Literal("http-01"), mode: Schema.Literal("standalone"), port: Schema.optionalKey(Schema.Number) }),
  Schema.Struct({ type: Schema.Literal("dns-01"), provider: Schema.String }),
  /** dns-01 by the client's own DNS plugin (certbot `--dns-<plugin>`, acme.sh `--dns dns_…`) with its credentials file. */
  Schema.Struct({ type: Schema.Literal("dns-01"), plugin: Schema.Literals(["route53", "cloudflare", "google"]), credentials: Schema.optionalKey(Schema.String), propagationSeconds: Schema.optionalKey(Schema.Number) })
])
/** A challenge as plan params. */
export type ChallengeParams = typeof ChallengeParams.Type

/** Params of `tls.renew`. */
export const Params = Schema.Struct({
  /** The renewer's kind (`acme-client`, `certbot` …), a key of the handler's renewers. */
  renewer: Schema.String,
  domains: Schema.Array(Schema.String),
  challenge: ChallengeParams,
  outDir: Schema.String,
  directoryUrl: Schema.optionalKey(Schema.String),
  email: Schema.optionalKey(Schema.String),
  caBundle: Schema.optionalKey(Schema.String),
  /** The renewer's own name (certbot's `--cert-name`). */
  name: Schema.optionalKey(Schema.String),
  timeoutMillis: Schema.optionalKey(Schema.Number)
})
/** Params of `tls.renew`. */
export type Params = typeof Params.Type

/** The request a renewer gets for these params (the provider resolved). */
export const requestOf = (p: Params, providers: Readonly<Record<string, DnsProvider.DnsProvider>>): Renewer.RenewRequest | string => {
  let challenge: Renewer.Challenge
  if (p.challenge.type === "dns-01" && "plugin" in p.challenge) {
    const { plugin, credentials, propagationSeconds } = p.challenge
    challenge = { type: "dns-01", plugin, ...(credentials !== undefined ? { credentials } : {}), ...(propagationSeconds !== undefined ? { propagationSeconds } : {}) }
  } else if (p.challenge.type === "dns-01") {
    const provider = providers[p.challenge.provider]
    if (provider === undefined) return `no DNS provider named ${p.challenge.provider}`
    challenge = { type: "dns-01", provider }
  } else if (p.challenge.mode === "webroot") {
    challenge = { type: "http-01", mode: "webroot", webroot: p.challenge.webroot }
  } else {
    challenge = { type: "http-01", mode: "standalone", ...(p.challenge.port !== undefined ? { port: p.challenge.port } : {}) }
  }
  return {
    domains: [...p.domains],
    challenge,
    outDir: p.outDir,
    ...(p.directoryUrl !== undefined
      ? { account: { directoryUrl: p.directoryUrl, ...(p.email !== undefined ? { email: p.email } : {}), ...(p.caBundle !== undefined ? { caBundle: p.caBundle } : {}) } }
      : {}),
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.timeoutMillis !== undefined ? { timeoutMillis: p.timeoutMillis } : {})
  }
}

const failed = (message: string) => new ActionHandler.ActionFailed({ kind: KIND, message })

const stagedLeaf = (outDir: string): X509Certificate | undefined => {
  try {
    return new X509Certificate(fs.readFileSync(nodePath.join(outDir, "fullchain.pem")))
  } catch {
    return undefined
  }
}

/** The handler, with the renewers (by kind) and DNS providers (by name) it may use. */
export const handler = <R>(
  renewers: Readonly<Record<string, Renewer.Renewer<R>>>,
  providers: Readonly<Record<string, DnsProvider.DnsProvider>> = {}
): ActionHandler.ActionHandler<R> =>
  ActionHandler.make<Params, R>({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const renewer = renewers[p.renewer]
        if (renewer === undefined) return yield* failed(`no renewer of kind ${p.renewer}`)
        const request = requestOf(p, providers)
        if (typeof request === "string") return yield* failed(request)
        if (p.domains.some((d) => d.startsWith("*.")) && request.challenge?.type !== "dns-01") {
          return yield* failed(`a wildcard (${p.domains.join(", ")}) is never renewed by http-01`)
        }
        if (ctx.dryRun) return { detail: `would ${renewer.describe(request)}`, result: { dryRun: true, outDir: p.outDir } }
        const renewed = yield* renewer.renew(request).pipe(
          Effect.mapError((e) => failed(`${e._tag}: ${e.message}`))
        )
        return {
          detail: `renewed ${p.domains.join(", ")} by ${renewed.renewer}: serial ${renewed.serial}, notAfter ${new Date(renewed.notAfter).toISOString()}`,
          result: { serial: renewed.serial, fingerprint256: renewed.fingerprint256, notAfter: renewed.notAfter, outDir: p.outDir } as Json.JsonObject
        }
      }),
    observe: (p, ctx) =>
      Effect.sync(() => {
        const planned = ctx.action.precondition?.["notAfter"]
        const leaf = stagedLeaf(p.outDir)
        if (leaf === undefined) return ActionHandler.notApplied(`nothing staged in ${p.outDir}`)
        const notAfter = new Date(leaf.validTo).getTime()
        const names = (leaf.subjectAltName ?? "").split(", ").map((s) => s.replace(/^DNS:/, ""))
        const covers = p.domains.every((d) => names.includes(d))
        return covers && typeof planned === "number" && notAfter > planned
          ? ActionHandler.applied(`${p.outDir}/fullchain.pem: serial ${leaf.serialNumber}, notAfter ${leaf.validTo}`)
          : ActionHandler.notApplied(`${p.outDir}/fullchain.pem is not a newer certificate for ${p.domains.join(", ")}`)
      })
  })

/** Pure: the renew action. `notAfter` is the served leaf's when planned (the staged one must be later). */
export const action = (o: Params & { readonly notAfter: number }): Action.Action => {
  const { notAfter, ...params } = o
  return Action.make({
    kind: KIND,
    target: TargetRef.make("tls-certificate", o.domains[0] ?? "(none)"),
    params: JSON.parse(JSON.stringify(params)) as Json.JsonObject,
    precondition: { notAfter },
    timeoutMs: (o.timeoutMillis ?? 120_000) + 10_000,
    description: `renew ${o.domains.join(", ")} with ${o.renewer} (${o.challenge.type}) into ${o.outDir}`
  })
}
