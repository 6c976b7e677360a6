/**
 * Records the fixtures of packages/cloud/fixtures/render/<class>/ from the Render fake, which
 * answers in Render's documented API v1 shapes (see that directory's README):
 * `npx tsx --conditions=@byteport/source packages/cloud/test/render/record-fixtures.ts`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { RenderFake } from "@byteport/cloud/testing"

const here = path.dirname(new URL(import.meta.url).pathname)
const root = path.join(here, "..", "..", "fixtures", "render")
let clock = Date.parse("2026-12-07T02:00:00.000Z")
const GOOD = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
const BAD = "deadbeef00112233445566778899aabbccddeeff"

type Case = {
  /** The class directory the fixture belongs to (the class it is, or the near miss of). */
  readonly dir: "error_rate_spike" | "health_check_failing" | "crash_loop"
  readonly behaviour: RenderFake.CommitBehaviour
  readonly trigger: "error_rate" | "health" | "crash_loop"
  /** ms after the bad deploy went live when the recording is taken */
  readonly at: number
  readonly rpm?: number
  readonly healthFailingSince?: number
  readonly newerPush?: boolean
  /** Failed builds (never live) pushed between the last green deploy and the suspect one. */
  readonly failedBuilds?: number
}

const crash = { crash: { afterMs: 20_000, everyMs: 30_000 } }
const cases: Record<string, Case> = {
  error_rate_spike: { dir: "error_rate_spike", behaviour: { errorRate: 0.2 }, trigger: "error_rate", at: 300_000 },
  near_miss_error_rate_4_9x: { dir: "error_rate_spike", behaviour: { errorRate: 0.049 }, trigger: "error_rate", at: 300_000 },
  over_error_rate_5_1x: { dir: "error_rate_spike", behaviour: { errorRate: 0.051 }, trigger: "error_rate", at: 300_000 },
  near_miss_too_few_requests: { dir: "error_rate_spike", behaviour: { errorRate: 0.5 }, trigger: "error_rate", at: 300_000, rpm: 10 },
  health_check_failing: { dir: "health_check_failing", behaviour: { health: "error" }, trigger: "health", at: 145_000, healthFailingSince: 15_000 },
  near_miss_unhealthy_119s: { dir: "health_check_failing", behaviour: { health: "error" }, trigger: "health", at: 134_000, healthFailingSince: 15_000 },
  over_unhealthy_121s: { dir: "health_check_failing", behaviour: { health: "error" }, trigger: "health", at: 136_000, healthFailingSince: 15_000 },
  crash_loop: { dir: "crash_loop", behaviour: crash, trigger: "crash_loop", at: 90_000 },
  near_miss_not_newest: { dir: "crash_loop", behaviour: crash, trigger: "crash_loop", at: 90_000, newerPush: true },
  last_green_5th_of_5: { dir: "crash_loop", behaviour: crash, trigger: "crash_loop", at: 90_000, failedBuilds: 3 },
  near_miss_last_green_6th: { dir: "crash_loop", behaviour: crash, trigger: "crash_loop", at: 90_000, failedBuilds: 4 }
}

const main = async () => {
  for (const [name, c] of Object.entries(cases)) {
    const fake = await RenderFake.start({ now: () => clock })
    const get = async (p: string) => (await fetch(`${fake.url}${p}`, { headers: { authorization: "Bearer rnd_test" } })).json() as Promise<unknown>
    fake.commit(GOOD, { errorRate: 0.01 }, "feat: checkout v2")
    const id = fake.addService({ name: "shop", id: "srv-shop0123456789abcdef", ...(c.rpm !== undefined ? { rpm: c.rpm } : {}) }, GOOD)
    clock += 600_000
    for (let i = 0; i < (c.failedBuilds ?? 0); i++) {
      fake.push(id, `badbuild${i}`.padEnd(40, "0"), { buildFails: true }, `wip ${i}`)
      clock += 120_000
    }
    const deployId = fake.push(id, BAD, c.behaviour, "feat: new pricing")!
    clock += 60_000
    const liveAt = clock
    clock += c.at
    if (c.newerPush) fake.push(id, "feedface00112233445566778899aabbccddeeff", {}, "fix: forward")
    const iso = (ms: number) => new Date(ms).toISOString()
    const metrics = (from: number, to: number) => get(`/metrics/http-requests?resource=${id}&startTime=${iso(from)}&endTime=${iso(to)}&resolutionSeconds=60&aggregateHttpRequestsBy=statusCode`)
    const probe = await fetch(`${fake.appUrl}/healthz`).then((r) => r.status)
    const rec = {
      signal: { serviceId: id, deployId, trigger: c.trigger, observedAt: clock, ...(c.healthFailingSince !== undefined ? { healthFailingSince: liveAt + c.healthFailingSince, healthFailingProbes: 9 } : {}) },
      now: clock,
      service: await get(`/services/${id}`),
      deploys: await get(`/services/${id}/deploys?limit=5`),
      metricsBefore: await metrics(liveAt - 300_000, liveAt),
      metricsAfter: await metrics(liveAt, Math.min(clock, liveAt + 300_000)),
      events: await get(`/services/${id}/events?limit=100&startTime=${iso(liveAt)}`),
      probe: { status: probe }
    }
    // the app's loopback URL differs per run: record a stable one
    ;(rec.service as { serviceDetails: { url: string } }).serviceDetails.url = "https://shop.onrender.com"
    fs.mkdirSync(path.join(root, c.dir), { recursive: true })
    fs.writeFileSync(path.join(root, c.dir, `${name}.json`), JSON.stringify(rec, null, 2) + "\n")
    await fake.close()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
