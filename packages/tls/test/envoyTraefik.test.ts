/**
 * The envoy (file-based SDS) and traefik (file provider) reloaders, tested against their
 * documented mechanisms on real files (neither proxy can be installed here):
 * - the file-system events each produces, recorded with `fs.watch` on the directory: only
 *   `rename` events on the watched names (a move onto them), never an in-place `change`;
 * - a reader polling the watched files from another thread during installs only ever reads an
 *   old or a new complete content, never a partial or missing file (property test);
 * - the undo puts the previous files back (again by rename); a mismatched key, or a configuration
 *   that does not name the files, is refused before any write; dry_run writes nothing;
 * - the runbooks plan these reloaders when envoy / traefik is configured, and escalate when not.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import type { Action } from "@byteport/core"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as Certificate from "../src/Certificate"
import * as EnvoySds from "../src/reloaders/EnvoySds"
import * as TraefikFile from "../src/reloaders/TraefikFile"
import * as PKI from "./pki"
import { observe, runHandler } from "./support/actions"
import { tmp } from "./support/services"

const DAY = 86_400_000
const host = "proxy.byteport.test"

interface Pair { readonly cert: string; readonly key: string; readonly pem: string; readonly keyPem: string; readonly fingerprint: string }

let pki: Effect.Success<typeof PKI.make>
const pairs: Record<string, Pair> = {}
const dir = tmp("byteport-proxies-")

beforeAll(async () => {
  pki = await Effect.runPromise(PKI.make)
  for (const name of ["a", "b", "c"]) {
    const leaf = await Effect.runPromise(pki.leaf({ names: [host], issuer: pki.intermediate, notAfter: pki.now + 90 * DAY }))
    const pem = leaf.cert + pki.intermediate.cert
    const cert = path.join(dir, `staged-${name}.pem`)
    const key = path.join(dir, `staged-${name}.key`)
    fs.writeFileSync(cert, pem)
    fs.writeFileSync(key, leaf.key, { mode: 0o600 })
    pairs[name] = { cert, key, pem, keyPem: leaf.key, fingerprint: Certificate.parsePemBundle(pem)[0]!.fingerprint256 }
  }
  const mismatch = path.join(dir, "staged-mismatch.key")
  fs.writeFileSync(mismatch, pairs["a"]!.keyPem, { mode: 0o600 })
  pairs["mismatch"] = { ...pairs["b"]!, key: mismatch, keyPem: pairs["a"]!.keyPem }
}, 60_000)

/** Every file under `d` (recursively) with its content, symlinks with their target: a snapshot to compare. */
const snapshot = (d: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (p: string) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const f = path.join(p, e.name)
      if (e.isDirectory()) walk(f)
      else if (e.isSymbolicLink()) out[f] = `-> ${fs.readlinkSync(f)}`
      else out[f] = `${fs.statSync(f).mode.toString(8)}:${fs.readFileSync(f, "utf8")}`
    }
  }
  walk(d)
  return out
}

/** Runs `f` while recording `fs.watch` events on `d`; temp files are shown as `<tmp>`. */
const recorded = async <A>(d: string, f: () => Promise<A>): Promise<{ readonly result: A; readonly events: ReadonlyArray<string> }> => {
  const events: Array<string> = []
  const w = fs.watch(d, (type, name) => events.push(`${type} ${name !== null && /\.byteport-\d+-\d+\.tmp$/.test(name) ? "<tmp>" : name}`))
  try {
    const result = await f()
    await new Promise((r) => setTimeout(r, 150))
    return { result, events }
  } finally {
    w.close()
  }
}

/** Events on one name. */
const on = (events: ReadonlyArray<string>, name: string) => events.filter((e) => e.endsWith(` ${name}`))

/** A reader thread polling `files` as fast as it can until stopped: every distinct content it read ("<missing>" when absent). */
const poller = (files: ReadonlyArray<string>) => {
  const stop = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(
    `const { workerData, parentPort } = require("node:worker_threads"); const fs = require("node:fs");
     const seen = workerData.files.map(() => new Set()); let reads = 0; let ready = false;
     while (Atomics.load(workerData.stop, 0) === 0) {
       workerData.files.forEach((f, i) => { try { seen[i].add(fs.readFileSync(f, "utf8")) } catch (e) { seen[i].add("<missing " + e.code + ">") } reads++ })
       if (!ready) { ready = true; parentPort.postMessage("ready") }
     }
     parentPort.postMessage({ reads, seen: seen.map((s) => [...s]) })`,
    { eval: true, workerData: { files, stop } }
  )
  const ready = new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve())
    worker.once("error", reject)
  })
  const done = ready.then(() => new Promise<{ reads: number; seen: Array<Array<string>> }>((resolve, reject) => {
    worker.once("message", resolve)
    worker.once("error", reject)
  }))
  return {
    ready,
    stop: async () => {
      Atomics.store(stop, 0, 1)
      const r = await done
      await worker.terminate()
      return r
    }
  }
}

