/**
 * Renewing AWS Certificate Manager certificates with `@aws-sdk/client-acm`, by the certificate's
 * type, as three core action kinds (each with `observe` and dry_run; dry_run only reads):
 *
 * - `AMAZON_ISSUED` → `tls.acm.restoreValidation`: ACM renews these itself, but only while the
 *   validation CNAMEs of `DomainValidationOptions[].ResourceRecord` exist. The action checks each
 *   through a {@link ValidationDns}, writes back the missing ones, then waits until ACM's renewal
 *   moved NotAfter.
 * - `PRIVATE` → `tls.acm.renewCertificate`: `RenewCertificate`, then waits until NotAfter moved.
 * - `IMPORTED` → `tls.acm.reimportCertificate`: the certificate was renewed elsewhere (an ACME
 *   renewer wrote files); its key must match and it must cover the certificate's DomainName; it is
 *   imported to the same ARN (`ImportCertificate` with `CertificateArn`), so every resource using
 *   the ARN gets it; NotAfter must then equal the new leaf's.
 *
 * Every action is planned from the NotAfter ACM showed (`precondition.notAfter`): a different one
 * when it runs is a conflict, and after it NotAfter must have moved past it, or the action fails.
 * Key material goes from a file to the API only; params, results and errors carry ARNs, names,
 * paths and dates.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { ACMClient, DescribeCertificateCommand, ImportCertificateCommand, RenewCertificateCommand } from "@aws-sdk/client-acm"
import { Clock, Effect, Schema } from "effect"
import * as Backup from "../backup/Backup"
import * as Certificate from "../Certificate"

/** The DNS the validation CNAMEs live in (a Route 53 zone, Cloudflare …): read and write one CNAME. */
export interface ValidationDns {
  /** The CNAME value at `name` (undefined: no record). */
  readonly getCname: (name: string) => Effect.Effect<string | undefined, AcmDnsError>
  /** Creates or replaces the CNAME at `name`. */
  readonly upsertCname: (name: string, value: string) => Effect.Effect<void, AcmDnsError>
}

/** The validation DNS failed (the zone is not ours, the provider refused …). */
export class AcmDnsError extends Schema.TaggedError<AcmDnsError>()("AcmDnsError", {
  name: Schema.String,
  message: Schema.String
}) {}

/** The ACM certificate types. */
export type CertificateType = "AMAZON_ISSUED" | "PRIVATE" | "IMPORTED"

/** What DescribeCertificate says, as this module reads it. */
export interface Facts {
  readonly arn: string
  readonly type: CertificateType
  readonly status: string
  readonly domainName: string
  readonly sans: ReadonlyArray<string>
  readonly serial: string | undefined
  /** Epoch ms. */
  readonly notAfter: number
  readonly renewalEligibility: string | undefined
  readonly renewalStatus: string | undefined
  /** The validation CNAMEs (AMAZON_ISSUED with DNS validation). */
  readonly validation: ReadonlyArray<{ readonly domain: string; readonly name: string; readonly value: string }>
  readonly inUseBy: ReadonlyArray<string>
}

/** The three action kinds. */
export const Kinds = {
  restoreValidation: "tls.acm.restoreValidation",
  renewCertificate: "tls.acm.renewCertificate",
  reimportCertificate: "tls.acm.reimportCertificate"
} as const

const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))

/** DescribeCertificate, read into `Facts`. */
export const describe = (client: ACMClient, arn: string): Effect.Effect<Facts, ActionHandler.ActionFailed> =>
  Effect.tryPromise({
    try: () => client.send(new DescribeCertificateCommand({ CertificateArn: arn })),
    catch: (e) => new ActionHandler.ActionFailed({ kind: "tls.acm.describe", message: `DescribeCertificate ${arn}: ${errText(e)}` })
  }).pipe(Effect.map((out) => {
    const c = out.Certificate ?? {}
    return {
      arn,
      type: (c.Type ?? "IMPORTED") as CertificateType,
      status: c.Status ?? "UNKNOWN",
      domainName: c.DomainName ?? "",
      sans: c.SubjectAlternativeNames ?? [],
      serial: c.Serial,
      notAfter: c.NotAfter?.getTime() ?? 0,
      renewalEligibility: c.RenewalEligibility,
      renewalStatus: c.RenewalSummary?.RenewalStatus,
      validation: (c.DomainValidationOptions ?? []).flatMap((d) =>
        d.ResourceRecord?.Name !== undefined && d.ResourceRecord.Value !== undefined && d.ResourceRecord.Type === "CNAME"
          ? [{ domain: d.DomainName ?? "", name: d.ResourceRecord.Name, value: d.ResourceRecord.Value }]
          : []),
      inUseBy: c.InUseBy ?? []
    } satisfies Facts
  }))

