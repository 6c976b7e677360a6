/**
 * Fuzzing `tls.expiry.seven-class` from its recorded PEM chains (issue 17 §1): each case takes
 * `fixtures/seven-class/<class>/chain.pem`, mutates it and runs the runbook's parts on it: the
 * PEM parse (a typed `CertFileError` when it holds no parsable certificate) → the leaf's facts →
 * the chain check → `SevenClass.classify` → `SevenClassRunbook.plan` → `Plan.validate`.
 *
 * Mutations (scripts/fuzz-harness.ts judges each case): most keep the bundle parsable —
 * 100-certificate chains, blocks reordered, dropped or the leaf repeated, CRLF line ends, text
 * between blocks (1 MB of it, or invalid UTF-8 bytes); the rest break it — a base64 character
 * flipped, a byte of the DER flipped, the file cut short, emptied or the BEGIN line retyped.
 * The seed is printed; BYTEPORT_FUZZ_SEED replays.
 */
import { Fact, Plan } from "@byteport/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertDepth, assertWithRegressions, type Ended, judge, regressions, report, Tally } from "../../../scripts/fuzz-harness"
import { Certificate, Chain, SevenClass, SevenClassRunbook } from "../src/index"
import { CertFileError } from "../src/TlsError"

const ROOT = path.join(import.meta.dirname, "../fixtures/seven-class")
const CLASSES = fs.readdirSync(ROOT).filter((d) => fs.existsSync(path.join(ROOT, d, "chain.pem"))).sort()

const nginx = { kind: "nginx" as const, conf: "/etc/nginx/nginx.conf", pidFile: "/run/nginx.pid" }
const options: SevenClassRunbook.Options = {
  endpoints: [],
  account: { directoryUrl: "https://acme-v02.api.letsencrypt.org/directory", email: "ops@example.com" },
  internalCas: [{ name: "Example Corp", organization: "Example Corp" }],
  stagingRoot: "/var/lib/byteport/cert-staging"
}

/** What the recording's endpoint is (from the unmutated chain, as sevenClass.test.ts sets it up): the mutated chain is what the handshake served. */
const setup = (cls: string, pem: string): { endpoint: SevenClassRunbook.Endpoint; rateLimit: SevenClass.Facts["rateLimit"]; certPath: string | null } => {
  const leaf = Certificate.fromX509(Certificate.parsePemBundle(pem)[0]!)
  const name = leaf.dnsNames[0]!.replace("*.", "")
  const base = { host: "203.0.113.10", port: 443, servername: leaf.dnsNames.find((n) => !n.startsWith("*."))!, server: nginx, files: { cert: `/etc/nginx/tls/${name}.pem`, key: `/etc/nginx/tls/${name}.key` } }
  switch (cls) {
    case "acme_http01":
      return { endpoint: { ...base, webroot: "/var/www/acme" }, rateLimit: null, certPath: base.files.cert }
    case "acme_dns01":
      return { endpoint: { ...base, dnsProvider: "route53" }, rateLimit: null, certPath: base.files.cert }
    case "acme_rate_limited":
      return { endpoint: base, rateLimit: { domain: name, retryAfter: leaf.notBefore + 3_600_000 }, certPath: base.files.cert }
    case "cert_manager":
      return { endpoint: { ...base, certManager: { namespace: "shop", name: "app-tls", uid: "5f0c0c5e-8d7a-4c1e-9d2b-1f6a0e2b7c11" } }, rateLimit: null, certPath: null }
    case "cloud_managed":
      return {
        endpoint: { ...base, acm: { arn: "arn:aws:acm:eu-west-1:123456789012:certificate/0e4c6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", type: "AMAZON_ISSUED", notAfter: leaf.notAfter, domainName: name } },
        rateLimit: null,
        certPath: null
      }
    default:
      return { endpoint: base, rateLimit: null, certPath: base.files.cert }
  }
}

const recorded = CLASSES.map((cls) => {
  const pem = fs.readFileSync(path.join(ROOT, cls, "chain.pem"), "utf8")
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return { cls, pem, blocks, ...setup(cls, pem) }
})

/** The recorded incident with the handshake having served `bytes`, through the runbook's parts. */
const pipeline = (r: (typeof recorded)[number], bytes: Buffer): Effect.Effect<Ended, CertFileError> =>
  Effect.gen(function*() {
    const file = `seven-class/${r.cls}/chain.pem`
    const chain = yield* Effect.try({
      try: () => {
        const certs = Certificate.parsePemBundle(bytes.toString("utf8"))
        if (certs.length === 0) throw new Error("no certificate")
        return { certs, leaf: Certificate.fromX509(certs[0]!) }
      },
      catch: () => new CertFileError({ path: file, message: `${file} holds no parsable PEM certificate` })
    })
    const verdict = Chain.verify({ served: chain.certs.slice(0, 1), roots: chain.certs.slice(1), name: r.endpoint.servername, now: chain.leaf.notBefore + 60_000 })
    const v: SevenClassRunbook.Facts = {
      endpoint: r.endpoint,
      leaf: chain.leaf,
      publicChain: verdict.valid && r.cls !== "internal_ca",
      certPath: r.certPath,
      rateLimit: r.rateLimit,
      certManager: r.endpoint.certManager ?? null,
      cloud: r.endpoint.acm ?? null,
      dnsProvider: r.endpoint.dnsProvider ?? null,
      pinned: false
    }
    const facts = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Fact.known(x)])) as unknown as Fact.Facts<SevenClassRunbook.Facts>
    const c = SevenClass.classify(options)(facts)
    if (c._tag !== "Classified") return { classification: c, plan: null, actions: 0 }
    const plan = SevenClassRunbook.plan(c, facts, options)
    yield* Effect.orDie(Plan.validate(plan))
    return { classification: c, plan, actions: Plan.actions(plan.root).length }
  })

