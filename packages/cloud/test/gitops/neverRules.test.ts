/**
 * The never-rules of a rollback that stays rolled back, property-tested over random sequences of
 * what happens after an Argo CD freeze + rollback (time passes, the revert PR is opened, merged,
 * the unfreeze is tried): the unfreeze never runs before the revision Argo CD tracks contains the
 * revert (merged and refreshed); a refused unfreeze leaves the Application frozen; and the live
 * image never goes back to the bad revision.
 */
import fc from "fast-check"
import { afterEach, assert, it } from "vitest"
import { Exit } from "effect"
import * as ArgoCdFreeze from "../../src/actions/ArgoCdFreeze"
import * as ArgoCdRollback from "../../src/actions/ArgoCdRollback"
import * as GitWriter from "../../src/actions/GitWriter"
import * as R from "../../src/gitops/Resources"
import { ok, rig } from "./support"
import type { Rig } from "./support"
import { ARGO_INTERVAL, application, REPO, until } from "./world"

let current: Rig | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

type Step = "advance" | "pr" | "merge" | "unfreeze"

it("never unfreezes before the tracked revision contains the revert; never lets the bad revision back", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom<Step>("advance", "pr", "merge", "unfreeze"), { minLength: 1, maxLength: 7 }), async (steps) => {
      await current?.close()
      const r = (current = await rig())
      const inc = "inc-never"
      await r.w.create(R.Application, "argocd", application("shop"))
      await until(async () => (await r.w.image()) === "shop:1", "the first sync")
      const good = R.historyOf(await r.w.get(R.Application, "argocd", "shop"))[0]!.revision
      const bad = await r.w.release("shop:2")
      await r.w.advance(ARGO_INTERVAL)
      const freeze = ArgoCdFreeze.action({ app: "shop", shape: "enabled" }, { incidentId: inc, revert: { repo: REPO } })
      ok(await r.run(freeze, "auto", inc))
      ok(await r.run(ArgoCdRollback.action({ app: "shop", id: 0, revision: good }, { incidentId: inc }), "auto", inc))
      let prOpen = false
      let merged = false
      let refreshedAfterMerge = false
      let unfrozen = false
      for (const step of steps) {
        if (step === "advance") {
          await r.w.advance(ARGO_INTERVAL)
          if (merged) refreshedAfterMerge = true
        } else if (step === "pr" && !unfrozen) {
          ok(await r.run(GitWriter.action({ repo: REPO, branch: "main", bad, good, direct: false }, { incidentId: inc }), "auto", inc))
          prOpen = true
        } else if (step === "merge" && prOpen && !merged) {
          const res = await fetch(`${r.w.github.url}/repos/${REPO}/pulls/1/merge`, { method: "PUT", headers: { authorization: "token test-token" }, body: "{}" })
          assert.strictEqual(res.status, 200)
          merged = true
        } else if (step === "unfreeze") {
          const e = await r.run(freeze.undo!, "auto", inc)
          const app = await r.w.get(R.Application, "argocd", "shop")
          if (Exit.isSuccess(e)) {
            assert.isTrue(merged && refreshedAfterMerge, `unfroze after ${steps.join(",")} before the revert was tracked`)
            unfrozen = true
            await r.w.model.idle()
          } else {
            assert.isFalse(merged && refreshedAfterMerge && !unfrozen, `refused although the revert is tracked (${steps.join(",")})`)
            assert.isFalse(R.autoSyncOn(app), "a refused unfreeze leaves the app frozen")
            assert.strictEqual(R.obj(R.obj(app["metadata"])["annotations"])[R.FROZEN_BY], inc)
          }
        }
        assert.strictEqual(await r.w.image(), "shop:1", `the bad revision came back after ${steps.join(",")}`)
      }
    }),
    { numRuns: 6 }
  )
}, 120_000)
