/**
 * The Node OCSP responder of scripts/services.sh (scripts/ocsp-responder.mjs) on its own: a request
 * made by `openssl ocsp` for a serial of pebble-short's intermediate is answered `good`, signed by
 * that intermediate; POST /revoke makes it `revoked`, /unrevoke `good` again; the GET form works;
 * bytes that are not a request get `malformedRequest`.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Shell } from "@byteport/core/shell"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { Ocsp, OcspResponse } from "../src/index"
import { describeWithServices, tmp } from "./support/services"

describeWithServices(["pebble", "ocsp"], "OCSP responder (pebble-short's intermediate)", (env) => {
  const url = env.BYTEPORT_TEST_OCSP_URL ?? ""
  const intermediate = env.BYTEPORT_TEST_PEBBLE_SHORT_INTERMEDIATE ?? ""
  const post = (body: Uint8Array) =>
    Effect.promise(() => fetch(url, { method: "POST", headers: { "content-type": "application/ocsp-request" }, body }).then(async (r) => ({ status: r.status, type: r.headers.get("content-type"), der: new Uint8Array(await r.arrayBuffer()) })))
  const admin = (what: "revoke" | "unrevoke", serial: string) =>
    Effect.promise(() => fetch(new URL(`/${what}?serial=${serial}`, url), { method: "POST" }).then((r) => r.status))

  it.live("good → revoked → good; GET form; garbage is malformedRequest", () =>
    Effect.gen(function*() {
      const serial = randomBytes(8).toString("hex").toUpperCase().replace(/^0/, "1")
      const reqPath = path.join(tmp("byteport-ocsp-req-"), "req.der")
      const made = yield* Shell.local.run(["openssl", "ocsp", "-issuer", intermediate, "-serial", `0x${serial}`, "-no_nonce", "-reqout", reqPath])
      assert.strictEqual(made.exitCode, 0, made.stderr)
      const request = fs.readFileSync(reqPath)

      const good = yield* post(request)
      assert.strictEqual(good.status, 200)
      assert.strictEqual(good.type, "application/ocsp-response")
      assert.strictEqual(Ocsp.responseStatusOf(good.der), "successful")
      const parsed = OcspResponse.parse(good.der)
      assert.strictEqual(parsed?.certStatus, "good")
      assert.strictEqual(parsed?.serial, serial)
      assert.isAbove(parsed?.nextUpdate ?? 0, Date.now())
      // signed by pebble-short's intermediate: openssl verifies it with that certificate as the trust anchor
      const respPath = path.join(path.dirname(reqPath), "resp.der")
      fs.writeFileSync(respPath, good.der)
      const verified = yield* Shell.local.run(["openssl", "ocsp", "-respin", respPath, "-issuer", intermediate, "-VAfile", intermediate, "-serial", `0x${serial}`])
      assert.strictEqual(verified.exitCode, 0, verified.stderr)
      assert.match(verified.stderr + verified.stdout, /Response verify OK/)

      assert.strictEqual(yield* admin("revoke", serial), 200)
      const revoked = OcspResponse.parse((yield* post(request)).der)
      assert.strictEqual(revoked?.certStatus, "revoked")
      assert.strictEqual(yield* admin("unrevoke", serial), 200)
      const get = yield* Effect.promise(() => fetch(new URL(encodeURIComponent(request.toString("base64")), url)).then(async (r) => new Uint8Array(await r.arrayBuffer())))
      assert.strictEqual(OcspResponse.parse(get)?.certStatus, "good")

      const garbage = yield* post(new Uint8Array([1, 2, 3]))
      assert.strictEqual(Ocsp.responseStatusOf(garbage.der), "malformedRequest")
    }))
})
