/**
 * The never-rules of the renewers, property-tested: a wildcard never goes over http-01 (every
 * renewer refuses before any request: a counting directory server sees nothing, certbot and
 * acme.sh never run), and a name in no owned zone is never written (DnsZoneNotOwned before any
 * write, whatever the zones and the name). `describe` never talks to the CA.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Shell } from "@byteport/core/shell"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { AcmeClientRenewer, AcmeShRenewer, CertbotRenewer, DnsProvider, Renewer } from "../src/index"

const label = fc.stringMatching(/^[a-z0-9]{1,8}$/)
const domain = fc.array(label, { minLength: 2, maxLength: 4 }).map((ls) => ls.join("."))

/** A DnsProvider double over a fixed zone list that records every write. */
const recording = (zones: ReadonlyArray<string>) => {
  const writes: Array<string> = []
  const provider: DnsProvider.DnsProvider = {
    kind: "recording",
    listZones: Effect.succeed(zones.map((name, i) => ({ id: String(i), name }))),
    getTxt: () => Effect.succeed([]),
    addTxt: (_z, name, value) => Effect.sync(() => void writes.push(`add ${name} ${value}`)),
    removeTxt: (_z, name, value) => Effect.sync(() => void writes.push(`remove ${name} ${value}`))
  }
  return { provider, writes }
}

describe("never-rules", () => {
  it.live("property: a wildcard is never renewed over http-01 (no request, no process)", () =>
    Effect.gen(function*() {
      let requests = 0
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<http.Server>((resolve) => {
          const s = http.createServer((_req, res) => { requests++; res.writeHead(500).end() })
          s.listen(0, "127.0.0.1", () => resolve(s))
        })),
        (s) => Effect.promise(() => new Promise<void>((r) => s.close(() => r())))
      )
      const directoryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dir`
      const renewers = [
        AcmeClientRenewer.make(),
        CertbotRenewer.make({ certbot: "/nonexistent/certbot", configDir: "/nonexistent/c", workDir: "/nonexistent/w", logsDir: "/nonexistent/l" }),
        AcmeShRenewer.make({ acmeSh: "/nonexistent/acme.sh", home: "/nonexistent/h" })
      ] as const
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(domain, { maxLength: 3 }), domain, fc.nat({ max: 3 }), fc.boolean(), async (others, base, at, standalone) => {
            const domains = [...others]
            domains.splice(Math.min(at, domains.length), 0, `*.${base}`)
            const challenge: Renewer.Challenge = standalone ? { type: "http-01", mode: "standalone", port: 1 } : { type: "http-01", mode: "webroot", webroot: "/nonexistent" }
            const request: Renewer.RenewRequest = { domains, challenge, account: { directoryUrl } }
            assert.match(Renewer.refusal(request, ["http-01", "dns-01"]) ?? "", /wildcards never use http-01/)
            for (const r of renewers) {
              const exit = await Effect.runPromiseExit((r.renew(request) as Effect.Effect<Renewer.Renewed, Renewer.RenewError, Shell.Shell>).pipe(Effect.provide(Shell.layerLocal)))
              assert.isTrue(Exit.isFailure(exit))
              assert.match(JSON.stringify(exit), /"_tag":"RenewerMisconfigured".*wildcards never use http-01/, r.kind)
            }
          }),
          { numRuns: 40 }
        )
      )
      assert.strictEqual(requests, 0, "no request reached the directory")
      // describe talks to nobody either
      for (const r of renewers) r.describe({ domains: ["a.example.com"], challenge: { type: "http-01", mode: "webroot", webroot: "/srv" }, account: { directoryUrl } })
      assert.strictEqual(requests, 0)
    }))

  it.effect("property: a name in no owned zone is never written (upsert and delete)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(domain, { maxLength: 5 }), domain, fc.array(label, { maxLength: 2 }), fc.boolean(), async (zones, target, prefix, deleting) => {
          const name = ["_acme-challenge", ...prefix, target].join(".")
          const { provider, writes } = recording(zones)
          const owned = zones.some((z) => name === z || name.endsWith(`.${z}`))
          const op = deleting ? DnsProvider.deleteTxt(provider, name, "v") : Effect.asVoid(DnsProvider.upsertTxt(provider, name, "v"))
          const exit = await Effect.runPromiseExit(op)
          if (owned) return Exit.isSuccess(exit) && writes.length === 1
          // the near miss: `x<zone>` shares the suffix but not the label boundary
          return Exit.isFailure(exit) && JSON.stringify(exit).includes("DnsZoneNotOwned") && writes.length === 0
        }),
        { numRuns: 400 }
      )
    ))

  it.effect("an unreadable caBundle is a RenewerMisconfigured naming the path, before any request", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(AcmeClientRenewer.make().renew({
        domains: ["a.example.com"],
        challenge: { type: "http-01", mode: "webroot", webroot: "/srv" },
        account: { directoryUrl: "https://127.0.0.1:1/dir", caBundle: "/nonexistent/ca.pem" }
      }))
      assert.match(JSON.stringify(exit), /"_tag":"RenewerMisconfigured".*\/nonexistent\/ca\.pem/)
    }))

  it.live("request.timeoutMillis: a CA that never answers fails the renewal in time", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<http.Server>((resolve) => {
          const s = http.createServer(() => { /* never answers */ })
          s.listen(0, "127.0.0.1", () => resolve(s))
        })),
        (s) => Effect.promise(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()) }))
      )
      const started = Date.now()
      const exit = yield* Effect.exit(AcmeClientRenewer.make().renew({
        domains: ["a.example.com"],
        challenge: { type: "http-01", mode: "webroot", webroot: "/nonexistent" },
        account: { directoryUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dir` },
        timeoutMillis: 300
      }))
      assert.match(JSON.stringify(exit), /"_tag":"RenewFailed".*timed out after 300 ms/)
      assert.isBelow(Date.now() - started, 3_000)
    }))

  it.effect("notexample.com is not in example.com; a.example.com is", () =>
    Effect.gen(function*() {
      const { provider, writes } = recording(["example.com"])
      const exit = yield* Effect.exit(DnsProvider.upsertTxt(provider, "_acme-challenge.notexample.com", "v"))
      assert.match(JSON.stringify(exit), /DnsZoneNotOwned/)
      assert.deepStrictEqual(writes, [])
      yield* DnsProvider.upsertTxt(provider, "_acme-challenge.a.example.com", "v")
      assert.deepStrictEqual(writes, ["add _acme-challenge.a.example.com v"])
    }))
})
