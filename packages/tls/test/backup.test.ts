/**
 * Backup and swap on real files: directory 0700, copies 0600, manifest (paths, owners, modes,
 * SHA-256) verified before a restore; a wildcard's `*` encoded; owner and mode kept by the swap;
 * a tampered copy refused; a mismatched key refused before any write; key material never in an
 * error message.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { TestClock } from "effect/testing"
import { Backup } from "../src/index"
import * as Pki from "./pki"
import { tmp } from "./support/services"

const modeOf = (p: string) => fs.statSync(p).mode & 0o777

describe("Backup", () => {
  it.effect("create: <root>/<domain>-<UTC timestamp>/ 0700, copies 0600, manifest with owner, mode, SHA-256", () =>
    Effect.gen(function*() {
      const dir = tmp("byteport-backup-")
      const cert = path.join(dir, "fullchain.pem")
      const conf = path.join(dir, "nginx.conf")
      fs.writeFileSync(cert, "CERT-A\n", { mode: 0o644 })
      fs.writeFileSync(conf, "events {}\n", { mode: 0o640 })
      fs.chmodSync(conf, 0o640)
      yield* TestClock.setTime(Date.UTC(2026, 11, 7, 16, 5, 12, 123))
      const b = yield* Backup.create({ root: path.join(dir, "backups"), domain: "*.example.com", files: [cert, conf], action: "k1" })
      assert.strictEqual(path.basename(b.dir), "_wildcard_.example.com-20261207T160512.123Z")
      assert.strictEqual(modeOf(b.dir), 0o700)
      assert.strictEqual(modeOf(path.join(b.dir, "fullchain.pem")), 0o600)
      assert.strictEqual(modeOf(path.join(b.dir, "nginx.conf")), 0o600)
      assert.strictEqual(modeOf(path.join(b.dir, Backup.MANIFEST)), 0o600)
      const m = JSON.parse(fs.readFileSync(path.join(b.dir, Backup.MANIFEST), "utf8")) as Backup.Manifest
      assert.deepStrictEqual(m.files.map((f) => [f.path, f.mode, f.size]), [[cert, 0o644, 7], [conf, 0o640, 10]])
      assert.match(m.files[0]!.sha256, /^[0-9a-f]{64}$/)
      assert.strictEqual(m.files[0]!.uid, fs.statSync(cert).uid)
      assert.strictEqual(m.action, "k1")
      // same millisecond again: a distinct directory
      const again = yield* Backup.create({ root: path.join(dir, "backups"), domain: "*.example.com", files: [cert] })
      assert.strictEqual(path.basename(again.dir), "_wildcard_.example.com-20261207T160512.123Z-1")
      assert.deepStrictEqual(Backup.list({ root: path.join(dir, "backups"), domain: "*.example.com" }).length, 2)
      assert.strictEqual(Backup.findByAction({ root: path.join(dir, "backups"), domain: "*.example.com", action: "k1" })?.dir, b.dir)
    }))

  it.effect("restore: verifies the manifest first; writes back content, owner and mode", () =>
    Effect.gen(function*() {
      const dir = tmp("byteport-backup-")
      const cert = path.join(dir, "cert.pem")
      fs.writeFileSync(cert, "OLD\n")
      fs.chmodSync(cert, 0o640)
      const b = yield* Backup.create({ root: path.join(dir, "b"), domain: "example.com", files: [cert] })
      yield* Backup.swap([{ path: cert, content: "NEW\n" }])
      assert.strictEqual(fs.readFileSync(cert, "utf8"), "NEW\n")
      assert.strictEqual(modeOf(cert), 0o640, "the swap keeps the mode")
      fs.chmodSync(cert, 0o666)
      yield* Backup.restore(b.dir)
      assert.strictEqual(fs.readFileSync(cert, "utf8"), "OLD\n")
      assert.strictEqual(modeOf(cert), 0o640)
      // no temp files left beside the target
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["b", "cert.pem"])
    }))

  it.effect("a tampered copy is refused: nothing is written back", () =>
    Effect.gen(function*() {
      const dir = tmp("byteport-backup-")
      const cert = path.join(dir, "cert.pem")
      fs.writeFileSync(cert, "OLD\n")
      const b = yield* Backup.create({ root: path.join(dir, "b"), domain: "example.com", files: [cert] })
      fs.writeFileSync(cert, "CURRENT\n")
      fs.writeFileSync(path.join(b.dir, "cert.pem"), "EVIL\n")
      const exit = yield* Effect.exit(Backup.restore(b.dir))
      assert.isTrue(Exit.isFailure(exit))
      assert.match(String(Exit.isFailure(exit) ? JSON.stringify(exit.cause) : ""), /does not match its manifest/)
      assert.strictEqual(fs.readFileSync(cert, "utf8"), "CURRENT\n")
    }))

  it.effect("a missing file fails the backup and names its path only", () =>
    Effect.gen(function*() {
      const dir = tmp("byteport-backup-")
      const exit = yield* Effect.exit(Backup.create({ root: path.join(dir, "b"), domain: "example.com", files: [path.join(dir, "nope.pem")] }))
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("property: whatever the domain (`*`, `/`, `..`, NUL, unicode), the backup lands directly under the root", () =>
    Effect.gen(function*() {
      const root = path.join(tmp("byteport-backup-"), "root")
      const file = path.join(path.dirname(root), "cert.pem")
      fs.writeFileSync(file, "X\n")
      const domains = fc.sample(fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom("*.example.com", "../../etc", "..", "a/../../b", "*", "\u0000x", "ex\u00e4mple.com", "/abs/path")
      ), { numRuns: 60, seed: 15 })
      for (const domain of domains) {
        const b = yield* Backup.create({ root, domain, files: [file] })
        assert.strictEqual(path.dirname(b.dir), root, JSON.stringify(domain))
        assert.match(path.basename(b.dir), /^[A-Za-z0-9._-]*-\d{8}T\d{6}\.\d{3}Z(-\d+)?$/)
        assert.notInclude(path.basename(b.dir), "*")
        assert.strictEqual(b.manifest.domain, domain)
      }
    }))

  it.live("checkKeyMatch: a mismatched key is refused without echoing the key", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const a = yield* pki.leaf({ names: ["a.test"], issuer: pki.intermediate, notAfter: pki.now + 86_400_000 })
      const b = yield* pki.leaf({ names: ["b.test"], issuer: pki.intermediate, notAfter: pki.now + 86_400_000 })
      const ok = yield* Backup.checkKeyMatch(a.cert + pki.intermediate.cert, a.key, a.certPath)
      assert.strictEqual(ok.subject, "CN=a.test")
      const exit = yield* Effect.exit(Backup.checkKeyMatch(a.cert, b.key, a.certPath))
      assert.isTrue(Exit.isFailure(exit))
      const text = JSON.stringify(exit)
      assert.match(text, /does not match the certificate/)
      assert.notInclude(text, "PRIVATE KEY")
      assert.notInclude(text, b.key.split("\n")[1]!)
    }))
})
