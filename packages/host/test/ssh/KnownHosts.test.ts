import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { KnownHosts } from "../../src/index"

const ED = "AAAAC3NzaC1lZDI1NTE5AAAAIHN0dWJrZXlzdHVia2V5c3R1YmtleXN0dWJrZXlzdA"
const ED2 = "AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVya2V5b3RoZXJrZXlvdGhlcmtleW90aGVyaw"
const blob = (b64: string) => Buffer.from(b64, "base64")
const hashed = (name: string) => {
  const salt = Buffer.from("0123456789abcdefghij")
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`
}

describe("KnownHosts", () => {
  it("known, unknown, changed: by host name and port ([host]:port unless 22)", () => {
    const e = KnownHosts.parse(`# comment\n\nweb1,10.0.0.5 ssh-ed25519 ${ED}\n[db1]:2222 ssh-ed25519 ${ED} comment here\n`)
    assert.strictEqual(KnownHosts.verify(e, "web1", 22, blob(ED))._tag, "Known")
    assert.strictEqual(KnownHosts.verify(e, "10.0.0.5", 22, blob(ED))._tag, "Known")
    assert.strictEqual(KnownHosts.verify(e, "web1", 22, blob(ED2))._tag, "Changed")
    assert.strictEqual(KnownHosts.verify(e, "web1", 2222, blob(ED))._tag, "Unknown")
    assert.strictEqual(KnownHosts.verify(e, "db1", 2222, blob(ED))._tag, "Known")
    assert.strictEqual(KnownHosts.verify(e, "db1", 22, blob(ED))._tag, "Unknown")
    assert.strictEqual(KnownHosts.verify(e, "WEB1", 22, blob(ED))._tag, "Known")
  })

  it("wildcards, negation, hashed names, @revoked; @cert-authority is ignored", () => {
    const e = KnownHosts.parse([
      `*.prod.example,!bastion.prod.example ssh-ed25519 ${ED}`,
      `${hashed("[h.example]:2200")} ssh-ed25519 ${ED2}`,
      `@cert-authority * ssh-ed25519 ${ED2}`,
      `@revoked * ssh-ed25519 ${ED2}`,
      `broken-line-without-key`
    ].join("\n"))
    assert.strictEqual(KnownHosts.verify(e, "a.prod.example", 22, blob(ED))._tag, "Known")
    assert.strictEqual(KnownHosts.verify(e, "bastion.prod.example", 22, blob(ED))._tag, "Unknown")
    assert.strictEqual(KnownHosts.verify(e, "a.prod.examplex", 22, blob(ED))._tag, "Unknown")
    // ED2 is revoked everywhere, even for the host whose hashed line lists it
    assert.strictEqual(KnownHosts.verify(e, "h.example", 2200, blob(ED2))._tag, "Revoked")
    const h = KnownHosts.parse(`${hashed("[h.example]:2200")} ssh-ed25519 ${ED}`)
    assert.strictEqual(KnownHosts.verify(h, "h.example", 2200, blob(ED))._tag, "Known")
    assert.strictEqual(KnownHosts.verify(h, "h.example", 22, blob(ED))._tag, "Unknown")
    assert.strictEqual(e.length, 3)
  })

  it("offers the pinned key types only (RSA as its SHA-2 signatures first)", () => {
    const e = KnownHosts.parse(`h ssh-rsa ${ED}\nh ssh-ed25519 ${ED}\nother ecdsa-sha2-nistp256 ${ED}`)
    assert.deepStrictEqual(KnownHosts.algorithmsFor(e, "h", 22), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ssh-ed25519"])
    assert.deepStrictEqual(KnownHosts.algorithmsFor(e, "nobody", 22), [])
  })
})