/**
 * The validation CNAMEs of `facts` that the DNS does not hold (read-only): the pre-check "ACM
 * CNAMEs present" of the threshold runbook. Empty when all are in place.
 */
export const missingValidation = (facts: Pick<Facts, "validation">, dns: ValidationDns): Effect.Effect<ReadonlyArray<Facts["validation"][number]>, AcmDnsError> =>
  Effect.filter(facts.validation, (v) => Effect.map(dns.getCname(v.name), (current) => current !== v.value))

/** The action kind that renews a certificate of `type`. */
export const kindFor = (type: CertificateType): string =>
  type === "AMAZON_ISSUED" ? Kinds.restoreValidation : type === "PRIVATE" ? Kinds.renewCertificate : Kinds.reimportCertificate

/** Params of the three kinds (`source` only for re-import). */
export const Params = Schema.Struct({
  arn: Schema.String,
  /** The renewed certificate to import (IMPORTED): the leaf (or full chain, leaf first), the chain and the key, as files. */
  source: Schema.optionalKey(Schema.Struct({ cert: Schema.String, chain: Schema.optionalKey(Schema.String), key: Schema.String })),
  /** How long to wait for NotAfter to move (ms; default 15 min for ACM's own renewal, 2 min otherwise). */
  timeoutMillis: Schema.optionalKey(Schema.Number),
  /** How often to ask ACM (ms, default 5 000). */
  pollMillis: Schema.optionalKey(Schema.Number)
})
/** Params of the three kinds. */
export type Params = typeof Params.Type

const day = (ms: number) => new Date(ms).toISOString()

/** Polls DescribeCertificate until NotAfter is past `planned` (undefined: it did not move in time). */
const untilMoved = (client: ACMClient, arn: string, planned: number, timeoutMillis: number, pollMillis: number) =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMillis
    for (;;) {
      const f = yield* describe(client, arn)
      if (f.notAfter > planned) return f
      if ((yield* Clock.currentTimeMillis) > deadline) return undefined
      yield* Effect.sleep(`${pollMillis} millis`)
    }
  })

const readText = (kind: string, p: string) =>
  Effect.try({
    try: () => fs.readFileSync(p, "utf8"),
    catch: (e) => new ActionHandler.ActionFailed({ kind, message: `cannot read ${p} (${(e as NodeJS.ErrnoException)?.code ?? "error"})` })
  })