/** `<d>/certs/a.crt` and `a.key`: the pair envoy serves before an install. */
const certsOfA = (d: string) => {
  fs.mkdirSync(path.join(d, "certs"), { recursive: true })
  const certA = path.join(d, "certs", "a.crt")
  const keyA = path.join(d, "certs", "a.key")
  fs.writeFileSync(certA, pairs["a"]!.pem)
  fs.writeFileSync(keyA, pairs["a"]!.keyPem, { mode: 0o600 })
  return { certA, keyA }
}

const ok = (exit: Exit.Exit<unknown, unknown>) => assert.isTrue(Exit.isSuccess(exit), String(exit))
const run = (h: EnvoyOrTraefik, a: Action.Action, mode: "auto" | "dry_run" = "auto") => Effect.runPromise(runHandler(h as never, a, mode))
type EnvoyOrTraefik = ReturnType<typeof EnvoySds.makeInstall>

describe("envoy: file-based SDS", () => {
  const [install, restore] = EnvoySds.handlers()
  const setup = (name: string) => {
    const d = path.join(dir, name)
    const { certA, keyA } = certsOfA(d)
    const sdsPath = path.join(d, "sds.json")
    const validation = { "@type": EnvoySds.SECRET_TYPE, name: "upstream_ca", validation_context: { trusted_ca: { filename: pki.root.certPath } } }
    fs.writeFileSync(sdsPath, JSON.stringify({
      version_info: "1",
      resources: [
        { "@type": EnvoySds.SECRET_TYPE, name: "server_cert", tls_certificate: { certificate_chain: { filename: certA }, private_key: { filename: keyA } } },
        validation
      ]
    }, null, 2))
    const original = fs.readFileSync(sdsPath, "utf8")
    const action = (pair: Pair) =>
      EnvoySds.action({
        sdsPath, secretName: "server_cert", certDir: path.join(d, "certs"), domain: host, source: { cert: pair.cert, key: pair.key },
        servername: host, caFiles: [pki.root.certPath], backupRoot: path.join(d, "backups")
      })
    return { d, sdsPath, certA, keyA, original, validation, action }
  }

  it("install: new files, then one rename onto the watched resource (recorded events); the file parses and names them; undo renames the old one back", async () => {
    const s = setup("install")
    const a = s.action(pairs["b"]!)
    assert.strictEqual(a.kind, "tls.envoy.installCertificate")
    assert.strictEqual(a.undo?.kind, "tls.envoy.restoreCertificate")
    assert.strictEqual((await Effect.runPromise(observe(install! as never, a)))._tag, "NotApplied")

    const { result, events } = await recorded(s.d, () => run(install!, a))
    ok(result)
    const files = EnvoySds.filesFor({ sdsPath: s.sdsPath, secretName: "server_cert", certDir: path.join(s.d, "certs") }, pairs["b"]!.fingerprint)
    // the exact sequence on the watched directory: the temp file is created (IN_CREATE), written (IN_MODIFY), its mode set
    // (IN_ATTRIB), then moved onto sds.json (IN_MOVED_FROM, IN_MOVED_TO): envoy's watch fires on the last
    assert.deepStrictEqual(events.filter((e) => !e.endsWith(" backups") && !e.endsWith(" certs")), ["rename <tmp>", "change <tmp>", "change <tmp>", "rename <tmp>", "rename sds.json"])
    assert.deepStrictEqual(on(events, "sds.json"), ["rename sds.json"])
    // the final resource: parses, names the new existing files, keeps the other resource, version = new fingerprint
    const doc = JSON.parse(fs.readFileSync(s.sdsPath, "utf8")) as EnvoySds.Resource
    assert.deepStrictEqual(EnvoySds.secretOf(doc, "server_cert"), files)
    assert.deepStrictEqual(doc.resources[1], s.validation)
    assert.strictEqual(doc.version_info, pairs["b"]!.fingerprint.replace(/:/g, "").slice(0, 16).toLowerCase())
    assert.strictEqual(fs.readFileSync(files.cert, "utf8"), pairs["b"]!.pem)
    assert.strictEqual(fs.statSync(files.key).mode & 0o777, 0o600)
    // the files the running envoy named are untouched
    assert.strictEqual(fs.readFileSync(s.certA, "utf8"), pairs["a"]!.pem)
    assert.strictEqual(fs.readFileSync(s.keyA, "utf8"), pairs["a"]!.keyPem)
    assert.strictEqual((await Effect.runPromise(observe(install! as never, a)))._tag, "Applied")
    // backup: 0700 / 0600, the previous resource
    const [b] = fs.readdirSync(path.join(s.d, "backups"))
    assert.strictEqual(fs.statSync(path.join(s.d, "backups", b!)).mode & 0o777, 0o700)
    assert.strictEqual(fs.readFileSync(path.join(s.d, "backups", b!, "sds.json"), "utf8"), s.original)
    assert.notInclude(JSON.stringify(result), "PRIVATE KEY")

    // undo: the previous resource renamed back over the watched name
    assert.strictEqual((await Effect.runPromise(observe(restore! as never, a.undo!)))._tag, "NotApplied")
    const undone = await recorded(s.d, () => run(restore!, a.undo!))
    ok(undone.result)
    assert.deepStrictEqual(on(undone.events, "sds.json"), ["rename sds.json"])
    assert.strictEqual(fs.readFileSync(s.sdsPath, "utf8"), s.original)
    assert.strictEqual((await Effect.runPromise(observe(restore! as never, a.undo!)))._tag, "Applied")
  })

  it("a mismatched key, YAML in a .json resource (envoy reads it as JSON), and dry_run: nothing written, no event, no backup", async () => {
    const s = setup("refused")
    const before = snapshot(s.d)
    const refused = await recorded(s.d, () => run(install!, s.action(pairs["mismatch"]!)))
    assert.include(String(refused.result), "does not match")
    assert.deepStrictEqual(refused.events, [])
    assert.deepStrictEqual(snapshot(s.d), before)

    const dry = await recorded(s.d, () => run(install!, s.action(pairs["b"]!), "dry_run"))
    ok(dry.result)
    assert.match(JSON.stringify(dry.result), /would write/)
    assert.deepStrictEqual(dry.events, [])
    assert.deepStrictEqual(snapshot(s.d), before)

    fs.writeFileSync(s.sdsPath, `resources:\n- "@type": ${EnvoySds.SECRET_TYPE}\n  name: server_cert\n`)
    const yaml = snapshot(s.d)
    const notJson = await recorded(s.d, () => run(install!, s.action(pairs["b"]!)))
    assert.include(String(notJson.result), "not JSON")
    assert.deepStrictEqual(notJson.events, [])
    assert.deepStrictEqual(snapshot(s.d), yaml)
  })

  it("property: a reader polling the watched resource during installs only reads complete old or new resources, never a missing or partial file", async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 4 }), async (order) => {
      const s = setup(`prop-${Math.random().toString(36).slice(2)}`)
      const complete = new Set([s.original])
      const reader = poller([s.sdsPath])
      await reader.ready
      for (const name of order) {
        ok(await run(install!, s.action(pairs[name]!)))
        complete.add(fs.readFileSync(s.sdsPath, "utf8"))
      }
      const { seen, reads } = await reader.stop()
      assert.isAbove(reads, 0)
      for (const text of seen[0]!) assert.isTrue(complete.has(text), `a reader saw a partial or missing resource: ${text.slice(0, 80)}`)
      for (const text of seen[0]!) assert.isDefined(EnvoySds.secretOf(JSON.parse(text) as EnvoySds.Resource, "server_cert"))
    }), { numRuns: 6 })
  }, 60_000)

  it("pure: render replaces only the named Secret, adds it when absent; parse refuses what it cannot rewrite", () => {
    const r = { resources: [{ "@type": "x", name: "other" }] }
    const once = JSON.parse(EnvoySds.render(r, { name: "s", cert: "/c", key: "/k", version: "v" })) as EnvoySds.Resource
    assert.deepStrictEqual(once.resources.map((x) => x["name"]), ["other", "s"])
    const twice = JSON.parse(EnvoySds.render(once, { name: "s", cert: "/c2", key: "/k2", version: "w" })) as EnvoySds.Resource
    assert.deepStrictEqual(EnvoySds.secretOf(twice, "s"), { cert: "/c2", key: "/k2" })
    assert.lengthOf(twice.resources, 2)
    assert.isString(EnvoySds.parse("resources: []"))
    assert.isString(EnvoySds.parse("{}"))
  })
})

