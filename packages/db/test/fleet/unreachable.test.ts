/**
 * Fleet §3: the store unreachable. A real PostgreSQL behind a TCP proxy the test cuts: the agent
 * (auto, kube-sim as its cluster) starts no write step (fail closed), still observes (diagnosis
 * and classification in the report, observe mode unchanged) and its escalation says why —
 * `store unreachable: …` with no host, port, user, password or URL. When the proxy is restored
 * the next signal acts exactly once and the fleet budget counts exactly one unit.
 */
import { Guardrail, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Kube } from "@byteport/k8s"
import { afterAll, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as PgStore from "../../src/stores/PgStore"
import { describeWithServices } from "../support/services"
import { actedOn, actHandler, cutProxy, dropSchemas, fleetRunbook, freshSchema, seedCluster, signal, sim, windowCount, withPort } from "./support"

const HOUR = 3_600_000
const KIND = "test.fleet.replace-node"

describeWithServices(["postgres"], "fleet: store unreachable (real PostgreSQL behind a cut proxy)", (env) => {
  const url = env.BYTEPORT_TEST_PG_URL ?? ""
  const schema = freshSchema("down")
  afterAll(() => dropSchemas(url, [schema]))

  it.live("fail closed while cut: no step, observe continues, the escalation says why; restored: acts once, counted once", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => cutProxy(Number(new URL(url).port))), (p) => Effect.promise(() => p.close()))
      const proxied = withPort(url, proxy.port)
      const s = yield* sim(31)
      seedCluster(s, 2)
      const cap = Guardrail.rateLimit({ name: "fleet_node_replacements_per_hour", key: Guardrail.keys.perKind("fleet"), max: 1, window: "1 hour" })
      const runbook = fleetRunbook("test.fleet.down", KIND)
      const world = Testing.layer<Kube.Kube>({
        handlers: [actHandler(KIND, [cap])],
        store: PgStore.layer({ url: Redacted.make(proxied), schema, poolMax: 2, connectTimeoutMillis: 1_000, statementTimeoutMillis: 2_000 })
      }).pipe(Layer.provideMerge(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "10 seconds", clusterName: "eu-1" }))))

      yield* Effect.gen(function*() {
        const t0 = Date.now()
        proxy.cut()
        const down = (yield* Runbook.handle(runbook, signal("fleet.node", "node-1", t0))) as any
        assert.strictEqual(down.status, "escalated")
        assert.match(down.escalation.reason, /^store unreachable: \S+.*no step started \(fail closed\)$/)
        assert.strictEqual(down.classification?.class, "act", "observe continued: diagnosed and classified")
        assert.deepStrictEqual(down.outcomes, [], "no step started")
        const text = JSON.stringify(down)
        const u = new URL(proxied)
        for (const secret of [u.password, u.username, `:${proxy.port}`, `:${u.port}`, "postgres://", "127.0.0.1"]) {
          if (secret !== "") assert.notInclude(down.escalation.reason, secret)
        }
        assert.notInclude(text, u.password)
        assert.strictEqual(actedOn(s, "node", "node-1"), 0)
        // observe mode is unchanged by the outage: it reports what it saw
        const observed = (yield* Runbook.handle(runbook, signal("fleet.node", "node-2", t0), { mode: "observe" })) as any
        assert.strictEqual(observed.status, "observed")
        assert.strictEqual(observed.classification?.class, "act")

        proxy.restore()
        const up = (yield* Runbook.handle(runbook, signal("fleet.node", "node-1", t0 + 1))) as any
        assert.isTrue(up.outcomes.some((o: any) => o.kind === KIND && o.status === "applied"), JSON.stringify(up.outcomes))
        assert.strictEqual(actedOn(s, "node", "node-1"), 1)
        // the fleet budget holds one unit: the outage took none, a second node is denied
        const next = (yield* Runbook.handle(runbook, signal("fleet.node", "node-2", t0 + 2))) as any
        assert.isTrue(next.decisions.some((d: any) => d.decision === "deny" && d.guardrail === "fleet_node_replacements_per_hour"), JSON.stringify(next.decisions))
        assert.strictEqual(actedOn(s, "node", "node-2"), 0)
        assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, "fleet:" + KIND, HOUR)), 1)
      }).pipe(Effect.provide(world), Effect.provideService(TargetRef.Cluster, "eu-1"))
    })), 60_000)

  it.live("a connection lost around an acquire's COMMIT: the unit that landed is refunded on the next connection (counted once)", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => cutProxy(Number(new URL(url).port))), (p) => Effect.promise(() => p.close()))
      const store = yield* PgStore.make({ url: Redacted.make(withPort(url, proxy.port)), schema, poolMax: 1 })
      const key = `commit-${Date.now()}`
      const request = { key, max: 1, windowMs: HOUR, now: Date.now() }
      proxy.dropNextCommitAnswer()
      const lost = yield* Effect.flip(store.acquireWindow(request))
      assert.match(lost.message, /^store unreachable: /)
      assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, key, HOUR)), 1, "the unit landed although the caller saw a failure")
      // the caller never acted on it: the next operation refunds it, and the budget is whole again
      assert.strictEqual((yield* store.peekWindow(key, HOUR, Date.now())).count, 0)
      assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, key, HOUR)), 0)
      assert.strictEqual((yield* store.acquireWindow(request))._tag, "Acquired")
      assert.strictEqual((yield* store.acquireWindow(request))._tag, "Exhausted")
      assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, key, HOUR)), 1)
    })), 60_000)

  it.live("an agent whose budget acquire lost its COMMIT answer acts on nothing; the next incident acts once and the fleet counts one", () =>
    Effect.scoped(Effect.gen(function*() {
      const own = freshSchema("commit")
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => cutProxy(Number(new URL(url).port))), (p) => Effect.promise(() => p.close()))
      const s = yield* sim(37)
      seedCluster(s, 2)
      const cap = Guardrail.rateLimit({ name: "fleet_node_replacements_per_hour", key: Guardrail.keys.perKind("fleet"), max: 1, window: "1 hour" })
      const world = Testing.layer<Kube.Kube>({
        handlers: [actHandler(KIND, [cap])],
        store: PgStore.layer({ url: Redacted.make(withPort(url, proxy.port)), schema: own, poolMax: 2 })
      }).pipe(Layer.provideMerge(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "10 seconds", clusterName: "eu-1" }))))
      const runbook = fleetRunbook("test.fleet.commit", KIND)
      yield* Effect.gen(function*() {
        const t0 = Date.now()
        proxy.dropNextCommitAnswer(`INSERT INTO ${own}.windows`)
        const lost = (yield* Runbook.handle(runbook, signal("fleet.node", "node-1", t0))) as any
        assert.isFalse(lost.outcomes.some((o: any) => o.status === "applied"), JSON.stringify(lost.outcomes))
        assert.strictEqual(actedOn(s, "node", "node-1"), 0)
        const next = (yield* Runbook.handle(runbook, signal("fleet.node", "node-2", t0 + 1))) as any
        assert.isTrue(next.outcomes.some((o: any) => o.kind === KIND && o.status === "applied"), JSON.stringify(next))
        assert.strictEqual(actedOn(s, "node", "node-2"), 1)
        assert.strictEqual(yield* Effect.promise(() => windowCount(url, own, "fleet:" + KIND, HOUR)), 1, "one action, one unit")
      }).pipe(Effect.provide(world), Effect.provideService(TargetRef.Cluster, "eu-1"))
      yield* Effect.promise(() => dropSchemas(url, [own]))
    })), 60_000)
})
