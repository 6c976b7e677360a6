/**
 * The pre-renewal probes against a real DNS server on loopback (pebble-challtestsrv of
 * scripts/services.sh, through `Caa.system({ nameservers })`): CAA records set through its
 * management API are found by tree climbing (issue / issuewild), names resolve (its default
 * answer 127.0.0.1, or an A record set for one name), and a TXT value is visible only once set.
 */
import { Effect } from "effect"
import { assert, it } from "vitest"
import { Caa, PreRenewal } from "../src/index"
import { describeWithServices } from "./support/services"

describeWithServices(["pebble"], "pre-renewal probes against challtestsrv (loopback DNS)", (env) => {
  const mgmt = env.BYTEPORT_TEST_CHALLTESTSRV_URL ?? ""
  const nameservers = [env.BYTEPORT_TEST_PEBBLE_DNS ?? ""]
  const resolver = Caa.system({ nameservers })
  const post = (p: string, body: unknown) => fetch(`${mgmt}${p}`, { method: "POST", body: JSON.stringify(body) }).then((r) => assert.strictEqual(r.status, 200, p))
  const base = `caa-${process.pid}.byteport.test`

  it("CAA: the base domain's issue / issuewild govern its subdomains; another CA is refused", async () => {
    await post("/add-caa", { host: base, policies: [{ tag: "issue", value: "letsencrypt.org" }, { tag: "issuewild", value: ";" }] })
    try {
      const ok = await Effect.runPromise(PreRenewal.caa(resolver, [`a.b.${base}`], ["letsencrypt.org"]))
      assert.isTrue(ok.ok, ok.detail)
      assert.match(ok.detail, new RegExp(`issue at ${base.replace(/\./g, "\\.")} permits letsencrypt\\.org`))
      const wild = await Effect.runPromise(PreRenewal.caa(resolver, [`*.${base}`], ["letsencrypt.org"]))
      assert.isFalse(wild.ok)
      const other = await Effect.runPromise(PreRenewal.caa(resolver, [base], ["amazon.com"]))
      assert.isFalse(other.ok)
      const free = await Effect.runPromise(PreRenewal.caa(resolver, [`free-${process.pid}.byteport.test`], ["amazon.com"]))
      assert.isTrue(free.ok, "no CAA in the tree")
    } finally {
      await post("/clear-caa", { host: base })
    }
  })

  it("names_resolve: challtestsrv's default 127.0.0.1; a name with its own A record elsewhere fails", async () => {
    const elsewhere = `elsewhere-${process.pid}.byteport.test`
    await post("/add-a", { host: elsewhere, addresses: ["192.0.2.9"] })
    try {
      assert.isTrue((await Effect.runPromise(PreRenewal.namesResolve(resolver, [`here-${process.pid}.byteport.test`], ["127.0.0.1"]))).ok)
      const r = await Effect.runPromise(PreRenewal.namesResolve(resolver, [elsewhere], ["127.0.0.1"]))
      assert.isFalse(r.ok)
      assert.match(r.detail, /192\.0\.2\.9/)
    } finally {
      await post("/clear-a", { host: elsewhere })
    }
  })

  it("txt_visible: not before the value is set, then visible", async () => {
    const name = `_acme-challenge.txt-${process.pid}.byteport.test`
    const before = await Effect.runPromise(PreRenewal.txtVisible(name, "token-1", { nameservers, timeoutMillis: 300, intervalMillis: 100 }))
    assert.isFalse(before.ok)
    await post("/set-txt", { host: `${name}.`, value: "token-1" })
    try {
      const after = await Effect.runPromise(PreRenewal.txtVisible(name, "token-1", { nameservers, timeoutMillis: 3_000, intervalMillis: 100 }))
      assert.isTrue(after.ok, after.detail)
    } finally {
      await post("/clear-txt", { host: `${name}.` })
    }
  })
})
