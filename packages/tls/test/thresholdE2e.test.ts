/**
 * tls.expiry.threshold end to end, auto mode, on the real servers of scripts/services.sh: nginx
 * serves a 5-day certificate certbot got from the short Pebble (a certbot lineage in a private
 * config dir); the detector (14 / 7 days) signals 7 → critical; the runbook checks the names
 * resolve to the endpoint (challtestsrv as the loopback resolver) and CAA, renews the lineage with
 * `certbot renew --cert-name` against the default Pebble, backs up, swaps, reloads nginx, verifies
 * and reports pre/post snapshots with their diff. The real failure: renewing against the short
 * Pebble gives 5 days again, verification fails, the backup is served again, and the escalation
 * goes to the severity's sink (critical → Pager; with criticalDays 4 the 5-day certificate is a
 * warning → OpsChannel). A name resolving elsewhere escalates with no write; dry_run and observe
 * make no ACME order (Pebble's log) and write no file.
 */
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Escalation, type IncidentReport, Runbook, Sink, type SinkMessage, Verifier } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Caa, CertbotRenewer, CertificateSignals, Inspection, InstallCertificate, RenewAction, ThresholdRunbook } from "../src/index"
import type { Renewer } from "../src/index"
import { certbot, describeWithServices, nginxOf, tmp, withNginx } from "./support/services"