type PemMutation =
  | { readonly op: "chain100" | "reverse" | "dropLast" | "repeatLeaf" | "crlf" | "empty" | "beginRetyped" }
  | { readonly op: "junk"; readonly size: number; readonly nonUtf8: boolean; readonly at: number }
  | { readonly op: "flipBase64" | "flipDer"; readonly at: number }
  | { readonly op: "truncate"; readonly at: number }

const keeps: fc.Arbitrary<PemMutation> = fc.oneof(
  fc.record({ op: fc.constantFrom("chain100" as const, "chain100" as const, "reverse" as const, "dropLast" as const, "repeatLeaf" as const, "crlf" as const) }),
  fc.record({ op: fc.constant("junk" as const), size: fc.constantFrom(10, 10_000, 1_000_000), nonUtf8: fc.boolean(), at: fc.nat() })
)
const breaks: fc.Arbitrary<PemMutation> = fc.oneof(
  fc.record({ op: fc.constantFrom("empty" as const, "beginRetyped" as const) }),
  fc.record({ op: fc.constantFrom("flipBase64" as const, "flipDer" as const, "truncate" as const), at: fc.nat() })
)
const pemMutations = fc.oneof({ weight: 3, arbitrary: fc.array(keeps, { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(fc.oneof(keeps, breaks), { minLength: 1, maxLength: 3 }) })

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Applies the mutations to the recorded bundle's bytes. */
const apply = (r: (typeof recorded)[number], ms: ReadonlyArray<PemMutation>): Buffer => {
  let blocks = [...r.blocks]
  let text: Buffer | null = null
  const joined = () => Buffer.from(blocks.join("\n") + "\n", "utf8")
  for (const m of ms) {
    const cur: Buffer = text ?? joined()
    switch (m.op) {
      case "chain100":
        blocks = Array.from({ length: 100 }, (_, i) => blocks[i % Math.max(1, blocks.length)] ?? "")
        text = null
        break
      case "reverse":
        blocks = [...blocks].reverse()
        text = null
        break
      case "dropLast":
        blocks = blocks.length > 1 ? blocks.slice(0, -1) : blocks
        text = null
        break
      case "repeatLeaf":
        blocks = [blocks[0] ?? "", ...blocks]
        text = null
        break
      case "crlf":
        text = Buffer.from(cur.toString("utf8").replace(/\n/g, "\r\n"), "utf8")
        break
      case "junk": {
        const s = cur.toString("utf8")
        const cut = s.indexOf("-----END CERTIFICATE-----")
        const pos = cut < 0 ? 0 : cut + "-----END CERTIFICATE-----".length
        const junk = m.nonUtf8 ? Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x0a]) : Buffer.from(`\n${"x".repeat(m.size)}\n`, "utf8")
        const head = Buffer.from(s.slice(0, pos), "utf8")
        text = Buffer.concat([head, junk, Buffer.from(s.slice(pos), "utf8")])
        break
      }
      case "empty":
        text = Buffer.alloc(0)
        break
      case "beginRetyped":
        text = Buffer.from(cur.toString("utf8").replace("-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE REQUEST-----"), "utf8")
        break
      case "flipBase64": {
        const s = cur.toString("utf8")
        const idx = [...s].map((ch, i) => [ch, i] as const).filter(([ch]) => B64.includes(ch)).map(([, i]) => i)
        if (idx.length === 0) break
        const i = idx[m.at % idx.length]!
        text = Buffer.from(s.slice(0, i) + B64[(B64.indexOf(s[i]!) + 1) % 64] + s.slice(i + 1), "utf8")
        break
      }
      case "flipDer": {
        const b = blocks[m.at % Math.max(1, blocks.length)]
        if (b === undefined) break
        const der = Buffer.from(b.replace(/-----[A-Z ]+-----/g, "").replace(/\s/g, ""), "base64")
        const i = m.at % der.length
        der[i] = der[i]! ^ 0x01
        const body = der.toString("base64").replace(/(.{64})/g, "$1\n")
        blocks = blocks.map((x) => (x === b ? `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----` : x))
        text = null
        break
      }
      case "truncate":
        text = cur.subarray(0, m.at % Math.max(1, cur.length))
        break
    }
  }
  return text ?? joined()
}

describe("fuzz: tls.expiry.seven-class from the recorded PEM chains", () => {
  it("every mutation of a recorded chain ends as a typed CertFileError or a Classification, a plan only when Classified", { timeout: 600_000 }, () => {
    expect(recorded.length).toBeGreaterThanOrEqual(7)
    for (const r of recorded) expect(judge(`${r.cls} unmutated`, () => pipeline(r, Buffer.from(r.pem, "utf8")))._tag, r.cls).toBe("Classified")
    const tally = new Tally()
    try {
      assertWithRegressions(regressions(import.meta.dirname, "tls.expiry.seven-class"), fc.record({ fixture: fc.nat({ max: recorded.length - 1 }), mutations: pemMutations }), (k) => {
        const r = recorded[k.fixture]!
        const bytes = apply(r, k.mutations)
        tally.add(judge(`${r.cls}/chain.pem ${JSON.stringify(k.mutations)}`, () => pipeline(r, bytes), bytes.length))
      })
    } finally {
      report("tls.expiry.seven-class", tally)
    }
    expect(tally.decoded).toBeGreaterThan(0)
    assertDepth("tls.expiry.seven-class", tally)
  })
})