describe("envoy: YAML SDS resource files (envoy reads .yaml / .yml as YAML)", () => {
  const [install, restore] = EnvoySds.handlers()
  it("a .yaml resource is rewritten as YAML by one rename: parses, names the new files, keeps the other resource; undo puts the original bytes back", async () => {
    const d = path.join(dir, "yaml")
    const { certA, keyA } = certsOfA(d)
    const sdsPath = path.join(d, "sds.yaml")
    const original = [
      "# hand-written",
      "version_info: \"1\"",
      "resources:",
      `- "@type": ${EnvoySds.SECRET_TYPE}`,
      "  name: server_cert",
      "  tls_certificate:",
      `    certificate_chain: { filename: ${certA} }`,
      `    private_key: { filename: ${keyA} }`,
      `- "@type": ${EnvoySds.SECRET_TYPE}`,
      "  name: upstream_ca",
      "  validation_context:",
      `    trusted_ca: { filename: ${pki.root.certPath} }`,
      ""
    ].join("\n")
    fs.writeFileSync(sdsPath, original)
    assert.strictEqual(EnvoySds.formatOf(sdsPath), "yaml")
    assert.strictEqual(EnvoySds.formatOf(path.join(d, "sds.yml")), "yaml")
    assert.strictEqual(EnvoySds.formatOf(path.join(d, "sds.json")), "json")
    const a = EnvoySds.action({
      sdsPath, secretName: "server_cert", certDir: path.join(d, "certs"), domain: host, source: { cert: pairs["b"]!.cert, key: pairs["b"]!.key },
      servername: host, caFiles: [pki.root.certPath], backupRoot: path.join(d, "backups")
    })
    const { result, events } = await recorded(d, () => run(install!, a))
    ok(result)
    assert.deepStrictEqual(on(events, "sds.yaml"), ["rename sds.yaml"])
    const text = fs.readFileSync(sdsPath, "utf8")
    assert.throws(() => JSON.parse(text))
    const doc = EnvoySds.parse(text, "yaml") as EnvoySds.Resource
    const files = EnvoySds.filesFor({ sdsPath, secretName: "server_cert", certDir: path.join(d, "certs") }, pairs["b"]!.fingerprint)
    assert.deepStrictEqual(EnvoySds.secretOf(doc, "server_cert"), files)
    assert.deepStrictEqual(doc.resources[1], { "@type": EnvoySds.SECRET_TYPE, name: "upstream_ca", validation_context: { trusted_ca: { filename: pki.root.certPath } } })
    assert.strictEqual((await Effect.runPromise(observe(install! as never, a)))._tag, "Applied")
    ok(await run(restore!, a.undo!))
    assert.strictEqual(fs.readFileSync(sdsPath, "utf8"), original)
    // not YAML at all: refused before any write
    fs.writeFileSync(sdsPath, "resources: [\n")
    const before = snapshot(d)
    assert.include(String(await run(install!, a)), "not YAML")
    assert.deepStrictEqual(snapshot(d), before)
  })
})

