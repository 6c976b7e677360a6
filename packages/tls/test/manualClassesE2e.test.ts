/**
 * The classes no automation may renew, end to end in auto mode against a real TLS server (a
 * `node:tls` listener serving an openssl-made chain: no server of the services can be given a
 * certificate from an internal or commercial CA's keys): `internal_ca` (issuer on `internalCas`)
 * and `commercial_ca` / `commercial_ca_manual` (the chain verifies to the trusted roots, the
 * issuer is not ACME), for tls.expiry.seven-class and tls.expiry.end-to-end. The real handshake is
 * inspected, the detector fires at 7 days, the runbook classifies and escalates at once with what
 * a CSR needs — no renewer call, no install, no staged file, no backup, the served file untouched.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { type IncidentReport, Runbook, type Runbook as RunbookNs, Verifier } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { CertificateSignals, EndToEndRunbook, InstallCertificate, RenewAction, SevenClassRunbook } from "../src/index"
import type { Renewer } from "../src/index"
import * as Pki from "./pki"
import { serve } from "./server"
import { tmp } from "./support/services"

const DAY = 86_400_000

type Case = { readonly runbook: "seven-class" | "end-to-end"; readonly ca: "internal" | "commercial"; readonly cls: string }
const CASES: ReadonlyArray<Case> = [
  { runbook: "seven-class", ca: "internal", cls: "internal_ca" },
  { runbook: "seven-class", ca: "commercial", cls: "commercial_ca" },
  { runbook: "end-to-end", ca: "internal", cls: "internal_ca" },
  { runbook: "end-to-end", ca: "commercial", cls: "commercial_ca_manual" }
]

describe("internal and commercial CAs end to end: escalated at once, nothing written", () => {
  for (const c of CASES) {
    it.live(`${c.runbook} / ${c.cls}: a real handshake, 7-day signal, escalation with the CSR's contents; no renewal, no install, no file`, () =>
      Effect.scoped(Effect.gen(function*() {
        const pki = yield* Pki.make
        const subject = c.ca === "internal" ? "/O=Example Corp/CN=Example Corp Issuing CA 1" : "/O=DigiCert Inc/CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1"
        const issuer = yield* pki.ca(subject)
        const name = c.ca === "internal" ? "intranet.corp.example" : "bank.example.com"
        const leaf = yield* pki.leaf({ names: [name], issuer, notAfter: Date.now() + 5 * DAY })
        const dir = tmp("byteport-manual-")
        const files = { cert: path.join(dir, "served.pem"), key: path.join(dir, "served.key") }
        fs.writeFileSync(files.cert, leaf.cert + issuer.cert)
        fs.writeFileSync(files.key, leaf.key, { mode: 0o600 })
        const before = { cert: fs.readFileSync(files.cert, "utf8"), key: fs.readFileSync(files.key, "utf8") }
        const { port } = yield* serve({ cert: leaf.cert + issuer.cert, key: leaf.key })
        const endpoint = { host: "127.0.0.1", port, servername: name }
        const ca = [issuer.cert]
        const signals = yield* CertificateSignals.pollOnce({ ...endpoint, ca })
        const signal = signals.find((s) => s.type === CertificateSignals.SIGNAL_EXPIRING_SOON)!
        assert.strictEqual(signal.evidence["thresholdDays"], 7)

        const calls: Array<Renewer.RenewRequest> = []
        const renewer: Renewer.Renewer = { kind: "acme-client", challenges: ["http-01", "dns-01"], describe: () => "counting", renew: (r) => Effect.suspend(() => { calls.push(r); return Effect.die("never called") }) }
        const staging = tmp("byteport-manual-staging-")
        const backups = tmp("byteport-manual-backups-")
        const common = {
          endpoints: [{ ...endpoint, server: { kind: "nginx" as const, conf: path.join(dir, "nginx.conf"), pidFile: path.join(dir, "nginx.pid") }, files, webroot: dir, expectStaple: false }],
          ca,
          internalCas: [{ name: "Example Corp", organization: "Example Corp" }],
          account: { directoryUrl: "https://127.0.0.1:9/dir" },
          stagingRoot: staging,
          backupRoot: backups,
          verifySchedule: Verifier.once("0 seconds"),
          cooldown: "0 seconds" as const
        }
        const rb: RunbookNs.Runbook<unknown> = (c.runbook === "seven-class" ? SevenClassRunbook.make(common) : EndToEndRunbook.make(common)) as unknown as RunbookNs.Runbook<unknown>
        const layer = Layer.merge(Testing.layer({ handlers: [...InstallCertificate.handlers(), RenewAction.handler({ "acme-client": renewer, certbot: renewer })] }), Shell.layerLocal)
        const r = (yield* Runbook.handle(rb, signal, { mode: "auto" }).pipe(Effect.provide(layer))) as IncidentReport.IncidentReport
        const cls = r.classification
        assert.strictEqual(cls?._tag === "Classified" ? cls.class : cls?._tag, c.cls)
        assert.strictEqual(r.status, "escalated", JSON.stringify(r.outcomes))
        // the plan's only step is the escalation: no action ran
        assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["escalate", "escalated"]])
        assert.match(JSON.stringify(r.escalation), /CSR/)
        assert.include(JSON.stringify(r.escalation), name)
        assert.deepStrictEqual(calls, [])
        assert.deepStrictEqual(fs.readdirSync(staging), [])
        assert.deepStrictEqual(fs.readdirSync(backups), [])
        assert.deepStrictEqual({ cert: fs.readFileSync(files.cert, "utf8"), key: fs.readFileSync(files.key, "utf8") }, before)
        assert.notInclude(JSON.stringify(r), "PRIVATE KEY")
      })).pipe(Effect.provide(Shell.layerLocal)), 60_000)
  }
})
