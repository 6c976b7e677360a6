/**
 * The ACM renewer's three action kinds through the unmodified @aws-sdk/client-acm against the
 * loopback JSON 1.1 fake: AMAZON_ISSUED renews itself only while its validation CNAMEs exist (the
 * fake reads the DNS records it is given), so the action restores the missing ones and waits for
 * NotAfter to move; PRIVATE → RenewCertificate; IMPORTED → the certificate renewed elsewhere is
 * imported to the same ARN. Each: observe before/after, dry_run makes no write (the fake's request
 * log and the DNS), a stale plan is a conflict; a mismatched key is refused before any import.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { ACMClient, DescribeCertificateCommand, ImportCertificateCommand, ListCertificatesCommand, RenewCertificateCommand } from "@aws-sdk/client-acm"
import { Effect, Exit } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as Acm from "../src/acm/Acm"
import * as AcmFake from "../src/testing/acm"
import * as PKI from "./pki"
import { observe, runHandler } from "./support/actions"
import { tmp } from "./support/services"

const DAY = 86_400_000

describe("ACM renewer (client-acm against the JSON 1.1 fake)", () => {
  const records = new Map<string, string>()
  const dnsWrites: Array<string> = []
  const dns: Acm.ValidationDns = {
    getCname: (name) => Effect.sync(() => records.get(name)),
    upsertCname: (name, value) => Effect.sync(() => {
      dnsWrites.push(name)
      records.set(name, value)
    })
  }
  let fake: AcmFake.AcmFake
  let client: ACMClient
  let pki: Effect.Success<typeof PKI.make>
  const dir = tmp("byteport-acm-")
  const ops = () => fake.requests().map((r) => r.operation)
  const writes = () => ops().filter((o) => o !== "DescribeCertificate" && o !== "ListCertificates" && o !== "GetCertificate")
  const [restore, renew, reimport] = [0, 1, 2]
  let hs: ReadonlyArray<import("@byteport/core").ActionHandler.ActionHandler>
  const facts = (arn: string) => Effect.runPromise(Acm.describe(client, arn))

  beforeAll(async () => {
    fake = await AcmFake.start({ cname: (n) => records.get(n) })
    client = new ACMClient({ region: fake.region, endpoint: fake.endpoint, credentials: { accessKeyId: "AKIDBYTEPORTTEST", secretAccessKey: "byteport-test" }, maxAttempts: 1 })
    hs = Acm.handlers({ client, dns })
    pki = await Effect.runPromise(PKI.make)
  })
  afterAll(async () => {
    client?.destroy()
    await fake?.close()
  })

  it("AMAZON_ISSUED: without its CNAMEs ACM does not renew; the action restores them (dry_run writes none) and NotAfter moves", async () => {
    const cert = fake.add({ type: "AMAZON_ISSUED", domainName: "shop.example.com", sans: ["www.shop.example.com"], notBefore: Date.now() - 365 * DAY, notAfter: Date.now() + 30 * DAY })
    const f = await facts(cert.arn)
    assert.strictEqual(f.type, "AMAZON_ISSUED")
    assert.lengthOf(f.validation, 2)
    assert.match(f.validation[0]!.value, /\.acm-validations\.aws\.$/)
    const raw = await client.send(new DescribeCertificateCommand({ CertificateArn: cert.arn }))
    assert.strictEqual(raw.Certificate?.RenewalSummary?.RenewalStatus, "PENDING_VALIDATION")
    assert.strictEqual(f.notAfter, cert.notAfter)

    assert.deepStrictEqual(await Effect.runPromise(Acm.missingValidation(f, dns)), f.validation)
    const action = Acm.action({ facts: f, timeoutMillis: 3_000, pollMillis: 50 })
    assert.strictEqual(action.kind, "tls.acm.restoreValidation")
    assert.strictEqual((await Effect.runPromise(observe(hs[restore]!, action)))._tag, "NotApplied")
    const before = fake.requests().length
    const dry = await Effect.runPromise(runHandler(hs[restore]!, action, "dry_run"))
    assert.isTrue(Exit.isSuccess(dry), String(dry))
    if (Exit.isSuccess(dry)) assert.deepStrictEqual(dry.value.result["missing"], f.validation.map((v) => v.name))
    assert.deepStrictEqual(dnsWrites, [])
    assert.deepStrictEqual(fake.requests().slice(before).map((r) => r.operation), ["DescribeCertificate"])
    assert.strictEqual((await facts(cert.arn)).notAfter, f.notAfter)

    const run = await Effect.runPromise(runHandler(hs[restore]!, action, "auto"))
    assert.isTrue(Exit.isSuccess(run), String(run))
    assert.deepStrictEqual(dnsWrites.sort(), f.validation.map((v) => v.name).sort())
    assert.deepStrictEqual(await Effect.runPromise(Acm.missingValidation(f, dns)), [])
    const after = await facts(cert.arn)
    assert.isAbove(after.notAfter, Date.now() + 390 * DAY)
    assert.strictEqual(after.renewalStatus, "SUCCESS")
    assert.notStrictEqual(after.serial, f.serial)
    assert.strictEqual((await Effect.runPromise(observe(hs[restore]!, action)))._tag, "Applied")
    // planned from the old NotAfter: a conflict now
    const stale = await Effect.runPromise(runHandler(hs[restore]!, action, "auto"))
    assert.match(JSON.stringify(stale), /"conflict":true/)
    const listed = await client.send(new ListCertificatesCommand({ CertificateStatuses: ["ISSUED"] }))
    assert.include(listed.CertificateSummaryList!.map((c) => c.CertificateArn), cert.arn)
  })

  it("AMAZON_ISSUED without a ValidationDns fails before any write", async () => {
    const cert = fake.add({ type: "AMAZON_ISSUED", domainName: "nodns.example.com", notBefore: Date.now() - 300 * DAY, notAfter: Date.now() + 20 * DAY })
    const [noDns] = Acm.handlers({ client })
    const w0 = writes().length
    const exit = await Effect.runPromise(runHandler(noDns!, Acm.action({ facts: await facts(cert.arn) }), "auto"))
    assert.include(String(exit), "no ValidationDns configured")
    assert.strictEqual(writes().length, w0)
    assert.deepStrictEqual(cert.validation.filter((v) => records.has(v.name)), [])
  })

  it("AMAZON_ISSUED with its CNAMEs in place renews by itself; outside the 60-day window it does not", async () => {
    const due = fake.add({ type: "AMAZON_ISSUED", domainName: "api.example.com", notBefore: Date.now() - 300 * DAY, notAfter: Date.now() + 60 * DAY - 60_000 })
    const early = fake.add({ type: "AMAZON_ISSUED", domainName: "cdn.example.com", notBefore: Date.now() - 300 * DAY, notAfter: Date.now() + 60 * DAY + 60_000 })
    for (const v of [...due.validation, ...early.validation]) records.set(v.name, v.value)
    assert.isAbove((await facts(due.arn)).notAfter, Date.now() + 390 * DAY)
    assert.strictEqual((await facts(early.arn)).notAfter, early.notAfter)
  })

  it("PRIVATE → RenewCertificate (dry_run calls nothing); RenewCertificate refuses an AMAZON_ISSUED certificate", async () => {
    const cert = fake.add({ type: "PRIVATE", domainName: "internal.example.com", notBefore: Date.now() - 300 * DAY, notAfter: Date.now() + 7 * DAY })
    const f = await facts(cert.arn)
    const action = Acm.action({ facts: f, timeoutMillis: 3_000, pollMillis: 50 })
    assert.strictEqual(action.kind, "tls.acm.renewCertificate")
    const w0 = writes().length
    const dry = await Effect.runPromise(runHandler(hs[renew]!, action, "dry_run"))
    assert.isTrue(Exit.isSuccess(dry), String(dry))
    assert.strictEqual(writes().length, w0)
    assert.strictEqual((await Effect.runPromise(observe(hs[renew]!, action)))._tag, "NotApplied")
    const run = await Effect.runPromise(runHandler(hs[renew]!, action, "auto"))
    assert.isTrue(Exit.isSuccess(run), String(run))
    assert.deepStrictEqual(writes().slice(w0), ["RenewCertificate"])
    assert.isAbove((await facts(cert.arn)).notAfter, f.notAfter)
    assert.strictEqual((await Effect.runPromise(observe(hs[renew]!, action)))._tag, "Applied")

    const amazon = fake.add({ type: "AMAZON_ISSUED", domainName: "x.example.com", notBefore: Date.now(), notAfter: Date.now() + 300 * DAY })
    const refused = await client.send(new RenewCertificateCommand({ CertificateArn: amazon.arn })).then(() => undefined, (e: Error) => e.name)
    assert.strictEqual(refused, "ValidationException")
    // the wrong kind for the type is refused before any call but DescribeCertificate
    const wrong = await Effect.runPromise(runHandler(hs[renew]!, Acm.action({ facts: { ...(await facts(amazon.arn)), type: "PRIVATE" } }), "auto"))
    assert.include(String(wrong), "is AMAZON_ISSUED")
  })

  it("IMPORTED → the certificate renewed elsewhere is imported to the same ARN; a mismatched key is refused before any import", async () => {
    const name = "legacy.example.com"
    const old = await Effect.runPromise(pki.leaf({ names: [name], issuer: pki.intermediate, notAfter: Date.now() + 5 * DAY }))
    const imported = await client.send(new ImportCertificateCommand({ Certificate: Buffer.from(old.cert), PrivateKey: Buffer.from(old.key), CertificateChain: Buffer.from(pki.intermediate.cert) }))
    const arn = imported.CertificateArn!
    const f = await facts(arn)
    assert.strictEqual(f.type, "IMPORTED")
    assert.strictEqual(f.domainName, name)

    const renewed = await Effect.runPromise(pki.leaf({ names: [name], issuer: pki.intermediate, notAfter: Date.now() + 90 * DAY }))
    const full = path.join(dir, "fullchain.pem")
    fs.writeFileSync(full, renewed.cert + pki.intermediate.cert)
    const bad = await Effect.runPromise(runHandler(hs[reimport]!, Acm.action({ facts: f, source: { cert: full, key: old.keyPath } }), "auto"))
    assert.include(String(bad), "does not match")
    assert.strictEqual(ops().filter((o) => o === "ImportCertificate").length, 1)

    // refused before any import: a certificate for another name, one that does not outlive the current
    const other = await Effect.runPromise(pki.leaf({ names: ["other.example.com"], issuer: pki.intermediate, notAfter: Date.now() + 90 * DAY }))
    const notCovering = await Effect.runPromise(runHandler(hs[reimport]!, Acm.action({ facts: f, source: { cert: other.certPath, key: other.keyPath } }), "auto"))
    assert.include(String(notCovering), "does not cover legacy.example.com")
    const shorter = await Effect.runPromise(pki.leaf({ names: [name], issuer: pki.intermediate, notAfter: Date.now() + 2 * DAY }))
    const notLater = await Effect.runPromise(runHandler(hs[reimport]!, Acm.action({ facts: f, source: { cert: shorter.certPath, key: shorter.keyPath } }), "auto"))
    assert.include(String(notLater), "not after the current")
    assert.strictEqual(ops().filter((o) => o === "ImportCertificate").length, 1)

    const action = Acm.action({ facts: f, source: { cert: full, key: renewed.keyPath } })
    assert.strictEqual(action.kind, "tls.acm.reimportCertificate")
    const imports = () => ops().filter((o) => o === "ImportCertificate").length
    assert.strictEqual(imports(), 1) // the test's own first import only
    const dry = await Effect.runPromise(runHandler(hs[reimport]!, action, "dry_run"))
    assert.isTrue(Exit.isSuccess(dry), String(dry))
    assert.strictEqual(imports(), 1)
    assert.strictEqual((await facts(arn)).notAfter, f.notAfter)
    const run = await Effect.runPromise(runHandler(hs[reimport]!, action, "auto"))
    assert.isTrue(Exit.isSuccess(run), String(run))
    const after = await facts(arn)
    assert.strictEqual(after.arn, arn)
    assert.strictEqual(Math.floor(after.notAfter / 1000), Math.floor(Date.parse(new (await import("node:crypto")).X509Certificate(renewed.cert).validTo) / 1000))
    assert.strictEqual((await Effect.runPromise(observe(hs[reimport]!, action)))._tag, "Applied")
    // no key material in any outcome or in what the fake kept
    assert.notInclude(JSON.stringify(run), "PRIVATE KEY")
    assert.notInclude(JSON.stringify(fake.requests()), "PrivateKey")
  })
})
