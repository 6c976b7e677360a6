/**
 * Fleet §1 and §4: three kube-sims (three clusters), three agents (in process, each with its own
 * PgStore pool, its own Kube and `TargetRef.Cluster`), ONE PostgreSQL schema.
 *
 * - A fleet-wide cap (node replacements per hour, keyed without the cluster) of N under twelve
 *   concurrent node signals across the clusters → exactly N nodes acted on, N units counted.
 * - A per-target budget (one restart per hour of `default/web`): the same namespace/name in each
 *   cluster is a different target → each cluster's Deployment acts exactly once, however many
 *   signals. The control without `TargetRef.Cluster` shows the collision it prevents.
 */
import { Guardrail, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Kube } from "@byteport/k8s"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { afterAll, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as PgStore from "../../src/stores/PgStore"
import { describeWithServices } from "../support/services"
import { actedOn, actHandler, dropSchemas, fleetRunbook, freshSchema, seedCluster, signal, sim, windowCount } from "./support"

const HOUR = 3_600_000
const REPLACE = "test.fleet.replace-node"
const RESTART = "test.fleet.restart"
const N = 4
const NODES = 4
const CLUSTERS = ["eu-1", "us-1", "ap-1"] as const

describeWithServices(["postgres"], "fleet: three clusters, three agents, one PgStore", (env) => {
  const url = env.BYTEPORT_TEST_PG_URL ?? ""
  const schemas: Array<string> = []
  afterAll(() => dropSchemas(url, schemas))

  const fleetCap = Guardrail.rateLimit({ name: "fleet_node_replacements_per_hour", key: Guardrail.keys.perKind("fleet"), max: N, window: "1 hour" })
  const restartPerTarget = Guardrail.rateLimit({ name: "restart_per_target_per_hour", key: Guardrail.keys.perTarget("restart"), max: 1, window: "1 hour" })
  const nodes = fleetRunbook("test.fleet.nodes", REPLACE)
  const web = fleetRunbook("test.fleet.web", RESTART)

  /** One agent: its cluster's kube-sim, its own pool on the shared schema, its cluster name (or none: the control). */
  const agent = (s: KubeSimInstance, cluster: string, schema: string, placed: boolean) => {
    const world = Testing.layer<Kube.Kube>({
      handlers: [actHandler(REPLACE, [fleetCap]), actHandler(RESTART, [restartPerTarget])],
      store: PgStore.layer({ url: Redacted.make(url), schema, poolMax: 3, applicationName: `byteport-fleet-${cluster}` })
    }).pipe(Layer.provideMerge(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "10 seconds", clusterName: cluster }))))
    return <A, E>(e: Effect.Effect<A, E, any>) =>
      e.pipe(Effect.provide(world), placed ? Effect.provideService(TargetRef.Cluster, cluster) : (x) => x) as Effect.Effect<A, E>
  }

  const clusters = Effect.forEach(CLUSTERS, (c, i) => Effect.map(sim(41 + i), (s) => {
    seedCluster(s, NODES)
    return { name: c, sim: s }
  }))

  it.live(`fleet-wide cap: ${NODES * CLUSTERS.length} concurrent node signals in 3 clusters → exactly ${N} replacements`, () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema("cap")
      schemas.push(schema)
      const cs = yield* clusters
      const t0 = Date.now()
      const reports = (yield* Effect.forEach(cs, (c) =>
        agent(c.sim, c.name, schema, true)(
          Effect.forEach(Array.from({ length: NODES }, (_, i) => `node-${i + 1}`), (n) => Runbook.handle(nodes, signal("fleet.node", n, t0)), { concurrency: "unbounded" })
        ), { concurrency: "unbounded" })).flat() as Array<any>
      const applied = reports.flatMap((r) => r.outcomes.filter((o: any) => o.kind === REPLACE && o.status === "applied"))
      assert.strictEqual(applied.length, N, JSON.stringify(reports.map((r) => [r.signal.target, r.status])))
      let acted = 0
      for (const c of cs) {
        for (let i = 1; i <= NODES; i++) {
          const n = actedOn(c.sim, "node", `node-${i}`)
          assert.isAtMost(n, 1)
          acted += n
        }
      }
      assert.strictEqual(acted, N, "exactly N nodes really written across the three clusters")
      assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, `fleet:${REPLACE}`, HOUR)), N)
      // every other incident was denied by the fleet cap, never by anything else
      const denied = reports.filter((r) => !r.outcomes.some((o: any) => o.status === "applied"))
      assert.strictEqual(denied.length, NODES * CLUSTERS.length - N)
      for (const r of denied) assert.isTrue(r.decisions.some((d: any) => d.decision === "deny" && d.guardrail === "fleet_node_replacements_per_hour"), JSON.stringify(r.decisions))
      // the incidents' targets carry their agent's cluster
      assert.deepStrictEqual([...new Set(reports.map((r) => r.signal.target.cluster))].sort(), [...CLUSTERS].sort())
    })), 120_000)

  for (const placed of [true, false]) {
    it.live(placed
      ? "per-target budgets stay per cluster: default/web in each of 3 clusters acts exactly once (3 signals each, at once)"
      : "control: agents that name no cluster share one per-target budget (only one cluster's default/web acts)", () =>
      Effect.scoped(Effect.gen(function*() {
        const schema = freshSchema(placed ? "tgt" : "ctl")
        schemas.push(schema)
        const cs = yield* clusters
        const t0 = Date.now()
        yield* Effect.forEach(cs, (c) =>
          agent(c.sim, c.name, schema, placed)(
            Effect.forEach([0, 1, 2], (i) => Runbook.handle(web, signal("fleet.deployment", "default/web", t0 + i)), { concurrency: "unbounded" })
          ), { concurrency: "unbounded" })
        // and once more each, in turn, after every lease is released: the budget alone decides
        yield* Effect.forEach(cs, (c) => agent(c.sim, c.name, schema, placed)(Runbook.handle(web, signal("fleet.deployment", "default/web", t0 + 10))))
        const acted = cs.map((c) => actedOn(c.sim, "deployment", "web"))
        if (placed) {
          assert.deepStrictEqual(acted, [1, 1, 1])
          for (const c of CLUSTERS) {
            assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, `restart:@${c}/fleet.deployment:default/web`, HOUR)), 1)
          }
        } else {
          assert.strictEqual(acted.reduce((a, b) => a + b, 0), 1)
          assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, "restart:fleet.deployment:default/web", HOUR)), 1)
        }
      })), 120_000)
  }
})
