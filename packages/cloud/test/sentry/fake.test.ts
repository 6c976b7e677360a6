/** The Sentry fake speaks Sentry's web API JSON to plain fetch; issues follow their events. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Crypto from "node:crypto"
import * as C from "./cases"
import * as H from "./harness"

const get = (url: string, token = "sntrys_test") =>
  Effect.promise(async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: (await res.json()) as unknown }
  })

describe("SentryFake", () => {
  it.effect("issues group events by fingerprint: firstSeen, lastSeen, count, firstRelease and lastRelease follow the events; the latest event has exception and breadcrumbs entries", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* get(`${fake.url}/api/0/organizations/acme/issues/1/`, "nope")).status, 401)
        const id = fake.capture({ project: H.PROJECT, release: "shop@1.4.0", ...C.upstream5xx.go })
        yield* TestClock.adjust("5 minutes")
        assert.strictEqual(fake.capture({ project: H.PROJECT, release: "shop@1.5.0", ...C.upstream5xx.go, times: 2 }), id)
        const issue = (yield* get(`${fake.url}/api/0/organizations/acme/issues/${id}/`)).body as Record<string, unknown>
        assert.strictEqual(issue["count"], "3")
        assert.strictEqual(issue["firstSeen"], new Date(H.T0 + 3_600_000).toISOString())
        assert.strictEqual(issue["lastSeen"], new Date(H.T0 + 3_900_000).toISOString())
        assert.strictEqual((issue["firstRelease"] as { version: string }).version, "shop@1.4.0")
        assert.strictEqual((issue["lastRelease"] as { version: string }).version, "shop@1.5.0")
        assert.deepStrictEqual(issue["project"], { id: "1000", slug: "shop", name: "shop" })
        const ev = (yield* get(`${fake.url}/api/0/organizations/acme/issues/${id}/events/latest/`)).body as Record<string, unknown>
        const entries = ev["entries"] as Array<{ type: string; data: { values: Array<Record<string, unknown>> } }>
        assert.deepStrictEqual(entries.map((e) => e.type), ["exception", "breadcrumbs"])
        assert.strictEqual((entries[0]!.data.values[0]!["stacktrace"] as { frames: Array<{ function: string }> }).frames[0]!.function, "Charge")
        assert.deepStrictEqual(entries[1]!.data.values[0]!["data"], { method: "POST", url: "https://payments.internal/v1/charge", status_code: 504 })
        const list = (yield* get(`${fake.url}/api/0/projects/acme/shop/issues/?query=is:unresolved&statsPeriod=24h`)).body as Array<Record<string, unknown>>
        assert.deepStrictEqual(list.map((i) => i["id"]), [id])
        const releases = (yield* get(`${fake.url}/api/0/projects/acme/shop/releases/`)).body as Array<Record<string, unknown>>
        assert.deepStrictEqual(releases.map((r) => r["version"]), ["shop@1.5.0", "shop@1.4.0"])
        const deploys = (yield* get(`${fake.url}/api/0/organizations/acme/releases/shop@1.4.0/deploys/`)).body as Array<Record<string, unknown>>
        assert.deepStrictEqual(deploys.map((d) => [d["environment"], d["dateFinished"]]), [["production", new Date(H.T0).toISOString()]])
        assert.strictEqual((yield* get(`${fake.url}/api/0/organizations/acme/releases/nope/deploys/`)).status, 404)
      })))

  it.effect("webhooks carry Sentry's headers; the signature is the hex HMAC-SHA256 of the raw body with the client secret", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const id = fake.capture({ project: H.PROJECT, ...C.novel })
        const d = fake.webhook(id, "issue", "s3cret")
        assert.strictEqual(d.headers["sentry-hook-resource"], "issue")
        assert.strictEqual(d.headers["sentry-hook-signature"], Crypto.createHmac("sha256", "s3cret").update(d.body).digest("hex"))
        const body = JSON.parse(d.body) as { action: string; data: { issue: { id: string } } }
        assert.strictEqual(body.action, "created")
        assert.strictEqual(body.data.issue.id, id)
        const a = JSON.parse(fake.webhook(id, "event_alert", "s3cret").body) as { action: string; data: { event: { issue_id: string } } }
        assert.deepStrictEqual([a.action, a.data.event.issue_id], ["triggered", id])
      })))
})
