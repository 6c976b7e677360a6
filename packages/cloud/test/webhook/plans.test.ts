import { assert, describe, it } from "@effect/vitest"
import { Classification, type Guardrail, type Plan } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DeployWebhookRollback, WebhookRollback } from "@byteport/cloud"

const here = path.dirname(new URL(import.meta.url).pathname)
const load = (name: string): WebhookRollback.Recording => JSON.parse(fs.readFileSync(path.join(here, "fixtures", `${name}.json`), "utf8")) as WebhookRollback.Recording

const classify = WebhookRollback.classifier()
const remediate = WebhookRollback.remediator()

const planFor = (name: string) =>
  Effect.gen(function*() {
    const rec = load(name)
    const facts = WebhookRollback.factsOf(rec)
    const c = classify(facts)
    const plan = c._tag === "Classified" ? yield* remediate(c, facts, WebhookRollback.signalOf(rec)) : undefined
    return { rec, c, plan }
  })

const acts = (step: Plan.Step): ReadonlyArray<string> =>
  step._tag === "Act" ? [step.action.kind] : step._tag === "Seq" ? step.steps.flatMap(acts) : step._tag === "HandOff" ? [`handoff:${step.signal.type}${step.await !== undefined ? ":await" : ""}`] : step._tag === "Escalate" ? ["escalate"] : []

