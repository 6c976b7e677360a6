/**
 * A loopback fake of AWS Certificate Manager in its real wire shape (JSON 1.1: `POST /`,
 * `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: CertificateManager.<Operation>`,
 * epoch-seconds timestamps, base64 blobs, errors as `{"__type", "message"}` with HTTP 400), so
 * `@aws-sdk/client-acm` runs unmodified but for `endpoint`. Operations: DescribeCertificate,
 * ListCertificates (status filter, paging), RenewCertificate, ImportCertificate (new or re-import
 * to the same ARN), GetCertificate (imported certificates).
 *
 * Managed renewal is modelled from the DNS records the fake is given: an `AMAZON_ISSUED`
 * certificate inside its renewal window (default 60 days before NotAfter) is renewed on the next
 * request (NotBefore now, NotAfter now + `validityDays`, a new serial, RenewalSummary `SUCCESS`)
 * only while every validation CNAME (`DomainValidationOptions[].ResourceRecord`) resolves to its
 * value; otherwise RenewalSummary is `PENDING_VALIDATION` and the certificate expires at NotAfter.
 * `PRIVATE` certificates renew by RenewCertificate only; `IMPORTED` ones never renew by themselves
 * and are replaced by ImportCertificate with their ARN.
 *
 * Left out: request signatures are not checked, RequestCertificate, DeleteCertificate, tags,
 * export, email validation, key algorithms and the `InUseBy` bookkeeping beyond what a test sets.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** The ACM certificate types. */
export type CertificateType = "AMAZON_ISSUED" | "PRIVATE" | "IMPORTED"

/** One certificate the fake holds. */
export interface FakeCertificate {
  readonly arn: string
  type: CertificateType
  domainName: string
  sans: Array<string>
  status: "ISSUED" | "EXPIRED" | "PENDING_VALIDATION"
  notBefore: number
  notAfter: number
  serial: string
  importedAt?: number
  renewalSummary?: { status: "SUCCESS" | "PENDING_VALIDATION" | "PENDING_AUTO_RENEWAL" | "FAILED"; updatedAt: number; reason?: string }
  /** The validation CNAMEs (AMAZON_ISSUED): name → value. */
  readonly validation: ReadonlyArray<{ readonly domain: string; readonly name: string; readonly value: string }>
  certificate?: string
  chain?: string
  inUseBy: Array<string>
}

/** A request the fake received: its operation and body (ImportCertificate's key is never kept). */
export interface Received {
  readonly operation: string
  readonly body: Record<string, unknown>
}

/** Options of `start`. */
export interface Options {
  /** The clock (epoch ms; default Date.now). */
  readonly now?: () => number
  /** The DNS the managed renewal checks: the CNAME value at `name` (absent: undefined). */
  readonly cname: (name: string) => string | undefined
  /** Managed renewal starts this long before NotAfter (default 60 days). */
  readonly renewalWindowMillis?: number
  /** Validity of a renewed certificate (default 395 days). */
  readonly validityMillis?: number
  readonly region?: string
  readonly account?: string
}

/** A running fake. */
export interface AcmFake {
  /** `http://127.0.0.1:PORT` (the client's `endpoint`). */
  readonly endpoint: string
  readonly region: string
  /** Requests received so far, in order. */
  readonly requests: () => ReadonlyArray<Received>
  /** Adds an AMAZON_ISSUED or PRIVATE certificate (its validation records made up as ACM's). */
  readonly add: (o: { readonly type: "AMAZON_ISSUED" | "PRIVATE"; readonly domainName: string; readonly sans?: ReadonlyArray<string>; readonly notBefore: number; readonly notAfter: number }) => FakeCertificate
  /** The certificate of an ARN (live state). */
  readonly get: (arn: string) => FakeCertificate | undefined
  readonly close: () => Promise<void>
}

const DAY = 86_400_000

class AcmError extends Error {
  constructor(readonly type: string, message: string) {
    super(message)
  }
}

const hex = (n: number) => crypto.randomBytes(n).toString("hex")
const serialOf = (h: string) => h.match(/../g)!.join(":")

