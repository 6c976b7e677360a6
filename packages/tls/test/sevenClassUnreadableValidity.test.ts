/**
 * tls.expiry.seven-class with a served leaf whose validity does not parse (a damaged DER date, as
 * `X509Certificate` still reads it: `Date.parse(validTo)` is NaN). Found by the PEM fuzz family
 * (packages/tls/test-reliability/regressions): the ACME plan put the NaN into the renewal's
 * precondition and `Action.make` died with InvalidAction. It escalates, ordering nothing.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Fact, Plan } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Certificate, SevenClass, SevenClassRunbook } from "../src/index"

const pem = fs.readFileSync(path.join(import.meta.dirname, "../fixtures/seven-class/acme_http01/chain.pem"), "utf8")
const options: SevenClassRunbook.Options = {
  endpoints: [],
  account: { directoryUrl: "https://acme-v02.api.letsencrypt.org/directory", email: "ops@example.com" },
  internalCas: [{ name: "Example Corp", organization: "Example Corp" }],
  stagingRoot: "/var/lib/byteport/cert-staging"
}

const factsWith = (leaf: Certificate.Certificate): Fact.Facts<SevenClassRunbook.Facts> => {
  const name = leaf.dnsNames[0]!
  const v: SevenClassRunbook.Facts = {
    endpoint: { host: "203.0.113.10", port: 443, servername: name, server: { kind: "nginx", conf: "/etc/nginx/nginx.conf", pidFile: "/run/nginx.pid" }, files: { cert: `/etc/nginx/tls/${name}.pem`, key: `/etc/nginx/tls/${name}.key` }, webroot: "/var/www/acme" },
    leaf,
    publicChain: true,
    certPath: `/etc/nginx/tls/${name}.pem`,
    rateLimit: null,
    certManager: null,
    cloud: null,
    dnsProvider: null,
    pinned: false
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Fact.known(x)])) as unknown as Fact.Facts<SevenClassRunbook.Facts>
}

describe("tls.expiry.seven-class: a leaf whose validity does not parse", () => {
  it("plans a renewal for the recorded leaf, escalates with no action when its notAfter is NaN", () => {
    const leaf = Certificate.fromX509(Certificate.parsePemBundle(pem)[0]!)
    const ok = SevenClass.classify(options)(factsWith(leaf))
    assert.strictEqual(ok._tag === "Classified" ? ok.class : ok._tag, "acme_http01")
    assert.isAbove(Plan.actions(SevenClassRunbook.plan(ok as any, factsWith(leaf), options).root).length, 0)
    let escalated = 0
    for (const broken of [{ ...leaf, notAfter: Number.NaN }, { ...leaf, notBefore: Number.NaN }]) {
      const facts = factsWith(broken)
      const c = SevenClass.classify(options)(facts)
      if (c._tag !== "Classified") continue // not classified at all: nothing planned either
      const plan = SevenClassRunbook.plan(c, facts, options)
      assert.deepStrictEqual(Plan.actions(plan.root), [])
      assert.match(JSON.stringify(plan.root), /validity cannot be read/)
      escalated++
    }
    assert.isAtLeast(escalated, 1, "a NaN validity still classifies acme_http01 and reaches the plan")
  })
})
