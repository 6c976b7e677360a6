import { assert, describe, it } from "vitest"
import { Catalog, HandOffs } from "@byteport/core"
import { CloudCatalog, RenderDeploys, RenderRestart, RenderRollbackRunbook } from "@byteport/cloud"

describe("CloudCatalog: the Render runbooks", () => {
  const runbooks = { "deploy.github-actions": { repo: "acme/shop" }, "deploy.render.rollback": { services: ["srv-a"] }, "cloud.handoff.render-restart": {} }
  it("deploy.render.rollback: family deploy, off by default (the family's default is another), on with enable", () => {
    const off = CloudCatalog.make({ runbooks })
    const e = off.entries.find((x) => x.runbook.id === RenderRollbackRunbook.ID)!
    assert.strictEqual(e.runbook.family, "deploy")
    assert.isFalse(e.enabled)
    const signal = RenderDeploys.signalOf("srv-a", "dep-1", "health", 0)
    assert.isUndefined(Catalog.route(off, [signal]))
    const on = CloudCatalog.make({ runbooks, enable: [RenderRollbackRunbook.ID] })
    assert.strictEqual(Catalog.route(on, [signal])?.runbook.id, RenderRollbackRunbook.ID)
    assert.strictEqual(RenderRollbackRunbook.make({ services: ["srv-a"] }).defaultMode, "dry_run")
  })
  it("the Render restarter owns core's rollout-restart hand-off in the cloud catalog", () => {
    const c = CloudCatalog.make({ runbooks })
    assert.strictEqual(Catalog.route(c, [RenderRestart.request("srv-a", { observedAt: 0 })])?.runbook.id, RenderRestart.ID)
    assert.deepStrictEqual(Catalog.owners(c, HandOffs.RolloutRestartRequested.type).map((r) => r.id), [RenderRestart.ID])
  })
})
