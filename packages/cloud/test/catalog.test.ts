import { assert, describe, it } from "vitest"
import { Catalog } from "@byteport/core"
import { CloudCatalog, GitHubActions, WorkflowRuns } from "@byteport/cloud"

describe("CloudCatalog", () => {
  const catalog = CloudCatalog.make({ runbooks: { "deploy.github-actions": { repo: "acme/shop" } }, enable: [GitHubActions.ID] })
  it("deploy.github-actions is in the deploy family, enabled, and owns failed-run signals", () => {
    const e = catalog.entries.find((x) => x.runbook.id === GitHubActions.ID)!
    assert.strictEqual(e.runbook.family, "deploy")
    assert.isTrue(e.enabled)
    const signal = WorkflowRuns.signalOf("acme/shop", { id: 7, path: ".github/workflows/deploy.yml", head_branch: "main", conclusion: "failure", html_url: "u" }, "poll", 0)
    assert.strictEqual(Catalog.route(catalog, [signal])?.runbook.id, GitHubActions.ID)
  })
  it("disable turns it off; a runbook without its options is left out", () => {
    const off = CloudCatalog.make({ runbooks: { "deploy.github-actions": { repo: "acme/shop" } }, disable: [GitHubActions.ID] })
    assert.deepStrictEqual(Catalog.owners(off, WorkflowRuns.SIGNAL_TYPE), [])
    assert.deepStrictEqual(CloudCatalog.make().entries.map((e) => e.runbook.id), ["deploy.webhook.rollback"])
  })
  it("defaults: dry_run, rollbackEnabled off (the requireOptIn guardrail is the runbook's)", () => {
    const rb = GitHubActions.make({ repo: "acme/shop" })
    assert.strictEqual(rb.defaultMode, "dry_run")
    assert.include(rb.guardrails.map((g) => g.name), "opt_in(rollbackEnabled)")
  })
})
