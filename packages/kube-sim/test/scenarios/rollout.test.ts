import { afterEach, assert, describe, it } from "@effect/vitest"
import { Scenario } from "../../src/scenario/index"
import { harness, podsOf, prom, ready, type Harness } from "../controllers/helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

const byLabel = (body: any, label: string): Record<string, number> =>
  Object.fromEntries(body.data.result.map((r: any) => [r.metric[label], Number(r.value[1])]))

describe("rollout family", () => {
  it("5xx spike on the new revision, per revision in Prometheus; change-cause carries the commit", async () => {
    h = await harness({ scenario: { ...Scenario.cluster().with(Scenario.rollout.errorSpike({ name: "api" })).build(), runFor: "4m" } as any })
    const q = 'sum by (revision) (rate(http_requests_total{workload="api",code="500"}[5m])) / sum by (revision) (rate(http_requests_total{workload="api"}[5m]))'
    const r = await prom(h, q)
    assert.strictEqual(r.status, 200)
    assert.strictEqual(r.body.data.resultType, "vector")
    const ratio = byLabel(r.body, "revision")
    assert.approximately(ratio["2"]!, 0.25, 0.01)
    assert.approximately(ratio["1"]!, 0.002, 0.001)
    const d = await h.apps.readNamespacedDeployment({ name: "api", namespace: "default" })
    assert.strictEqual(d.metadata!.annotations!["kubernetes.io/change-cause"], "deploy api 1.5.0 (commit 5e5e5e5)")
    assert.isTrue((await podsOf(h, "api")).every(ready), "the pods are Ready: only the traffic shows the regression")
  })

  it("p95 latency regression (histogram_quantile over rate of buckets) per revision", async () => {
    h = await harness({ scenario: { ...Scenario.cluster().with(Scenario.rollout.latencyRegression({ name: "api", p95Seconds: 1.8 })).build(), runFor: "4m" } as any })
    const r = await prom(h, 'histogram_quantile(0.95, sum by (le, revision) (rate(http_request_duration_seconds_bucket{workload="api"}[5m])))')
    const p95 = byLabel(r.body, "revision")
    assert.isAbove(p95["2"]!, 1.2)
    assert.isBelow(p95["1"]!, 0.3)
  })

  it("canary SLO burn: the canary's error ratio against stable's", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.rollout.canarySloBurn({ name: "api" })).build() })
    h.sim.advance("6m")
    const r = await prom(h, 'sum by (track) (rate(http_requests_total{app="api",code="500"}[5m])) / sum by (track) (rate(http_requests_total{app="api"}[5m]))')
    const ratio = byLabel(r.body, "track")
    assert.approximately(ratio["canary"]!, 0.08, 0.005)
    assert.approximately(ratio["stable"]!, 0.001, 0.0005)
    const ep = await h.core.readNamespacedEndpoints({ name: "api", namespace: "default" })
    assert.strictEqual(ep.subsets![0]!.addresses!.length, 5, "the Service spans stable and canary")
  })

  it("rollout stuck: Recreate + never-ready revision leaves 0 ready pods and ProgressDeadlineExceeded", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.rollout.stuck({ name: "api" })).build() })
    h.sim.advance("4m")
    const d = await h.apps.readNamespacedDeployment({ name: "api", namespace: "default" })
    assert.isUndefined(d.status!.readyReplicas)
    assert.deepInclude(d.status!.conditions!.find((c) => c.type === "Progressing"), { status: "False", reason: "ProgressDeadlineExceeded" })
    assert.deepInclude(d.status!.conditions!.find((c) => c.type === "Available"), { status: "False", reason: "MinimumReplicasUnavailable" })
  })
})

describe("rollout family (false attribution)", () => {
  it("the regression and its Warning events predate the rollout by more than 5 minutes", async () => {
    h = await harness({ scenario: { ...Scenario.cluster().with(Scenario.rollout.falseAttribution({ name: "api" })).build(), runFor: "3m" } as any })
    const rss = (await h.apps.listNamespacedReplicaSet({ namespace: "default", labelSelector: "app=api" })).items
    const rolloutAt = rss.find((r) => r.metadata!.annotations!["deployment.kubernetes.io/revision"] === "2")!.metadata!.creationTimestamp!.getTime()
    const warnings = (await h.core.listNamespacedEvent({ namespace: "default", fieldSelector: "type=Warning" })).items
    const first = Math.min(...warnings.map((e) => e.firstTimestamp!.getTime()))
    assert.isAbove(rolloutAt - first, 5 * 60_000)
    assert.isTrue(warnings.some((e) => e.reason === "Unhealthy" && e.involvedObject.name!.startsWith("payments-") && e.message!.includes("context deadline exceeded")))
    const before = await prom(h, 'sum(rate(http_requests_total{workload="api",code="500"}[5m])) / sum(rate(http_requests_total{workload="api"}[5m]))', rolloutAt - 60_000)
    assert.approximately(Number(before.body.data.result[0].value[1]), 0.15, 0.01)
  })
})