describe("envoy: watched_directory (symlink swap of ..data, the layout envoy documents for Kubernetes mounts)", () => {
  const [install, restore] = EnvoySds.handlers()
  /** `<d>/tls/{tls.crt,tls.key}` → `..data/…`, `..data` → `..v1` holding pair a; the SDS resource names them with watched_directory. */
  const setup = (name: string, o: { readonly plainFiles?: boolean } = {}) => {
    const d = path.join(dir, `watched-${name}`)
    const w = path.join(d, "tls")
    fs.mkdirSync(path.join(w, "..v1"), { recursive: true })
    fs.writeFileSync(path.join(w, "..v1", "tls.crt"), pairs["a"]!.pem)
    fs.writeFileSync(path.join(w, "..v1", "tls.key"), pairs["a"]!.keyPem, { mode: 0o600 })
    fs.symlinkSync("..v1", path.join(w, "..data"))
    for (const f of ["tls.crt", "tls.key"]) {
      if (o.plainFiles === true) fs.copyFileSync(path.join(w, "..v1", f), path.join(w, f))
      else fs.symlinkSync(`..data/${f}`, path.join(w, f))
    }
    const sdsPath = path.join(d, "sds.json")
    fs.writeFileSync(sdsPath, JSON.stringify({
      version_info: "1",
      resources: [{
        "@type": EnvoySds.SECRET_TYPE, name: "server_cert",
        tls_certificate: { certificate_chain: { filename: path.join(w, "tls.crt") }, private_key: { filename: path.join(w, "tls.key") }, watched_directory: { path: w } }
      }]
    }, null, 2))
    const original = fs.readFileSync(sdsPath, "utf8")
    const action = (pair: Pair) =>
      EnvoySds.action({ sdsPath, secretName: "server_cert", domain: host, source: { cert: pair.cert, key: pair.key }, servername: host, caFiles: [pki.root.certPath], backupRoot: path.join(d, "backups") })
    return { d, w, sdsPath, original, action }
  }

  it("install: the pair goes to a new versioned dir, then ..data is renamed over (recorded events: the only move on ..data, the links and the resource untouched); undo renames it back", async () => {
    const s = setup("install")
    const a = s.action(pairs["b"]!)
    const version = `..${pairs["b"]!.fingerprint.replace(/:/g, "").slice(0, 16).toLowerCase()}`
    const outer = await recorded(s.d, async () => recorded(s.w, () => run(install!, a)))
    const { result, events } = outer.result
    ok(result)
    // the watched directory sees: the versioned dir created, the ..data_tmp symlink created, then moved onto ..data
    assert.deepStrictEqual(events, [`rename ${version}`, "rename ..data_tmp", "rename ..data_tmp", "rename ..data"])
    assert.deepStrictEqual(on(events, "tls.crt"), [])
    // the SDS resource is not touched (no event on it in its directory; same bytes)
    assert.deepStrictEqual(on(outer.events, "sds.json"), [])
    assert.strictEqual(fs.readFileSync(s.sdsPath, "utf8"), s.original)
    assert.strictEqual(fs.readlinkSync(path.join(s.w, "..data")), version)
    assert.strictEqual(fs.readFileSync(path.join(s.w, "tls.crt"), "utf8"), pairs["b"]!.pem)
    assert.strictEqual(fs.readFileSync(path.join(s.w, "tls.key"), "utf8"), pairs["b"]!.keyPem)
    assert.strictEqual(fs.statSync(path.join(s.w, version, "tls.key")).mode & 0o777, 0o600)
    assert.strictEqual(fs.readFileSync(path.join(s.w, "..v1", "tls.crt"), "utf8"), pairs["a"]!.pem, "the previous version stays")
    assert.strictEqual((await Effect.runPromise(observe(install! as never, a)))._tag, "Applied")
    // backup 0700 / 0600 with the previous pair's content
    const [b] = fs.readdirSync(path.join(s.d, "backups"))
    assert.strictEqual(fs.statSync(path.join(s.d, "backups", b!)).mode & 0o777, 0o700)
    assert.strictEqual(fs.readFileSync(path.join(s.d, "backups", b!, "tls.crt"), "utf8"), pairs["a"]!.pem)
    assert.notInclude(JSON.stringify(result), "PRIVATE KEY")
    // undo: one move of ..data back to ..v1
    assert.strictEqual((await Effect.runPromise(observe(restore! as never, a.undo!)))._tag, "NotApplied")
    const undone = await recorded(s.w, () => run(restore!, a.undo!))
    ok(undone.result)
    assert.deepStrictEqual(undone.events, ["rename ..data_tmp", "rename ..data_tmp", "rename ..data"])
    assert.strictEqual(fs.readlinkSync(path.join(s.w, "..data")), "..v1")
    assert.strictEqual(fs.readFileSync(path.join(s.w, "tls.crt"), "utf8"), pairs["a"]!.pem)
    assert.strictEqual((await Effect.runPromise(observe(restore! as never, a.undo!)))._tag, "Applied")
  })

  it("refused before any write: plain files instead of the ..data links, a mismatched key; dry_run writes nothing", async () => {
    const plain = setup("plain", { plainFiles: true })
    const before = snapshot(plain.d)
    const r = await recorded(plain.w, () => run(install!, plain.action(pairs["b"]!)))
    assert.include(String(r.result), "is not a symlink")
    assert.deepStrictEqual(r.events, [])
    assert.deepStrictEqual(snapshot(plain.d), before)
    const s = setup("refused")
    const links = snapshot(s.d)
    const mismatch = await recorded(s.w, () => run(install!, s.action(pairs["mismatch"]!)))
    assert.include(String(mismatch.result), "does not match")
    assert.deepStrictEqual(mismatch.events, [])
    const dry = await recorded(s.w, () => run(install!, s.action(pairs["b"]!), "dry_run"))
    ok(dry.result)
    assert.match(JSON.stringify(dry.result), /would write/)
    assert.deepStrictEqual(dry.events, [])
    assert.deepStrictEqual(snapshot(s.d), links)
    assert.strictEqual(fs.readlinkSync(path.join(s.w, "..data")), "..v1")
  })

  it("property: a reader polling cert and key through the links during installs only reads complete old or new contents", async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 4 }), async (order) => {
      const s = setup(`prop-${Math.random().toString(36).slice(2)}`)
      const reader = poller([path.join(s.w, "tls.crt"), path.join(s.w, "tls.key")])
      await reader.ready
      for (const name of order) ok(await run(install!, s.action(pairs[name]!)))
      const { seen, reads } = await reader.stop()
      assert.isAbove(reads, 0)
      const certs = new Set(["a", "b", "c"].map((n) => pairs[n]!.pem))
      const keys = new Set(["a", "b", "c"].map((n) => pairs[n]!.keyPem))
      for (const text of seen[0]!) assert.isTrue(certs.has(text), `partial or missing certificate: ${text.slice(0, 60)}`)
      for (const text of seen[1]!) assert.isTrue(keys.has(text), "partial or missing key")
    }), { numRuns: 6 })
  }, 60_000)
})