/** The three handlers; `dns` is needed by `tls.acm.restoreValidation`. */
export const handlers = (o: { readonly client: ACMClient; readonly dns?: ValidationDns }): ReadonlyArray<ActionHandler.ActionHandler> => {
  const { client } = o
  const make = (kind: string, type: CertificateType, run: (p: Params, f: Facts, dryRun: boolean, planned: number) => Effect.Effect<ActionHandler.HandlerResult, ActionHandler.ActionFailed>) =>
    ActionHandler.make<Params>({
      kind,
      params: Params,
      apply: (p, ctx) =>
        Effect.gen(function*() {
          const f = yield* describe(client, p.arn)
          if (f.type !== type) return yield* new ActionHandler.ActionFailed({ kind, message: `${p.arn} is ${f.type}; ${kind} renews ${type} certificates (use ${kindFor(f.type)})` })
          const planned = (ctx.action.precondition as { notAfter?: unknown }).notAfter
          if (typeof planned === "number" && f.notAfter !== planned) {
            return yield* new ActionHandler.ActionFailed({ kind, conflict: true, message: `${p.arn} NotAfter is ${day(f.notAfter)}, planned from ${day(planned)}` })
          }
          return yield* run(p, f, ctx.dryRun, typeof planned === "number" ? planned : f.notAfter)
        }),
      observe: (p, ctx) =>
        Effect.map(describe(client, p.arn), (f) => {
          const planned = (ctx.action.precondition as { notAfter?: unknown }).notAfter
          if (typeof planned !== "number") return ActionHandler.unknown(`no planned NotAfter for ${p.arn}`)
          if (f.notAfter > planned) return ActionHandler.applied(`${p.arn} NotAfter ${day(f.notAfter)} (was ${day(planned)})`)
          if (f.notAfter === planned) return ActionHandler.notApplied(`${p.arn} NotAfter still ${day(f.notAfter)}`)
          return ActionHandler.unknown(`${p.arn} NotAfter ${day(f.notAfter)}, planned from ${day(planned)}`)
        })
    })

  const moved = (kind: string, p: Params, planned: number, defaultTimeout: number, what: string) =>
    Effect.gen(function*() {
      const after = yield* untilMoved(client, p.arn, planned, p.timeoutMillis ?? defaultTimeout, p.pollMillis ?? 5_000)
      if (after === undefined) return yield* new ActionHandler.ActionFailed({ kind, message: `${what}, but NotAfter of ${p.arn} did not move past ${day(planned)} within ${p.timeoutMillis ?? defaultTimeout} ms` })
      return after
    })

  const restoreValidation = make(Kinds.restoreValidation, "AMAZON_ISSUED", (p, f, dryRun, planned) =>
    Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed> {
      const kind = Kinds.restoreValidation
      const dns = o.dns
      if (dns === undefined) return yield* new ActionHandler.ActionFailed({ kind, message: "no ValidationDns configured: the validation CNAMEs cannot be checked" })
      if (f.validation.length === 0) return yield* new ActionHandler.ActionFailed({ kind, message: `${p.arn} has no DNS validation records (email validation is renewed by its approvers)` })
      const dnsFailed = (e: AcmDnsError) => new ActionHandler.ActionFailed({ kind, message: `${e.name}: ${e.message}` })
      const missing = yield* missingValidation(f, dns).pipe(Effect.mapError(dnsFailed))
      const names = missing.map((m) => m.name)
      if (dryRun) {
        return {
          detail: `${p.arn}: ${missing.length} of ${f.validation.length} validation CNAMEs missing${missing.length > 0 ? ` (${names.join(", ")})` : ""}; would restore them and wait for ACM's renewal`,
          result: { missing: names, notAfter: f.notAfter }
        }
      }
      for (const m of missing) yield* dns.upsertCname(m.name, m.value).pipe(Effect.mapError(dnsFailed))
      const after = yield* moved(kind, p, planned, 900_000, `restored ${missing.length} validation CNAMEs`)
      return {
        detail: `${p.arn}: restored ${missing.length} validation CNAMEs; ACM renewed it, NotAfter ${day(planned)} → ${day(after.notAfter)}`,
        result: { restored: names, notAfter: after.notAfter, serial: after.serial ?? null }
      }
    }))

  const renewCertificate = make(Kinds.renewCertificate, "PRIVATE", (p, f, dryRun, planned) =>
    Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed> {
      const kind = Kinds.renewCertificate
      if (f.renewalEligibility !== undefined && f.renewalEligibility !== "ELIGIBLE") {
        return yield* new ActionHandler.ActionFailed({ kind, message: `${p.arn} is not eligible for renewal (${f.renewalEligibility})` })
      }
      if (dryRun) return { detail: `would call RenewCertificate on ${p.arn} (NotAfter ${day(f.notAfter)})`, result: { notAfter: f.notAfter } }
      yield* Effect.tryPromise({
        try: () => client.send(new RenewCertificateCommand({ CertificateArn: p.arn })),
        catch: (e) => new ActionHandler.ActionFailed({ kind, message: `RenewCertificate ${p.arn}: ${errText(e)}` })
      })
      const after = yield* moved(kind, p, planned, 120_000, "RenewCertificate accepted")
      return { detail: `${p.arn} renewed by its private CA: NotAfter ${day(planned)} → ${day(after.notAfter)}`, result: { notAfter: after.notAfter, serial: after.serial ?? null } }
    }))

  const reimportCertificate = make(Kinds.reimportCertificate, "IMPORTED", (p, f, dryRun, planned) =>
    Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed> {
      const kind = Kinds.reimportCertificate
      if (p.source === undefined) return yield* new ActionHandler.ActionFailed({ kind, message: `${kind} needs source files (the certificate renewed elsewhere)` })
      const full = yield* readText(kind, p.source.cert)
      const key = yield* readText(kind, p.source.key)
      const blocks = full.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
      const chain = p.source.chain !== undefined ? yield* readText(kind, p.source.chain) : blocks.slice(1).join("")
      const x = yield* Backup.checkKeyMatch(full, key, p.source.cert).pipe(Effect.mapError((e) => new ActionHandler.ActionFailed({ kind, message: e.message })))
      const leaf = Certificate.fromX509(x)
      const covers = (n: string) => leaf.dnsNames.some((d) => d === n || (d.startsWith("*.") && n.endsWith(d.slice(1)) && !n.slice(0, -d.length + 1).includes(".")))
      if (!covers(f.domainName)) return yield* new ActionHandler.ActionFailed({ kind, message: `the new certificate (${leaf.dnsNames.join(", ")}) does not cover ${f.domainName}` })
      if (!(leaf.notAfter > planned)) return yield* new ActionHandler.ActionFailed({ kind, message: `the new certificate expires ${day(leaf.notAfter)}, not after the current ${day(planned)}` })
      if (dryRun) return { detail: `would import ${p.source.cert} (serial ${leaf.serial}, NotAfter ${day(leaf.notAfter)}) to ${p.arn}`, result: { notAfter: leaf.notAfter } }
      yield* Effect.tryPromise({
        try: () =>
          client.send(new ImportCertificateCommand({
            CertificateArn: p.arn,
            Certificate: Buffer.from(blocks[0] ?? full),
            PrivateKey: Buffer.from(key),
            ...(chain !== "" ? { CertificateChain: Buffer.from(chain) } : {})
          })),
        catch: (e) => new ActionHandler.ActionFailed({ kind, message: `ImportCertificate ${p.arn}: ${errText(e)}` })
      })
      const after = yield* describe(client, p.arn)
      if (Math.floor(after.notAfter / 1000) !== Math.floor(leaf.notAfter / 1000)) {
        return yield* new ActionHandler.ActionFailed({ kind, message: `imported to ${p.arn}, but ACM shows NotAfter ${day(after.notAfter)}, not the new ${day(leaf.notAfter)}` })
      }
      return { detail: `${p.arn} re-imported: NotAfter ${day(planned)} → ${day(after.notAfter)} (serial ${leaf.serial})`, result: { notAfter: after.notAfter, serial: leaf.serial } }
    }))

  return [restoreValidation, renewCertificate, reimportCertificate]
}