describeWithServices(["pebble", "ocsp", "nginx", "certbot"], "tls.expiry.threshold end to end (nginx + Pebble + certbot)", (env) => {
  const servername = `threshold-${process.pid}.byteport.test`
  const endpointAddr = { host: "127.0.0.1", port: Number(env.BYTEPORT_TEST_NGINX_TLS_PORT), servername }
  const { server, target, rootFiles, roots, reload: nginxReload } = nginxOf(env)
  const pebbleLogs = [env.BYTEPORT_TEST_PEBBLE_LOG ?? "", env.BYTEPORT_TEST_PEBBLE_SHORT_LOG ?? ""]
  const orders = () => pebbleLogs.map((f) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter((l) => /POST \/order-plz/.test(l)).length : 0)).reduce((a, b) => a + b, 0)
  const fingerprintOf = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256

  /** nginx serves a fresh 5-day certificate from a certbot lineage (short Pebble); restored afterwards. */
  const withLineage = <A, E, R>(test: (lineage: { readonly configDir: string; readonly root: string; readonly served: string }) => Effect.Effect<A, E, R>) =>
    withNginx(env, Effect.gen(function*() {
      const cert = fs.readFileSync(target.cert)
      const key = fs.readFileSync(target.key)
      return yield* Effect.gen(function*() {
        const issued = yield* certbot(env, { directory: env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", name: servername })
        yield* nginxReload(fs.readFileSync(issued.fullchain), fs.readFileSync(issued.key))
        const fp = fingerprintOf(issued.fullchain)
        const seen = yield* InstallCertificate.awaitServed(endpointAddr, fp, 10_000)
        assert.isTrue(seen.served)
        const configDir = path.dirname(path.dirname(issued.live))
        return yield* test({ configDir, root: path.dirname(configDir), served: fp })
      }).pipe(Effect.ensuring(Effect.gen(function*() {
        if (fs.readFileSync(target.cert).equals(cert) && fs.readFileSync(target.key).equals(key)) return
        yield* nginxReload(cert, key)
      })), Effect.provide(Shell.layerLocal))
    }))

  const setup = (lineage: { readonly configDir: string; readonly root: string }, directoryUrl: string, extra: Partial<ThresholdRunbook.Options> = {}) =>
    Effect.gen(function*() {
      const calls: Array<Renewer.RenewRequest> = []
      const real = CertbotRenewer.make({ configDir: lineage.configDir, workDir: path.join(lineage.root, "work"), logsDir: path.join(lineage.root, "logs") })
      const renewer: Renewer.Renewer<Shell.Shell> = { ...real, renew: (r) => Effect.suspend(() => { calls.push(r); return real.renew(r) }) }
      const backups = tmp("byteport-threshold-backups-")
      const options: ThresholdRunbook.Options = {
        endpoints: [{ ...endpointAddr, server, files: target, webroot: env.BYTEPORT_TEST_NGINX_WEBROOT ?? "", certbot: { name: servername }, expectStaple: false }],
        certbot: { configDir: lineage.configDir },
        account: { directoryUrl, caBundle: env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "" },
        resolver: Caa.system({ nameservers: [env.BYTEPORT_TEST_PEBBLE_DNS ?? ""] }),
        ca: roots(),
        caFiles: rootFiles,
        backupRoot: backups,
        verifySchedule: Verifier.once("0 seconds"),
        cooldown: "0 seconds",
        ...extra
      }
      const ops = yield* Sink.memory("ops")
      const pager = yield* Sink.memory("pager")
      const layer = Layer.mergeAll(
        Testing.layer({ handlers: [...InstallCertificate.handlers(), RenewAction.handler({ certbot: renewer })] }),
        ThresholdRunbook.notifier(options).pipe(Layer.provide(Layer.merge(Sink.layerOpsChannel(ops), Sink.layerPager(pager)))),
        Shell.layerLocal
      )
      return { calls, options, backups, layer, ops, pager }
    })

  const run = (s: Effect.Success<ReturnType<typeof setup>>, mode: "auto" | "dry_run" | "observe", expectDays = 7) =>
    Effect.gen(function*() {
      const signals = yield* CertificateSignals.pollOnce({ ...endpointAddr, ca: s.options.ca!, thresholdDays: [s.options.warningDays ?? 14, s.options.criticalDays ?? 7] })
      const signal = signals.find((x) => x.type === CertificateSignals.SIGNAL_EXPIRING_SOON)
      assert.isDefined(signal, JSON.stringify(signals.map((x) => x.type)))
      assert.strictEqual(signal!.evidence["thresholdDays"], expectDays)
      const r = yield* Runbook.handle(ThresholdRunbook.make(s.options), signal!, { mode })
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return r as IncidentReport.IncidentReport
    }).pipe(Effect.provide(s.layer))

  const classOf = (r: IncidentReport.IncidentReport) => {
    const c = r.classification
    return c === undefined ? "none" : c._tag === "Classified" ? c.class : c._tag
  }
  const escalations = (m: ReadonlyArray<SinkMessage.SinkMessage>): ReadonlyArray<Escalation.Escalation> => m.flatMap((x) => (x.kind === "escalation" ? [x.escalation] : []))
  const served = () => Effect.map(Inspection.inspect({ ...endpointAddr, ca: roots() }), (i) => i.leaf)
  const lineageFiles = (configDir: string) => fs.readdirSync(path.join(configDir, "archive", servername)).sort()

  it.live("critical (5 days): certbot renews the lineage from the default Pebble; backed up, swapped, reloaded, verified; snapshots diffed", () =>
    withLineage((lineage) =>
      Effect.gen(function*() {
        const s = yield* setup(lineage, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
        const r = yield* run(s, "auto")
        assert.strictEqual(classOf(r), "certbot")
        assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
        assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["tls.renew", "applied"], ["tls.nginx.installCertificate", "applied"]])
        assert.strictEqual(s.calls.length, 1)
        assert.strictEqual(s.calls[0]!.name, servername)
        const facts = r.facts as Record<string, { _tag: string; value?: unknown }>
        assert.deepStrictEqual(facts["severity"], { _tag: "Known", value: "critical" })
        const checks = facts["checks"]!.value as ReadonlyArray<{ probe: string; ok: boolean }>
        assert.deepStrictEqual(checks.map((c) => [c.probe, c.ok]), [["names_resolve", true], ["caa", true]])
        const leaf = yield* served()
        assert.notStrictEqual(leaf.fingerprint256, lineage.served)
        assert.isAbove(leaf.notAfter, Date.now() + 30 * 86_400_000)
        // the report: pre and post snapshots and what changed between them
        const pm = r.postmortem as { pre: { served: { chain: Array<{ fingerprint256: string }> } }; post: { served: { chain: Array<{ fingerprint256: string }> } }; diff: Array<{ field: string; before: unknown; after: unknown }> }
        assert.strictEqual(pm.pre.served.chain[0]!.fingerprint256, lineage.served)
        assert.strictEqual(pm.post.served.chain[0]!.fingerprint256, leaf.fingerprint256)
        const fields = pm.diff.map((d) => d.field)
        for (const f of ["served.leaf", "served.notAfter", `file:${target.cert}`, `file:${target.key}`]) assert.include(fields, f)
        assert.notInclude(fields, `file:${server.conf}`, "the nginx configuration is unchanged")
        assert.notInclude(JSON.stringify(r), "PRIVATE KEY")
        assert.deepStrictEqual(escalations(yield* s.pager.messages), [])
        assert.deepStrictEqual(escalations(yield* s.ops.messages), [])
        assert.isAtLeast(fs.readdirSync(s.backups).length, 1)
      })), 180_000)

  for (const [label, extra, sink] of [
    ["critical → Pager", {}, "pager"],
    ["criticalDays 4: the 5-day certificate is a warning → OpsChannel", { criticalDays: 4 }, "ops"]
  ] as const) {
    it.live(`renewing against the short Pebble gives 5 days again: rolled back, escalated (${label})`, () =>
      withLineage((lineage) =>
        Effect.gen(function*() {
          const s = yield* setup(lineage, env.BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL ?? "", extra)
          const r = yield* run(s, "auto", sink === "ops" ? 14 : 7)
          assert.strictEqual(classOf(r), "certbot")
          assert.notStrictEqual(r.status, "recovered")
          assert.isDefined(r.escalation)
          assert.strictEqual(s.calls.length, 1)
          assert.deepInclude(r.outcomes.map((o) => [o.kind, o.status]), ["tls.nginx.restoreCertificate", "applied"])
          assert.strictEqual((yield* served()).fingerprint256, lineage.served, "the backup is served again")
          const failed = r.verdicts.flatMap((v) => ("checks" in v ? v.checks : [])).filter((c) => !c.ok).map((c) => c.name)
          assert.include(failed, "notAfter > now + 30 d")
          const toPager = escalations(yield* s.pager.messages)
          const toOps = escalations(yield* s.ops.messages)
          const [hit, miss] = sink === "pager" ? [toPager, toOps] : [toOps, toPager]
          assert.lengthOf(hit, 1)
          assert.strictEqual(hit[0]!.severity, sink === "pager" ? "critical" : "warning")
          assert.strictEqual(hit[0]!.incidentId, r.incidentId)
          assert.lengthOf(miss, 0)
        })), 180_000)
  }

  it.live("a name resolving elsewhere (names_resolve fails): escalated, no renewal, no file written", () =>
    withLineage((lineage) =>
      Effect.gen(function*() {
        const mgmt = env.BYTEPORT_TEST_CHALLTESTSRV_URL ?? ""
        const post = (p: string, body: unknown) => Effect.promise(() => fetch(`${mgmt}${p}`, { method: "POST", body: JSON.stringify(body) }))
        yield* post("/add-a", { host: servername, addresses: ["192.0.2.77"] })
        const s = yield* setup(lineage, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
        const archived = lineageFiles(lineage.configDir)
        const before = fs.readFileSync(target.cert)
        const r = yield* run(s, "auto").pipe(Effect.ensuring(post("/clear-a", { host: servername })))
        assert.strictEqual(classOf(r), "certbot")
        assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["escalate", "escalated"]])
        assert.match(r.escalation?.reason ?? "", /names_resolve: .*192\.0\.2\.77/)
        assert.strictEqual(s.calls.length, 0)
        assert.deepStrictEqual(lineageFiles(lineage.configDir), archived)
        assert.isTrue(fs.readFileSync(target.cert).equals(before))
        assert.deepStrictEqual(fs.readdirSync(s.backups), [])
        assert.lengthOf(escalations(yield* s.pager.messages), 1, "a critical certificate pages")
      })), 180_000)

  for (const mode of ["dry_run", "observe"] as const) {
    it.live(`${mode}: no ACME order (Pebble's log), no renewal, no file, nothing reloaded`, () =>
      withLineage((lineage) =>
        Effect.gen(function*() {
          const s = yield* setup(lineage, env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? "")
          const archived = lineageFiles(lineage.configDir)
          const before = fs.readFileSync(target.cert)
          const ordersBefore = orders()
          const r = yield* run(s, mode)
          assert.strictEqual(classOf(r), "certbot")
          assert.strictEqual(s.calls.length, 0)
          assert.strictEqual(orders(), ordersBefore)
          assert.deepStrictEqual(lineageFiles(lineage.configDir), archived)
          assert.deepStrictEqual(fs.readdirSync(s.backups), [])
          assert.isTrue(fs.readFileSync(target.cert).equals(before))
          assert.strictEqual((yield* served()).fingerprint256, lineage.served)
          assert.lengthOf(escalations(yield* s.pager.messages), 0, `${mode} never pages`)
        })), 120_000)
  }
})
