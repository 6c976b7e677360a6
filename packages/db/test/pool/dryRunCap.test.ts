/**
 * A dry_run plan says what auto would do (issue 9, item 8), on the real PostgreSQL: 30 sessions
 * idle in transaction under kills_per_minute_cap 20 — the dry_run previews 20 terminations and
 * marks the other 10 "auto would deny" in the posted plan; nothing is terminated, no budget is
 * spent; the same incident in auto then terminates exactly the 20 the preview allowed.
 */
import { GuardrailStore, Notifier, Runbook, SinkMessage, TargetRef } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { closeAll, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { alive, pgWorld, reportOf, runbook, signal, target, terminateAll } from "./world"

describeWithServices(["postgres"], "dry_run previews the kill cap (real PostgreSQL)", (env) => {
  afterEach(() => closeAll())

  it.live("30 idle-in-transaction sessions, cap 20: 20 previewed, 10 'auto would deny' in the posted plan, nothing killed or spent; auto agrees", () =>
    Effect.gen(function*() {
      const sessions = yield* Effect.promise(() => Promise.all(Array.from({ length: 30 }, () => openSession(env.BYTEPORT_TEST_PG_URL ?? "", uniqueName("dry-cap")))))
      yield* Effect.promise(() => Promise.all(sessions.map((s) => s.q("BEGIN; SELECT 1"))))
      yield* Effect.sleep("500 millis")
      const pids = sessions.map((s) => s.pid)
      const t = target("dry-cap")
      const rb = runbook(new Set(pids))
      const r = reportOf(yield* Runbook.handle(rb, signal(t), { mode: "dry_run" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_tx_backlog")
      const kills = r.outcomes.filter((o) => o.kind === "pg.terminateBackend")
      assert.strictEqual(kills.filter((o) => o.status === "dry_run").length, 20)
      const wouldDeny = kills.filter((o) => o.status === "denied")
      assert.strictEqual(wouldDeny.length, 10)
      for (const o of wouldDeny) assert.match(o.detail, /auto would deny: kills_per_minute_cap 20 reached/)
      // the posted plan shows them
      const rec = yield* (yield* Notifier.NotifierRecording).get
      const post = rec.plans.at(-1)!
      assert.strictEqual(post.decisions.filter((d) => d.reason?.startsWith("auto would deny")).length, 10)
      const text = SinkMessage.toMarkdown(SinkMessage.plan(post))
      assert.strictEqual((text.match(/auto would deny/g) ?? []).length, 10, text)
      // read-only: nothing terminated, no budget taken
      assert.strictEqual((yield* Effect.promise(() => alive(env, pids))).size, 30)
      const store = yield* GuardrailStore.GuardrailStore
      const now = yield* Clock.currentTimeMillis
      assert.strictEqual((yield* store.peekWindow(`db.kills:${TargetRef.key(t)}`, 60_000, now)).count, 0)
      // auto on the same sessions (a target of its own: the dry_run holds its target's cooldown) terminates exactly 20
      const t2 = target("dry-cap-auto")
      const auto = reportOf(yield* Runbook.handle(rb, signal(t2), { mode: "auto" }))
      assert.strictEqual(auto.outcomes.filter((o) => o.kind === "pg.terminateBackend" && o.status === "applied").length, 20)
      assert.strictEqual((yield* store.peekWindow(`db.kills:${TargetRef.key(t2)}`, 60_000, yield* Clock.currentTimeMillis)).count, 20)
      const left = yield* Effect.promise(() => alive(env, pids))
      assert.strictEqual(left.size, 10)
      yield* Effect.promise(() => terminateAll(env, pids))
    }).pipe(Effect.provide(pgWorld(env))), 60_000)
})