describe("traefik: the file provider's directory (providers.file.directory)", () => {
  const [install, restore] = TraefikFile.handlers()
  const setup = (name: string) => {
    const d = path.join(dir, `traefik-dir-${name}`)
    const conf = path.join(d, "dynamic")
    fs.mkdirSync(path.join(conf, "tls"), { recursive: true })
    fs.mkdirSync(path.join(d, "certs"))
    const certFile = path.join(d, "certs", "shop.crt")
    const keyFile = path.join(d, "certs", "shop.key")
    fs.writeFileSync(certFile, pairs["a"]!.pem, { mode: 0o644 })
    fs.writeFileSync(keyFile, pairs["a"]!.keyPem, { mode: 0o600 })
    fs.writeFileSync(path.join(conf, "routers.yml"), "http:\n  routers:\n    shop:\n      rule: Host(`shop`)\n      tls: {}\n")
    fs.writeFileSync(path.join(conf, "other.toml"), `[[tls.certificates]]\n  certFile = "/etc/other.crt"\n  keyFile = "/etc/other.key"\n`)
    const text = `tls:\n  certificates:\n    - certFile: ${certFile}\n      keyFile: ${keyFile}\n`
    const shop = path.join(conf, "tls", "shop.yaml")
    fs.writeFileSync(shop, text)
    const action = (pair: Pair) =>
      TraefikFile.action({ directory: conf, certFile, keyFile, domain: host, source: { cert: pair.cert, key: pair.key }, servername: host, caFiles: [pki.root.certPath], backupRoot: path.join(d, "backups") })
    return { d, conf, certFile, keyFile, shop, text, action }
  }

  it("the one file naming certFile and keyFile (found in a subdirectory) is marked and renamed into place, the others untouched; undo restores", async () => {
    const s = setup("install")
    assert.deepStrictEqual(TraefikFile.configFilesIn(s.conf), [path.join(s.conf, "other.toml"), path.join(s.conf, "routers.yml"), s.shop])
    assert.strictEqual(TraefikFile.configFileOf({ directory: s.conf, certFile: s.certFile, keyFile: s.keyFile }), s.shop)
    const a = s.action(pairs["b"]!)
    assert.strictEqual((a.params as { directory?: string }).directory, s.conf)
    const others = snapshot(s.conf)
    const outer = await recorded(s.conf, () => recorded(path.join(s.conf, "tls"), () => run(install!, a)))
    ok(outer.result.result)
    // in the provider's directory tree: only the configuration file that names the certificate moves (the temp beside it ends .tmp)
    assert.deepStrictEqual(outer.result.events.filter((e) => !e.includes("<tmp>")), ["rename shop.yaml"])
    assert.deepStrictEqual(outer.events, [])
    assert.strictEqual(fs.readFileSync(s.shop, "utf8"), `${TraefikFile.MARKER} ${host} ${pairs["b"]!.fingerprint}\n${s.text}`)
    for (const f of ["routers.yml", "other.toml"]) assert.strictEqual(fs.readFileSync(path.join(s.conf, f), "utf8"), others[path.join(s.conf, f)]!.replace(/^\d+:/, ""))
    assert.strictEqual(fs.readFileSync(s.certFile, "utf8"), pairs["b"]!.pem)
    assert.strictEqual((await Effect.runPromise(observe(install! as never, a)))._tag, "Applied")
    ok(await run(restore!, a.undo!))
    assert.strictEqual(fs.readFileSync(s.shop, "utf8"), s.text)
    assert.strictEqual(fs.readFileSync(s.certFile, "utf8"), pairs["a"]!.pem)
    assert.strictEqual((await Effect.runPromise(observe(restore! as never, a.undo!)))._tag, "Applied")
  })

  it("refused before any write: no file names the certificate, or several do; dry_run writes nothing", async () => {
    const none = setup("none")
    fs.writeFileSync(none.shop, "tls: {}\n")
    const before = snapshot(none.d)
    assert.include(String(await run(install!, none.action(pairs["b"]!))), "no configuration file in")
    assert.deepStrictEqual(snapshot(none.d), before)
    const two = setup("two")
    fs.writeFileSync(path.join(two.conf, "copy.yml"), two.text)
    const twoBefore = snapshot(two.d)
    assert.include(String(await run(install!, two.action(pairs["b"]!))), "several files")
    assert.deepStrictEqual(snapshot(two.d), twoBefore)
    const dry = setup("dry")
    const dryBefore = snapshot(dry.d)
    const r = await run(install!, dry.action(pairs["b"]!), "dry_run")
    ok(r)
    assert.include(JSON.stringify(r), "shop.yaml")
    assert.deepStrictEqual(snapshot(dry.d), dryBefore)
  })
})