/** Starts the fake on 127.0.0.1 (a free port). */
export const start = async (options: Options): Promise<AcmFake> => {
  const now = options.now ?? Date.now
  const region = options.region ?? "us-east-1"
  const account = options.account ?? "123456789012"
  const window = options.renewalWindowMillis ?? 60 * DAY
  const validity = options.validityMillis ?? 395 * DAY
  const certs = new Map<string, FakeCertificate>()
  const received: Array<Received> = []
  const newArn = () => `arn:aws:acm:${region}:${account}:certificate/${crypto.randomUUID()}`

  /** ACM's managed renewal, evaluated at every request. */
  const manage = () => {
    const t = now()
    for (const c of certs.values()) {
      if (c.type === "AMAZON_ISSUED" && c.status === "ISSUED" && t >= c.notAfter - window) {
        const missing = c.validation.filter((v) => options.cname(v.name) !== v.value)
        if (missing.length === 0) {
          c.notBefore = t
          c.notAfter = t + validity
          c.serial = serialOf(hex(16))
          c.renewalSummary = { status: "SUCCESS", updatedAt: t }
        } else {
          c.renewalSummary = { status: "PENDING_VALIDATION", updatedAt: t, reason: `validation CNAMEs missing: ${missing.map((m) => m.name).join(", ")}` }
        }
      }
      if (c.status === "ISSUED" && t >= c.notAfter) c.status = "EXPIRED"
    }
  }

  const find = (arn: unknown): FakeCertificate => {
    const c = typeof arn === "string" ? certs.get(arn) : undefined
    if (c === undefined) throw new AcmError("ResourceNotFoundException", `Could not find certificate ${String(arn)}.`)
    return c
  }
  const secs = (ms: number) => ms / 1000

  const describe = (c: FakeCertificate) => ({
    CertificateArn: c.arn,
    DomainName: c.domainName,
    SubjectAlternativeNames: [...c.sans],
    Serial: c.serial,
    Subject: `CN=${c.domainName}`,
    Issuer: c.type === "AMAZON_ISSUED" ? "Amazon" : c.type === "PRIVATE" ? "BytePort Private CA" : "imported",
    Status: c.status,
    Type: c.type,
    NotBefore: secs(c.notBefore),
    NotAfter: secs(c.notAfter),
    ...(c.importedAt !== undefined ? { ImportedAt: secs(c.importedAt) } : { IssuedAt: secs(c.notBefore), CreatedAt: secs(c.notBefore) }),
    KeyAlgorithm: "EC_prime256v1",
    SignatureAlgorithm: "SHA256WITHECDSA",
    InUseBy: [...c.inUseBy],
    RenewalEligibility: c.type === "IMPORTED" ? "INELIGIBLE" : c.inUseBy.length > 0 || c.type === "PRIVATE" ? "ELIGIBLE" : "INELIGIBLE",
    ...(c.type === "AMAZON_ISSUED"
      ? {
        DomainValidationOptions: c.validation.map((v) => ({
          DomainName: v.domain,
          ValidationDomain: v.domain,
          ValidationMethod: "DNS",
          ValidationStatus: c.renewalSummary?.status === "PENDING_VALIDATION" && options.cname(v.name) !== v.value ? "PENDING_VALIDATION" : "SUCCESS",
          ResourceRecord: { Name: v.name, Type: "CNAME", Value: v.value }
        }))
      }
      : {}),
    ...(c.renewalSummary !== undefined
      ? {
        RenewalSummary: {
          RenewalStatus: c.renewalSummary.status,
          UpdatedAt: secs(c.renewalSummary.updatedAt),
          ...(c.renewalSummary.reason !== undefined ? { RenewalStatusReason: "NO_AVAILABLE_CONTACTS" } : {}),
          ...(c.type === "AMAZON_ISSUED"
            ? { DomainValidationOptions: c.validation.map((v) => ({ DomainName: v.domain, ValidationMethod: "DNS", ValidationStatus: options.cname(v.name) === v.value ? "SUCCESS" : "PENDING_VALIDATION", ResourceRecord: { Name: v.name, Type: "CNAME", Value: v.value } })) }
            : {})
        }
      }
      : {}),
    Options: { CertificateTransparencyLoggingPreference: "ENABLED" }
  })

  const blob = (v: unknown, field: string): string => {
    if (typeof v !== "string" || v === "") throw new AcmError("ValidationException", `1 validation error detected: Value at '${field.toLowerCase()}' failed to satisfy constraint: Member must not be null`)
    return Buffer.from(v, "base64").toString("utf8")
  }

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    DescribeCertificate: (b) => ({ Certificate: describe(find(b["CertificateArn"])) }),
    ListCertificates: (b) => {
      const statuses = Array.isArray(b["CertificateStatuses"]) ? (b["CertificateStatuses"] as Array<string>) : undefined
      const all = [...certs.values()].filter((c) => statuses === undefined || statuses.includes(c.status))
      const start = typeof b["NextToken"] === "string" ? Number(b["NextToken"]) : 0
      const max = typeof b["MaxItems"] === "number" ? b["MaxItems"] : 1000
      const page = all.slice(start, start + max)
      return {
        CertificateSummaryList: page.map((c) => ({
          CertificateArn: c.arn, DomainName: c.domainName, SubjectAlternativeNameSummaries: [...c.sans], Type: c.type, Status: c.status,
          NotBefore: secs(c.notBefore), NotAfter: secs(c.notAfter), InUse: c.inUseBy.length > 0, KeyAlgorithm: "EC_prime256v1",
          RenewalEligibility: c.type === "IMPORTED" ? "INELIGIBLE" : "ELIGIBLE"
        })),
        ...(start + max < all.length ? { NextToken: String(start + max) } : {})
      }
    },
    RenewCertificate: (b) => {
      const c = find(b["CertificateArn"])
      if (c.type !== "PRIVATE") throw new AcmError("ValidationException", `Certificate ${c.arn} is not a private certificate. Only private certificates can be renewed with RenewCertificate.`)
      const t = now()
      c.notBefore = t
      c.notAfter = t + validity
      c.serial = serialOf(hex(16))
      c.status = "ISSUED"
      c.renewalSummary = { status: "SUCCESS", updatedAt: t }
      return {}
    },
    ImportCertificate: (b) => {
      const pem = blob(b["Certificate"], "Certificate")
      blob(b["PrivateKey"], "PrivateKey")
      const chain = b["CertificateChain"] !== undefined ? blob(b["CertificateChain"], "CertificateChain") : undefined
      let x: crypto.X509Certificate
      try {
        x = new crypto.X509Certificate(pem)
      } catch {
        throw new AcmError("ValidationException", "The certificate field contains more than one certificate or is not a valid certificate.")
      }
      const sans = (x.subjectAltName ?? "").split(/,\s*/).filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4))
      const cn = /CN=([^\n,]+)/.exec(x.subject)?.[1] ?? sans[0] ?? ""
      const fields = {
        domainName: cn, sans: sans.length > 0 ? sans : [cn], status: Date.parse(x.validTo) > now() ? ("ISSUED" as const) : ("EXPIRED" as const),
        notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo), serial: x.serialNumber.toLowerCase().match(/../g)!.join(":"),
        importedAt: now(), certificate: pem, ...(chain !== undefined ? { chain } : {})
      }
      if (typeof b["CertificateArn"] === "string") {
        const c = find(b["CertificateArn"])
        if (c.type !== "IMPORTED") throw new AcmError("ValidationException", `Certificate ${c.arn} was not imported; only imported certificates can be re-imported.`)
        Object.assign(c, fields)
        return { CertificateArn: c.arn }
      }
      const c: FakeCertificate = { arn: newArn(), type: "IMPORTED", validation: [], inUseBy: [], ...fields }
      certs.set(c.arn, c)
      return { CertificateArn: c.arn }
    },
    GetCertificate: (b) => {
      const c = find(b["CertificateArn"])
      if (c.certificate === undefined) throw new AcmError("RequestInProgressException", `Certificate ${c.arn} has no exportable body in this fake.`)
      return { Certificate: c.certificate, ...(c.chain !== undefined ? { CertificateChain: c.chain } : {}) }
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const reply = (status: number, body: unknown, type?: string) => {
        res.writeHead(status, { "Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": crypto.randomUUID(), ...(type !== undefined ? { "x-amzn-ErrorType": type } : {}) })
        res.end(JSON.stringify(body))
      }
      const target = String(req.headers["x-amz-target"] ?? "")
      const operation = target.startsWith("CertificateManager.") ? target.slice("CertificateManager.".length) : ""
      let body: Record<string, unknown> = {}
      try {
        body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>) : {}
      } catch {
        return reply(400, { __type: "SerializationException", message: "malformed JSON" }, "SerializationException")
      }
      const { PrivateKey: _key, ...kept } = body
      received.push({ operation, body: kept })
      const op = operations[operation]
      if (req.method !== "POST" || op === undefined) return reply(400, { __type: "UnknownOperationException", message: `unknown operation ${target}` }, "UnknownOperationException")
      try {
        manage()
        reply(200, op(body))
      } catch (e) {
        if (e instanceof AcmError) return reply(400, { __type: e.type, message: e.message }, e.type)
        reply(500, { __type: "InternalFailure", message: String(e) })
      }
    })
  })
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)))

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    requests: () => [...received],
    add: (o) => {
      const arn = newArn()
      const names = [o.domainName, ...(o.sans ?? []).filter((s) => s !== o.domainName)]
      const validation = o.type === "AMAZON_ISSUED"
        ? [...new Set(names.map((n) => n.replace(/^\*\./, "")))].map((domain) => {
          const h = crypto.createHash("sha256").update(`${arn}/${domain}`).digest("hex")
          return { domain, name: `_${h.slice(0, 32)}.${domain}.`, value: `_${h.slice(32, 64)}.${hex(5)}.acm-validations.aws.` }
        })
        : []
      const c: FakeCertificate = {
        arn, type: o.type, domainName: o.domainName, sans: names, status: "ISSUED", notBefore: o.notBefore, notAfter: o.notAfter,
        serial: serialOf(hex(16)), validation, inUseBy: [`arn:aws:elasticloadbalancing:${region}:${account}:loadbalancer/app/shop/${hex(8)}`]
      }
      certs.set(arn, c)
      return c
    },
    get: (arn) => certs.get(arn),
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
