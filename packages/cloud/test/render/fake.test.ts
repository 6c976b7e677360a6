/** The Render fake speaks Render's API v1 shapes to plain fetch, and its app follows the live commit. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as H from "./harness"

const api = (url: string, path: string, init: { method?: string; body?: unknown; key?: string } = {}) =>
  Effect.promise(async () => {
    const res = await fetch(`${url}${path}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${init.key ?? "rnd_test"}`, ...(init.body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {})
    })
    const text = await res.text()
    return { status: res.status, body: text.length ? (JSON.parse(text) as unknown) : undefined }
  })

const health = (appUrl: string) => Effect.promise(async () => (await fetch(`${appUrl}/healthz`, { signal: AbortSignal.timeout(150) }).catch(() => ({ status: "timeout" as const }))).status)

describe("RenderFake", () => {
  it.effect("Bearer auth: a missing or unknown key is 401", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* api(fake.url, `/services/${H.SERVICE}`, { key: "nope" })).status, 401)
        const ok = yield* api(fake.url, `/services/${H.SERVICE}`)
        assert.strictEqual(ok.status, 200)
        const s = ok.body as Record<string, unknown>
        assert.strictEqual(s["autoDeploy"], "yes")
        assert.strictEqual(s["type"], "web_service")
        assert.strictEqual((s["serviceDetails"] as Record<string, unknown>)["url"], fake.appUrl)
      })))

  it.effect("deploys: newest first, [{ deploy, cursor }], cursor pagination; a build goes live after 60 s and deactivates the previous one", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        for (const [i, sha] of ["1", "2", "3"].entries()) {
          yield* TestClock.adjust("2 minutes")
          fake.push(H.SERVICE, sha.repeat(40), {}, `change ${i}`)
        }
        const page1 = (yield* api(fake.url, `/services/${H.SERVICE}/deploys?limit=2`)).body as Array<{ deploy: Record<string, unknown>; cursor: string }>
        assert.strictEqual(page1.length, 2)
        assert.deepStrictEqual(page1.map((p) => (p.deploy["commit"] as { id: string }).id), ["3".repeat(40), "2".repeat(40)])
        assert.strictEqual(page1[0]!.deploy["status"], "build_in_progress")
        assert.strictEqual(page1[0]!.deploy["finishedAt"], null)
        assert.strictEqual(page1[1]!.deploy["status"], "live")
        const page2 = (yield* api(fake.url, `/services/${H.SERVICE}/deploys?limit=2&cursor=${page1[1]!.cursor}`)).body as Array<{ deploy: Record<string, unknown> }>
        assert.deepStrictEqual(page2.map((p) => (p.deploy["commit"] as { id: string }).id), ["1".repeat(40), H.GOOD])
        assert.deepStrictEqual(page2.map((p) => p.deploy["status"]), ["deactivated", "deactivated"])
        yield* TestClock.adjust("60 seconds")
        assert.strictEqual(fake.liveCommit(H.SERVICE), "3".repeat(40))
        assert.strictEqual((yield* api(fake.url, `/services/${H.SERVICE}/deploys?limit=101`)).status, 400)
      })))

  it.effect("health, request counts and crash events follow the live commit; a rollback restores them", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* health(fake.appUrl), 200)
        const green = fake.deploys(H.SERVICE)[0]!["id"] as string
        yield* TestClock.adjust("5 minutes")
        yield* H.deployBad(fake, { health: "timeout", errorRate: 0.5, crash: { afterMs: 10_000, everyMs: 10_000 } })
        assert.strictEqual(yield* health(fake.appUrl), "timeout")
        yield* TestClock.adjust("60 seconds")
        const events = (yield* api(fake.url, `/services/${H.SERVICE}/events?limit=100`)).body as Array<{ event: { type: string; details: Record<string, unknown> } }>
        assert.strictEqual(events.filter((e) => e.event.type === "server_failed").length, 6)
        assert.deepStrictEqual(events.find((e) => e.event.type === "server_failed")!.event.details["reason"], { nonZeroExit: 1 })
        const rb = yield* api(fake.url, `/services/${H.SERVICE}/rollback`, { method: "POST", body: { deployId: green } })
        assert.strictEqual(rb.status, 201)
        assert.strictEqual((rb.body as Record<string, unknown>)["trigger"], "rollback")
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* health(fake.appUrl), 200)
        const end = new Date(H.T0 + 7 * 60_000 + 10_000).toISOString()
        const metrics = (yield* api(fake.url, `/metrics/http-requests?resource=${H.SERVICE}&startTime=${new Date(H.T0).toISOString()}&endTime=${end}&resolutionSeconds=60&aggregateHttpRequestsBy=statusCode`)).body as Array<{ labels: Array<{ value: string }>; values: Array<{ value: number }> }>
        const sum = (code: string) => metrics.find((m) => m.labels[0]!.value === code)!.values.reduce((a, v) => a + v.value, 0)
        // 600 rpm: 6 min good at 1 %, then 70 s bad at 50 % (the rollback went live at the window's end)
        assert.closeTo(sum("500"), 360 * 10 * 0.01 + 70 * 10 * 0.5, 0.001)
        assert.closeTo(sum("200") + sum("500"), 430 * 10, 0.001)
      })))

  it.effect("autoDeploy off: a push is not deployed; rollback to a deploy that never went live is 400; restart records an event", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const patched = yield* api(fake.url, `/services/${H.SERVICE}`, { method: "PATCH", body: { autoDeploy: "no" } })
        assert.strictEqual((patched.body as Record<string, unknown>)["autoDeploy"], "no")
        assert.strictEqual((yield* api(fake.url, `/services/${H.SERVICE}`, { method: "PATCH", body: { autoDeploy: false } })).status, 400)
        assert.isUndefined(fake.push(H.SERVICE, H.BAD, { health: "error" }))
        const d = (yield* api(fake.url, `/services/${H.SERVICE}/deploys`, { method: "POST", body: { commitId: H.BAD } })).body as Record<string, unknown>
        assert.strictEqual(d["trigger"], "api")
        assert.strictEqual((yield* api(fake.url, `/services/${H.SERVICE}/rollback`, { method: "POST", body: { deployId: d["id"] } })).status, 400)
        assert.strictEqual((yield* api(fake.url, `/services/${H.SERVICE}/deploys`, { method: "POST", body: { commitId: "f".repeat(40) } })).status, 400)
        assert.strictEqual((yield* api(fake.url, `/services/${H.SERVICE}/restart`, { method: "POST" })).status, 200)
        assert.strictEqual(fake.restarts(H.SERVICE).length, 1)
        const events = (yield* api(fake.url, `/services/${H.SERVICE}/events`)).body as Array<{ event: { type: string } }>
        assert.includeMembers(events.map((e) => e.event.type), ["server_restarted", "autodeploy_config_changed", "deploy_started", "deploy_ended"])
        assert.deepStrictEqual(fake.writes.map((w) => w.method), ["PATCH", "PATCH", "POST", "POST", "POST", "POST"])
      })))
})
