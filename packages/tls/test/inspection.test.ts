/**
 * Inspection against real TLS servers on 127.0.0.1 with certificates made by openssl in the test:
 * a valid chain, a missing intermediate, a wrong name, a self-signed leaf, an expired leaf, a
 * refused port, a silent port (timeout), a non-TLS peer; key–cert match of PEM files.
 */
import * as net from "node:net"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Redactor } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Files, Inspection } from "../src/index"
import * as Pki from "./pki"
import { serve } from "./server"

const DAY = 86_400_000

const listenRaw = (onConnection: (socket: net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: net.Server; readonly sockets: Set<net.Socket> }>((resume) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ server }) => (server.address() as net.AddressInfo).port))

describe("Inspection.inspect", () => {
  it.live("a valid chain: leaf facts, served intermediate, chain valid, name matches", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test", "www.app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY, ocspUrl: "http://127.0.0.1:9/ocsp" })
      const { port } = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key })
      const i = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "app.test", ca: [pki.root.cert] })
      assert.strictEqual(i.servername, "app.test")
      assert.deepStrictEqual(i.leaf.dnsNames, ["app.test", "www.app.test"])
      assert.strictEqual(i.leaf.subjectCN, "app.test")
      assert.strictEqual(i.leaf.issuerO, "BytePort Test")
      assert.strictEqual(i.leaf.issuerCN, "BytePort Test Intermediate")
      assert.strictEqual(i.leaf.ocspUrl, "http://127.0.0.1:9/ocsp")
      assert.match(i.leaf.serial, /^[0-9A-F]+$/)
      assert.match(i.leaf.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
      assert.isFalse(i.leaf.isCA)
      assert.isTrue(Math.abs(i.leaf.notAfter - (pki.now + 60 * DAY)) < 2000)
      assert.strictEqual(i.chain[0]?.subjectCN, "BytePort Test Intermediate")
      assert.isTrue(i.chain[0]?.isCA)
      assert.isTrue(i.verdict.valid, JSON.stringify(i.verdict.problems))
      assert.isTrue(i.verdict.nameMatches)
      assert.strictEqual(i.verdict.path.length, 3) // leaf, intermediate, root
      assert.isUndefined(i.staple)
    }).pipe(Effect.scoped))

  it.live("the served chain alone: a missing intermediate is invalid even though the root is trusted", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
      const { port } = yield* serve({ cert: leaf.cert, key: leaf.key })
      const i = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "app.test", ca: [pki.root.cert] })
      assert.isFalse(i.verdict.valid)
      assert.deepStrictEqual(i.verdict.problems.map((p) => p.kind), ["incomplete"])
      assert.isTrue(i.verdict.nameMatches)
    }).pipe(Effect.scoped))

  it.live("wrong name: SNI name not in the SANs → name_mismatch, chain otherwise fine", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["other.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
      const { port } = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key })
      const i = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "app.test", ca: [pki.root.cert] })
      assert.deepStrictEqual(i.verdict.problems, [{ kind: "name_mismatch", name: "app.test" }])
      // near miss: the same certificate for its own name is valid
      const own = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "other.test", ca: [pki.root.cert] })
      assert.isTrue(own.verdict.valid)
    }).pipe(Effect.scoped))

  it.live("an IP address as the name: no SNI, checked against IP SANs (checkIP)", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const byIp = yield* pki.leaf({ names: ["127.0.0.1"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
      const a = yield* serve({ cert: byIp.cert + pki.intermediate.cert, key: byIp.key })
      const i = yield* Inspection.inspect({ host: "127.0.0.1", port: a.port, ca: [pki.root.cert] })
      assert.deepStrictEqual(i.leaf.ipAddresses, ["127.0.0.1"])
      assert.isTrue(i.verdict.valid, JSON.stringify(i.verdict.problems))
      const byName = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
      const b = yield* serve({ cert: byName.cert + pki.intermediate.cert, key: byName.key })
      const j = yield* Inspection.inspect({ host: "127.0.0.1", port: b.port, ca: [pki.root.cert] })
      assert.deepStrictEqual(j.verdict.problems, [{ kind: "name_mismatch", name: "127.0.0.1" }])
    }).pipe(Effect.scoped))

  it.live("an untrusted root: the same chain against other roots (Node's bundle) is untrusted", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
      const { port } = yield* serve({ cert: leaf.cert + pki.intermediate.cert + pki.root.cert, key: leaf.key })
      const i = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "app.test" })
      assert.deepStrictEqual(i.verdict.problems.map((p) => p.kind), ["untrusted_root"])
    }).pipe(Effect.scoped))

  it.live("self-signed leaf → self_signed", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], selfSigned: true, notAfter: pki.now + 60 * DAY })
      const { port } = yield* serve({ cert: leaf.cert, key: leaf.key })
      const i = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "app.test", ca: [pki.root.cert] })
      assert.deepStrictEqual(i.verdict.problems.map((p) => p.kind), ["self_signed"])
    }).pipe(Effect.scoped))

  it.live("an expired leaf (real dates, 2020) is inspected and reported expired", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notBefore: Date.UTC(2020, 0, 1), notAfter: Date.UTC(2020, 1, 1) })
      const { port } = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key })
      const i = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "app.test", ca: [pki.root.cert] }).pipe(Effect.provide(TestClock.layer()))
      // TestClock starts at 0 (1970): no certificate on the path is valid yet; at the real now: the leaf expired
      assert.deepStrictEqual(i.verdict.problems.map((p) => p.kind), ["not_yet_valid", "not_yet_valid", "not_yet_valid"])
      const real = yield* Inspection.inspect({ host: "127.0.0.1", port, servername: "app.test", ca: [pki.root.cert] })
      assert.deepStrictEqual(real.verdict.problems.map((p) => p.kind), ["expired"])
      assert.strictEqual(real.leaf.notAfter, Date.UTC(2020, 1, 1))
    }).pipe(Effect.scoped))

  it.effect("now comes from the Effect Clock: the verdict flips at notAfter ± 1 minute", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const notAfter = Math.floor(pki.now / 1000) * 1000 + 10 * DAY
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter })
      const { port } = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key })
      const options = { host: "127.0.0.1", port, servername: "app.test", ca: [pki.root.cert] }
      yield* TestClock.setTime(notAfter - 60_000)
      assert.isTrue((yield* Inspection.inspect(options)).verdict.valid)
      yield* TestClock.setTime(notAfter + 60_000)
      const after = yield* Inspection.inspect(options)
      assert.deepStrictEqual(after.verdict.problems.map((p) => p.kind), ["expired"])
      assert.strictEqual(after.inspectedAt, notAfter + 60_000)
    }).pipe(Effect.scoped))

  it.live("typed errors: refused, timeout, handshake failure", () =>
    Effect.gen(function*() {
      const closed = yield* listenRaw(() => {})
      // a port that was just released: refused
      const freePort = yield* Effect.callback<number>((resume) => {
        const s = net.createServer()
        s.listen(0, "127.0.0.1", () => {
          const p = (s.address() as net.AddressInfo).port
          s.close(() => resume(Effect.succeed(p)))
        })
      })
      const refused = yield* Effect.flip(Inspection.inspect({ host: "127.0.0.1", port: freePort, servername: "app.test" }))
      assert.strictEqual(refused._tag, "TlsConnectionRefused")
      const timeout = yield* Effect.flip(Inspection.inspect({ host: "127.0.0.1", port: closed, servername: "app.test", timeoutMillis: 300 }))
      assert.strictEqual(timeout._tag, "TlsTimeout")
      const http = yield* listenRaw((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"))
      const failed = yield* Effect.flip(Inspection.inspect({ host: "127.0.0.1", port: http, servername: "app.test" }))
      assert.strictEqual(failed._tag, "TlsHandshakeFailed")
    }).pipe(Effect.scoped))

  it.live("a stapled response is read: status of a real-shaped DER vs bogus bytes", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY, ocspUrl: "http://127.0.0.1:9/ocsp" })
      const bogus = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key, staple: Buffer.from("not an ocsp response") })
      const b = yield* Inspection.inspect({ host: "127.0.0.1", port: bogus.port, servername: "app.test", ca: [pki.root.cert] })
      assert.deepStrictEqual(b.staple, { bytes: 20, responseStatus: undefined })
      const tryLater = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key, staple: Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x03]) })
      const t = yield* Inspection.inspect({ host: "127.0.0.1", port: tryLater.port, servername: "app.test", ca: [pki.root.cert] })
      assert.deepStrictEqual(t.staple, { bytes: 5, responseStatus: "tryLater" })
    }).pipe(Effect.scoped))
})

