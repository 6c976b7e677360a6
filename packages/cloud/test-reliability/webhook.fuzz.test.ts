/**
 * Fuzzing `deploy.webhook.rollback` from its recorded webhook payloads (issue 17 §1):
 * `test/webhook/fixtures/payloads/*.json` (GitHub workflow_run and deployment_status, Argo CD,
 * Flux, Spinnaker) are mutated (scripts/fuzz-harness.ts: mostly within the recorded shape — huge,
 * non-UTF-8 and binary strings, bad timestamps, overflowing numbers, flipped booleans, optional
 * fields dropped or null, free-form objects nested 5,000 deep, 100-fold lists; else dropped and
 * retyped fields, nulls, cut files) and run through the receiver's decode (`DeployEvents.decode`:
 * a typed `WebhookPayloadInvalid` or `WebhookPayloadIgnored`), then with the platform's recorded
 * source state and journal (`fixtures/<platform>.json`) through `WebhookRollback.classifier` →
 * `remediator` → `Plan.validate`. The seed is printed; BYTEPORT_FUZZ_SEED replays.
 */
import { Plan } from "@byteport/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertDepth, assertWithRegressions, encode, type Ended, judge, mutate, mutations, regressions, report, Tally, truncate } from "../../../scripts/fuzz-harness"
import { DeployEvents, WebhookRollback } from "../src/index"

const FIXTURES = path.join(import.meta.dirname, "../test/webhook/fixtures")

/** A delivery the receiver answers 400: not JSON, or not a deploy event of its platform. */
class WebhookPayloadInvalid extends Schema.TaggedError<WebhookPayloadInvalid>()("WebhookPayloadInvalid", { file: Schema.String, message: Schema.String }) {}
/** A delivery the receiver answers 202 and drops (not a failure: in progress, cancelled …). */
class WebhookPayloadIgnored extends Schema.TaggedError<WebhookPayloadIgnored>()("WebhookPayloadIgnored", { file: Schema.String, message: Schema.String }) {}

/** Each recorded payload, its platform's headers and the recording whose source state and journal it meets. */
const PAYLOADS = [
  { file: "github-workflow_run-failure.json", platform: "github" as const, headers: { "x-github-event": "workflow_run" }, recording: "github_workflow" },
  { file: "github-deployment_status-failure.json", platform: "github" as const, headers: { "x-github-event": "deployment_status" }, recording: "github_deployment" },
  { file: "argocd-on-sync-failed.json", platform: "argocd" as const, headers: {}, recording: "argocd" },
  { file: "flux-kustomization-error.json", platform: "flux" as const, headers: {}, recording: "flux" },
  { file: "spinnaker-orca-pipeline-failed.json", platform: "spinnaker" as const, headers: {}, recording: "spinnaker" }
].map((p) => ({
  ...p,
  json: JSON.parse(fs.readFileSync(path.join(FIXTURES, "payloads", p.file), "utf8")),
  rec: JSON.parse(fs.readFileSync(path.join(FIXTURES, `${p.recording}.json`), "utf8")) as WebhookRollback.Recording
}))

const classify = WebhookRollback.classifier()
const remediate = WebhookRollback.remediator()

const pipeline = (p: (typeof PAYLOADS)[number], bytes: Buffer): Effect.Effect<Ended, WebhookPayloadInvalid | WebhookPayloadIgnored> =>
  Effect.gen(function*() {
    const body = yield* Effect.try({ try: () => JSON.parse(bytes.toString("utf8")) as unknown, catch: () => new WebhookPayloadInvalid({ file: p.file, message: `${p.file}: not JSON` }) })
    const d = DeployEvents.decode(p.platform, p.headers, body)
    if (d._tag === "Invalid") return yield* new WebhookPayloadInvalid({ file: p.file, message: `${p.file}: ${d.reason}` })
    if (d._tag === "Ignored") return yield* new WebhookPayloadIgnored({ file: p.file, message: `${p.file}: ${d.reason}` })
    const e = d.event
    const rec: WebhookRollback.Recording = { ...p.rec, target: e.target, reported: { platform: e.platform, event: e.event, revision: e.revision, source: e.source, at: e.at, detail: e.detail, failureKey: e.failureKey } }
    const facts = WebhookRollback.factsOf(rec)
    const c = classify(facts)
    if (c._tag !== "Classified") return { classification: c, plan: null, actions: 0 }
    const plan = (yield* (remediate(c, facts, WebhookRollback.signalOf(rec)) as Effect.Effect<Plan.Plan>)) as Plan.Plan
    yield* Effect.orDie(Plan.validate(plan))
    return { classification: c, plan, actions: Plan.actions(plan.root).length }
  })

describe("fuzz: deploy.webhook.rollback from the recorded webhook payloads", () => {
  it("every mutation of a GitHub, Argo CD, Flux or Spinnaker payload ends typed, classified or escalated", { timeout: 600_000 }, () => {
    for (const p of PAYLOADS) expect(judge(`${p.file} unmutated`, () => pipeline(p, Buffer.from(JSON.stringify(p.json), "utf8")))._tag, p.file).toBe("Classified")
    const tally = new Tally()
    try {
      assertWithRegressions(regressions(import.meta.dirname, "deploy.webhook.rollback"), fc.record({ payload: fc.nat({ max: PAYLOADS.length - 1 }), mutations, truncate }), (k) => {
        const p = PAYLOADS[k.payload]!
        const bytes = encode(mutate(p.json, k.mutations), k.truncate)
        tally.add(judge(`${p.file} ${JSON.stringify(k.mutations).slice(0, 300)} truncate=${k.truncate}`, () => pipeline(p, bytes), bytes.length))
      })
    } finally {
      report("deploy.webhook.rollback", tally)
    }
    expect(tally.decoded).toBeGreaterThan(0)
    assertDepth("deploy.webhook.rollback", tally)
  })
})
