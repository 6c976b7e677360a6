/**
 * tls.expiry.threshold, path aws_acm, in auto mode through the unmodified @aws-sdk/client-acm
 * against the loopback JSON 1.1 fake: a PRIVATE certificate 6 days from NotAfter (critical) is
 * renewed by RenewCertificate and verified by NotAfter moving; an AMAZON_ISSUED one whose
 * validation CNAMEs are gone (ACM cannot renew it) fails the acm_cnames pre-check: escalated to
 * the ops channel (10 days: warning) with no write (the fake's request log, the DNS); CAA naming
 * another CA than Amazon escalates the same way. dry_run makes no call but DescribeCertificate.
 * The snapshots carry ACM's NotAfter and serial, and their diff shows the renewal.
 */
import { ACMClient } from "@aws-sdk/client-acm"
import { type Escalation, type IncidentReport, Runbook, Signal, Sink, type SinkMessage, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Acm, type Caa, CertificateSignals, ThresholdRunbook } from "../src/index"
import * as AcmFake from "../src/testing/acm"
import { memoryValidationDns } from "./support/acm"

const DAY = 86_400_000

describe("tls.expiry.threshold: aws_acm (client-acm against the ACM fake)", () => {
  const { records, dnsWrites, dns } = memoryValidationDns()
  const caa = new Map<string, ReadonlyArray<Caa.Record>>()
  const resolver: Caa.Resolver = { addresses: async () => [], caa: async (n) => caa.get(n) ?? [] }
  let fake: AcmFake.AcmFake
  let client: ACMClient
  const writes = () => fake.requests().map((r) => r.operation).filter((o) => o !== "DescribeCertificate" && o !== "ListCertificates" && o !== "GetCertificate")

  beforeAll(async () => {
    fake = await AcmFake.start({ cname: (n) => records.get(n) })
    client = new ACMClient({ region: fake.region, endpoint: fake.endpoint, credentials: { accessKeyId: "AKIDBYTEPORTTEST", secretAccessKey: "byteport-test" }, maxAttempts: 1 })
  })
  afterAll(async () => {
    client?.destroy()
    await fake?.close()
  })

  /** The load balancer's endpoint (no handshake here: ACM's NotAfter is what the runbook reads). */
  const endpointFor = (domain: string, arn: string): ThresholdRunbook.Endpoint => ({ host: "127.0.0.1", port: 9, servername: domain, acm: { arn } })
  const signalFor = (e: ThresholdRunbook.Endpoint, days: number) =>
    Signal.make({ type: CertificateSignals.SIGNAL_EXPIRING_SOON, target: CertificateSignals.targetOf(e), observedAt: Date.now(), source: "test", evidence: { thresholdDays: days } })

  const handle = async (e: ThresholdRunbook.Endpoint, days: number, mode: "auto" | "dry_run" = "auto") => {
    const options: ThresholdRunbook.Options = { endpoints: [e], acm: { client, dns }, resolver, verifySchedule: Verifier.once("0 seconds"), cooldown: "0 seconds" }
    return Effect.runPromise(Effect.gen(function*() {
      const ops = yield* Sink.memory("ops")
      const pager = yield* Sink.memory("pager")
      const layer = Layer.merge(
        Testing.layer({ handlers: Acm.handlers({ client, dns }) }),
        ThresholdRunbook.notifier().pipe(Layer.provide(Layer.merge(Sink.layerOpsChannel(ops), Sink.layerPager(pager))))
      )
      const r = yield* Effect.provide(Runbook.handle(ThresholdRunbook.make(options), signalFor(e, days), { mode }), layer)
      const esc = (m: ReadonlyArray<SinkMessage.SinkMessage>): ReadonlyArray<Escalation.Escalation> => m.flatMap((x) => (x.kind === "escalation" ? [x.escalation] : []))
      return { report: r as IncidentReport.IncidentReport, ops: esc(yield* ops.messages), pager: esc(yield* pager.messages) }
    }))
  }
  const classOf = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : r.classification?._tag)

  it("PRIVATE, 6 days (critical): RenewCertificate, NotAfter moved and verified; the snapshots show it", async () => {
    const cert = fake.add({ type: "PRIVATE", domainName: `internal-${process.pid}.example.com`, notBefore: Date.now() - 300 * DAY, notAfter: Date.now() + 6 * DAY })
    const w0 = writes().length
    const { report, ops, pager } = await handle(endpointFor(cert.domainName, cert.arn), 7)
    assert.strictEqual(classOf(report), "aws_acm")
    assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.outcomes))
    assert.deepStrictEqual(report.outcomes.map((o) => [o.kind, o.status]), [["tls.acm.renewCertificate", "applied"]])
    assert.deepStrictEqual(writes().slice(w0), ["RenewCertificate"])
    assert.deepStrictEqual((report.facts["severity"] as { value?: unknown }).value, "critical")
    const pm = report.postmortem as { diff: Array<{ field: string; before: unknown; after: unknown }> }
    const moved = pm.diff.find((d) => d.field === "acm.notAfter")
    assert.isDefined(moved)
    assert.isAbove(Date.parse(String(moved!.after)), Date.now() + 30 * DAY)
    assert.deepStrictEqual([ops.length, pager.length], [0, 0])
  })

  it("AMAZON_ISSUED without its validation CNAMEs, 10 days (warning): acm_cnames fails → ops channel, no write", async () => {
    const cert = fake.add({ type: "AMAZON_ISSUED", domainName: `shop-${process.pid}.example.com`, notBefore: Date.now() - 300 * DAY, notAfter: Date.now() + 10 * DAY })
    const w0 = writes().length
    const { report, ops, pager } = await handle(endpointFor(cert.domainName, cert.arn), 14)
    assert.strictEqual(classOf(report), "aws_acm")
    assert.deepStrictEqual(report.outcomes.map((o) => [o.kind, o.status]), [["escalate", "escalated"]])
    assert.match(report.escalation?.reason ?? "", /acm_cnames: .*missing validation CNAME/)
    assert.deepStrictEqual(writes().slice(w0), [])
    assert.deepStrictEqual(dnsWrites, [])
    assert.lengthOf(ops, 1)
    assert.strictEqual(ops[0]!.severity, "warning")
    assert.lengthOf(pager, 0)
  })

  it("CAA naming another CA: escalated before any write; dry_run calls nothing but DescribeCertificate", async () => {
    const domain = `caa-${process.pid}.example.com`
    caa.set(domain, [{ flags: 0, tag: "issue", value: "letsencrypt.org" }])
    const cert = fake.add({ type: "PRIVATE", domainName: domain, notBefore: Date.now() - 300 * DAY, notAfter: Date.now() + 3 * DAY })
    const w0 = writes().length
    const { report, pager } = await handle(endpointFor(domain, cert.arn), 7)
    assert.match(report.escalation?.reason ?? "", /caa: .*permits letsencrypt\.org, not amazon\.com/)
    assert.deepStrictEqual(writes().slice(w0), [])
    assert.lengthOf(pager, 1, "critical: paged")
    caa.delete(domain)
    const dry = await handle(endpointFor(domain, cert.arn), 7, "dry_run")
    assert.strictEqual(classOf(dry.report), "aws_acm")
    assert.deepStrictEqual(writes().slice(w0), [])
    assert.isBelow((await Effect.runPromise(Acm.describe(client, cert.arn))).notAfter, Date.now() + 4 * DAY)
  })
})