describe("traefik: file provider", () => {
  const [install, restore] = TraefikFile.handlers()
  const setup = (name: string, format: "yaml" | "toml" = "yaml") => {
    const d = path.join(dir, `traefik-${name}`)
    fs.mkdirSync(d, { recursive: true })
    const certFile = path.join(d, "shop.crt")
    const keyFile = path.join(d, "shop.key")
    fs.writeFileSync(certFile, pairs["a"]!.pem, { mode: 0o644 })
    fs.writeFileSync(keyFile, pairs["a"]!.keyPem, { mode: 0o600 })
    const dynamicConfig = path.join(d, `dynamic.${format}`)
    const text = format === "yaml"
      ? `# shop\ntls:\n  certificates:\n    - certFile: ${certFile}\n      keyFile: "${keyFile}"\n`
      : `[[tls.certificates]]\n  certFile = "${certFile}"\n  keyFile = "${keyFile}"\n`
    fs.writeFileSync(dynamicConfig, text)
    const action = (pair: Pair, files: { certFile?: string; keyFile?: string } = {}) =>
      TraefikFile.action({
        dynamicConfig, certFile: files.certFile ?? certFile, keyFile: files.keyFile ?? keyFile, domain: host, source: { cert: pair.cert, key: pair.key },
        servername: host, caFiles: [pki.root.certPath], backupRoot: path.join(dir, `traefik-${name}-backups`)
      })
    return { d, certFile, keyFile, dynamicConfig, text, action }
  }

  for (const format of ["yaml", "toml"] as const) {
    it(`install (${format}): key and cert renamed into place, then the dynamic configuration (recorded events); content hash changed; undo restores all three`, async () => {
      const s = setup(`install-${format}`, format)
      const a = s.action(pairs["b"]!)
      assert.strictEqual(a.kind, "tls.traefik.installCertificate")
      assert.strictEqual((await Effect.runPromise(observe(install! as never, a)))._tag, "NotApplied")
      const { result, events } = await recorded(s.d, () => run(install!, a))
      ok(result)
      const conf = `dynamic.${format}`
      // the exact sequence: each file written beside its name and moved onto it, the configuration last
      assert.deepStrictEqual(events.filter((e) => !e.includes("<tmp>")), ["rename shop.key", "rename shop.crt", `rename ${conf}`])
      assert.deepStrictEqual(events.filter((e) => !e.includes("<tmp>") && e.startsWith("change")), [])
      const after = fs.readFileSync(s.dynamicConfig, "utf8")
      assert.notStrictEqual(after, s.text)
      assert.strictEqual(after, `${TraefikFile.MARKER} ${host} ${pairs["b"]!.fingerprint}\n${s.text}`)
      assert.strictEqual(fs.readFileSync(s.certFile, "utf8"), pairs["b"]!.pem)
      assert.strictEqual(fs.statSync(s.keyFile).mode & 0o777, 0o600)
      assert.strictEqual((await Effect.runPromise(observe(install! as never, a)))._tag, "Applied")

      const undone = await recorded(s.d, () => run(restore!, a.undo!))
      ok(undone.result)
      assert.deepStrictEqual(undone.events.filter((e) => !e.includes("<tmp>")), ["rename shop.crt", "rename shop.key", `rename ${conf}`])
      assert.strictEqual(fs.readFileSync(s.dynamicConfig, "utf8"), s.text)
      assert.strictEqual(fs.readFileSync(s.certFile, "utf8"), pairs["a"]!.pem)
      assert.strictEqual(fs.readFileSync(s.keyFile, "utf8"), pairs["a"]!.keyPem)
      assert.strictEqual((await Effect.runPromise(observe(restore! as never, a.undo!)))._tag, "Applied")
    })
  }

  it("a mismatched key, a configuration that does not name the files, and dry_run: nothing written, no event, no backup", async () => {
    const s = setup("refused")
    const backups = path.join(dir, "traefik-refused-backups")
    const before = snapshot(s.d)
    const refused = await recorded(s.d, () => run(install!, s.action(pairs["mismatch"]!)))
    assert.include(String(refused.result), "does not match")
    assert.deepStrictEqual(refused.events, [])
    const other = await recorded(s.d, () => run(install!, s.action(pairs["b"]!, { certFile: path.join(s.d, "other.crt") })))
    assert.include(String(other.result), "does not name")
    assert.deepStrictEqual(other.events, [])
    const dry = await recorded(s.d, () => run(install!, s.action(pairs["b"]!), "dry_run"))
    ok(dry.result)
    assert.deepStrictEqual(dry.events, [])
    assert.deepStrictEqual(snapshot(s.d), before)
    assert.isFalse(fs.existsSync(backups))
  })

  it("property: a reader polling the certificate and the configuration during installs only reads complete old or new contents", async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 4 }), async (order) => {
      const s = setup(`prop-${Math.random().toString(36).slice(2)}`)
      const certs = new Set([pairs["a"]!.pem])
      const confs = new Set([s.text])
      const reader = poller([s.certFile, s.dynamicConfig])
      await reader.ready
      for (const name of order) {
        ok(await run(install!, s.action(pairs[name]!)))
        certs.add(fs.readFileSync(s.certFile, "utf8"))
        confs.add(fs.readFileSync(s.dynamicConfig, "utf8"))
      }
      const { seen, reads } = await reader.stop()
      assert.isAbove(reads, 0)
      for (const text of seen[0]!) assert.isTrue(certs.has(text), `partial certificate read: ${text.slice(0, 60)}`)
      for (const text of seen[1]!) assert.isTrue(confs.has(text), `partial configuration read: ${text.slice(0, 60)}`)
    }), { numRuns: 6 })
  }, 60_000)

  it("pure: names() reads YAML and TOML, quoted or not, on a path boundary; mark() keeps one marker", () => {
    assert.isTrue(TraefikFile.names("    - certFile: /etc/t/a.crt\n", "certFile", "/etc/t/a.crt"))
    assert.isTrue(TraefikFile.names(`  keyFile = "/etc/t/a.key"\n`, "keyFile", "/etc/t/a.key"))
    assert.isTrue(TraefikFile.names(`{ certFile: '/etc/t/a.crt', keyFile: '/k' }`, "certFile", "/etc/t/a.crt"))
    assert.isFalse(TraefikFile.names("certFile: /etc/t/a.crt.old\n", "certFile", "/etc/t/a.crt"))
    assert.isFalse(TraefikFile.names("keyFile: /etc/t/a.crt\n", "certFile", "/etc/t/a.crt"))
    const once = TraefikFile.mark("tls: {}\n", "d", "AA")
    const twice = TraefikFile.mark(once, "d", "BB")
    assert.strictEqual(twice, `${TraefikFile.MARKER} d BB\ntls: {}\n`)
  })
})

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})
