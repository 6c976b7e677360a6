/**
 * Records the fixtures of test/sentry/fixtures from the Sentry fake (Sentry's web API JSON):
 * `node --conditions=@byteport/source --import tsx packages/cloud/test/sentry/record-fixtures.ts`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { SentryFake } from "@byteport/cloud/testing"
import * as C from "./cases"

const here = path.dirname(new URL(import.meta.url).pathname)
let clock = Date.parse("2026-12-07T02:00:00.000Z")

type Case = { readonly event: Omit<SentryFake.EventSpec, "project">; readonly capturedAt: number }
const cases: Record<string, Case> = {
  db_connection_python: { event: { release: "shop@1.4.0", ...C.dbConnection.python, times: 40 }, capturedAt: -7_200_000 },
  oom_java: { event: { release: "shop@1.4.0", ...C.oom.java, times: 3 }, capturedAt: -7_200_000 },
  deploy_correlation: { event: { release: "shop@1.5.0", ...C.regression, times: 12 }, capturedAt: 240_000 },
  near_miss_first_seen_before_deploy: { event: { release: "shop@1.5.0", ...C.regression, times: 12 }, capturedAt: -60_000 },
  upstream_5xx_go: { event: { release: "shop@1.4.0", ...C.upstream5xx.go, times: 5 }, capturedAt: -7_200_000 },
  unknown: { event: { release: "shop@1.4.0", ...C.novel }, capturedAt: -7_200_000 }
}

const main = async () => {
  for (const [name, c] of Object.entries(cases)) {
    const start = clock
    const fake = await SentryFake.start({ now: () => clock })
    const get = async (p: string) => (await fetch(`${fake.url}/api/0${p}`, { headers: { authorization: "Bearer sntrys_test" } })).json() as Promise<unknown>
    fake.release("shop", "shop@1.4.0")
    fake.deploy("shop@1.4.0")
    clock = start + 3 * 3_600_000
    fake.release("shop", "shop@1.5.0")
    const deployAt = start + 4 * 3_600_000
    let id = ""
    if (c.capturedAt < 0) {
      clock = deployAt + c.capturedAt
      id = fake.capture({ project: "shop", ...c.event })
      clock = deployAt
      fake.deploy("shop@1.5.0")
    } else {
      clock = deployAt
      fake.deploy("shop@1.5.0")
      clock = deployAt + c.capturedAt
      id = fake.capture({ project: "shop", ...c.event })
    }
    clock = deployAt + 600_000
    const issue = (await get(`/organizations/acme/issues/${id}/`)) as { firstRelease: { version: string } | null; permalink: string }
    issue.permalink = `https://acme.sentry.io/issues/${id}/`
    const rec = {
      org: "acme",
      issue,
      event: await get(`/organizations/acme/issues/${id}/events/latest/`),
      deploys: issue.firstRelease ? await get(`/organizations/acme/releases/${issue.firstRelease.version}/deploys/`) : [],
      releases: await get(`/projects/acme/shop/releases/`)
    }
    fs.writeFileSync(path.join(here, "fixtures", `${name}.json`), JSON.stringify(rec, null, 2) + "\n")
    await fake.close()
    clock = start + 86_400_000
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