describe("deploy.webhook.rollback: golden plans per source", () => {
  const expected: ReadonlyArray<[string, string, ReadonlyArray<string>]> = [
    ["github_workflow", "github_workflow", ["github.dispatchWorkflow", "deploy.notifyAuthor"]],
    ["github_deployment", "github_deployment", ["github.dispatchWorkflow", "deploy.notifyAuthor"]],
    ["kubernetes", "kubernetes", ["handoff:deployment.regression:await", "deploy.notifyAuthor"]],
    ["argocd", "argocd", ["cloud.argocd.freeze", "cloud.argocd.rollback", "deploy.notifyAuthor"]],
    ["argocd_applicationset", "argocd", ["escalate"]],
    ["flux", "flux", ["cloud.flux.suspend", "handoff:deployment.regression:await", "deploy.notifyAuthor"]],
    ["spinnaker", "spinnaker", ["spinnaker.triggerPipeline", "deploy.notifyAuthor"]],
    ["near_miss_soak_9m59s", "flux", ["escalate"]],
    ["near_miss_soak_10m00s", "flux", ["cloud.flux.suspend", "handoff:deployment.regression:await", "deploy.notifyAuthor"]],
    ["near_miss_controller_9m59s", "argocd", ["escalate"]],
    ["near_miss_controller_10m00s", "argocd", ["cloud.argocd.freeze", "cloud.argocd.rollback", "deploy.notifyAuthor"]]
  ]
  for (const [name, cls, steps] of expected) {
    it.effect(`${name} → ${cls}: ${steps.join(", ")} (golden)`, () =>
      Effect.gen(function*() {
        const { c, plan } = yield* planFor(name)
        assert.strictEqual(Classification.className(c), cls)
        assert.deepStrictEqual(acts(plan!.root), steps)
        Testing.expectPlan(plan!, path.join(here, "golden", `${name}.plan.txt`))
      }))
  }

  it.effect("the rollback targets: journal first (github_workflow), the controller's previous entry otherwise (argocd history id 7, spinnaker)", () =>
    Effect.gen(function*() {
      const target = (name: string) => {
        const r = load(name)
        return WebhookRollback.chooseTarget({ reported: r.reported, source: r.source, journal: r.journal, readAt: r.readAt })
      }
      assert.deepStrictEqual([target("github_workflow")?.via, target("github_workflow")?.revision], ["journal", "9e1d9f1d2c6b8c4f1e0a7b3c5d2e4f6a8b0c1d2e"])
      assert.deepStrictEqual([target("argocd")?.via, target("argocd")?.historyId], ["controller", "7"])
      assert.deepStrictEqual([target("spinnaker")?.via, target("spinnaker")?.historyId], ["controller", "01JEQ1A2B3C4D5E6F7G8H9J0K1"])
      const { plan } = yield* planFor("github_workflow")
      const root = plan!.root
      if (root._tag !== "Seq" || root.steps[0]!._tag !== "Act") return assert.fail("expected a dispatch first")
      assert.deepStrictEqual(root.steps[0]!.action.params["inputs"], { triggered_by: "byteport-agent", failed_run_id: "30433642", revision: "9e1d9f1d2c6b8c4f1e0a7b3c5d2e4f6a8b0c1d2e" })
    }))

  it.effect("a forged or stale payload (the source says the run succeeded) is not classified: no plan, no rollback", () =>
    Effect.gen(function*() {
      const { c, plan } = yield* planFor("forged_run_succeeded")
      assert.strictEqual(c._tag, "Unclassified")
      assert.match(c._tag === "Unclassified" ? c.reasons[0]! : "", /does not confirm the failure .*forged or stale/)
      assert.isUndefined(plan)
    }))

  it("the source unreadable → Indeterminate (escalate, never act)", () => {
    const rec = load("spinnaker")
    const c = classify({ ...WebhookRollback.factsOf(rec), source: { _tag: "Unknown", probe: "source", reason: "Spinnaker Gate: no client provided" } })
    assert.strictEqual(c._tag, "Indeterminate")
  })

  const decide = (g: Guardrail.Guardrail<never>, plan: Plan.Plan) =>
    Effect.gen(function*() {
      const results: Array<string> = []
      const step = (s: Plan.Step): ReadonlyArray<Plan.Step> => (s._tag === "Seq" ? s.steps.flatMap(step) : [s])
      for (const s of step(plan.root)) {
        if (s._tag !== "Act") continue
        const r = yield* g.check({ action: s.action, signal: { type: "x", target: s.action.target, observedAt: 0, evidence: {} } } as unknown as Guardrail.GuardrailContext)
        results.push(`${s.action.kind}:${r._tag}`)
      }
      return results
    })

  it.effect("gate false_attribution: a newer deploy of the target than the failed one denies the rollback (not the notification)", () =>
    Effect.gen(function*() {
      const ok = yield* planFor("spinnaker")
      const stale = yield* planFor("false_attribution_newer_deploy")
      assert.deepStrictEqual(yield* decide(WebhookRollback.falseAttribution, ok.plan!), ["spinnaker.triggerPipeline:Pass", "deploy.notifyAuthor:Pass"])
      assert.deepStrictEqual(yield* decide(WebhookRollback.falseAttribution, stale.plan!), ["spinnaker.triggerPipeline:Deny", "deploy.notifyAuthor:Pass"])
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("gate deploy_in_progress: another execution running denies the rollback", () =>
    Effect.gen(function*() {
      const busy = yield* planFor("deploy_running")
      assert.deepStrictEqual(yield* decide(WebhookRollback.noDeployRunning, busy.plan!), ["spinnaker.triggerPipeline:Deny", "deploy.notifyAuthor:Pass"])
      const argo = yield* planFor("argocd")
      assert.deepStrictEqual(yield* decide(WebhookRollback.noDeployRunning, argo.plan!), ["cloud.argocd.freeze:Pass", "cloud.argocd.rollback:Pass", "deploy.notifyAuthor:Pass"])
    }).pipe(Effect.provide(Testing.layer())))

  it("the runbook: family deploy, precedence 10, default dry_run, the gates as guardrails", () => {
    const rb = DeployWebhookRollback.make()
    assert.deepStrictEqual([rb.family, rb.precedence, rb.defaultMode], ["deploy", 10, "dry_run"])
    assert.includeMembers(rb.guardrails.map((g) => g.name), ["false_attribution", "deploy_in_progress", "rollback_per_target_per_hour"])
  })
})