/** The renewal action for a described certificate (the kind follows its type); `source` for IMPORTED. */
export const action = (o: {
  readonly facts: Pick<Facts, "arn" | "type" | "notAfter" | "domainName">
  readonly source?: { readonly cert: string; readonly chain?: string; readonly key: string }
  readonly timeoutMillis?: number
  readonly pollMillis?: number
}): Action.Action => {
  const kind = kindFor(o.facts.type)
  const params = {
    arn: o.facts.arn,
    ...(o.source !== undefined ? { source: { ...o.source } } : {}),
    ...(o.timeoutMillis !== undefined ? { timeoutMillis: o.timeoutMillis } : {}),
    ...(o.pollMillis !== undefined ? { pollMillis: o.pollMillis } : {})
  } as Json.JsonObject
  const what = o.facts.type === "AMAZON_ISSUED"
    ? "check and restore the validation CNAMEs of"
    : o.facts.type === "PRIVATE" ? "RenewCertificate" : `import the renewed certificate ${o.source?.cert ?? "?"} to`
  return Action.make({
    kind,
    target: TargetRef.make("acm-certificate", o.facts.arn),
    params,
    precondition: { notAfter: o.facts.notAfter },
    timeoutMs: (o.timeoutMillis ?? (o.facts.type === "AMAZON_ISSUED" ? 900_000 : 120_000)) + 30_000,
    description: `${what} ${o.facts.arn} (${o.facts.domainName}, NotAfter ${day(o.facts.notAfter)}) and verify NotAfter moved`
  })
}