describe("Files", () => {
  it.live("key–cert match: the leaf's own key matches, another key does not", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
      assert.isTrue(yield* Files.keyMatches(leaf.certPath, leaf.keyPath))
      assert.isFalse(yield* Files.keyMatches(leaf.certPath, pki.intermediate.keyPath))
      const bundle = yield* Files.readBundle(join(pki.dir, "bundle.pem")).pipe(Effect.flip)
      assert.strictEqual(bundle._tag, "CertFileError")
      writeFileSync(join(pki.dir, "bundle.pem"), leaf.cert + pki.intermediate.cert)
      assert.lengthOf(yield* Files.readBundle(join(pki.dir, "bundle.pem")), 2)
    }))

  it.live("an error about a key file never carries the key, raw or through the Redactor", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY })
      // a key file given where a certificate is expected, and a truncated key
      const asCert = yield* Effect.flip(Files.readBundle(leaf.keyPath))
      const truncated = join(pki.dir, "truncated.key")
      writeFileSync(truncated, leaf.key.slice(0, leaf.key.length - 40))
      const asKey = yield* Effect.flip(Files.keyMatches(leaf.certPath, truncated))
      const body = leaf.key.split("\n")[1]!
      for (const e of [asCert, asKey]) {
        assert.strictEqual(e._tag, "CertFileError")
        assert.notInclude(e.message, "PRIVATE KEY")
        assert.notInclude(JSON.stringify(e), body)
        assert.notInclude(JSON.stringify(Redactor.defaultRedactor.redact(e)), body)
      }
      // and the Redactor strips a key that a caller put into a message anyway
      const leaked = Redactor.defaultRedactor.redact({ message: `bad key: ${leaf.key}` })
      assert.notInclude(JSON.stringify(leaked), body)
    }))
})
