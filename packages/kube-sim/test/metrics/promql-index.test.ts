/**
 * Issue 17 §3: kube-sim's PromQL selects series through a label index and once per range query,
 * so a query about one pod does not scan every series at every step. The witness is the store's
 * `examined` counter (series handed out to selections), never a time.
 */
import { describe, expect, it } from "vitest"
import * as PromQL from "../../src/metrics/PromQL"
import { TimeSeriesDB } from "../../src/metrics/TimeSeries"

const T0 = Date.UTC(2026, 0, 1)
const PODS = 1_000

const build = () => {
  const db = new TimeSeriesDB()
  for (let i = 0; i < PODS; i++) {
    for (let s = 0; s < 40; s++) {
      const t = T0 + s * 15_000
      db.add({ __name__: "container_memory_working_set_bytes", namespace: i % 2 ? "shop" : "default", pod: `p-${i}`, container: "app" }, t, i * 1000 + s)
      db.add({ __name__: "kube_pod_container_status_restarts_total", namespace: "default", pod: `p-${i}`, container: "app" }, t, s)
    }
  }
  return db
}

describe("PromQL label index (issue 17 §3)", () => {
  it("a one-pod range query over 40 steps examines that pod's series once, not every series at every step", () => {
    const db = build()
    expect(db.size).toBe(2 * PODS)
    db.examined = 0
    const out = PromQL.queryRange(db, 'max_over_time(container_memory_working_set_bytes{namespace="shop",pod="p-7",container="app"}[2m])', T0 + 60_000, T0 + 39 * 15_000, 15_000)
    expect(out).toHaveLength(1)
    expect(out[0]!.metric).toEqual({ namespace: "shop", pod: "p-7", container: "app" })
    expect(out[0]!.points.length).toBe(36)
    expect(out[0]!.points.at(-1)).toEqual([T0 + 39 * 15_000, 7039])
    expect(db.examined).toBe(1)
  })

  it("instant queries use the index too; regex, != and empty-value matchers filter as before", () => {
    const db = build()
    db.examined = 0
    const one = PromQL.query(db, 'container_memory_working_set_bytes{pod="p-3"}', T0 + 39 * 15_000)
    expect(one.type === "vector" && one.samples.map((s) => s.value)).toEqual([3039])
    expect(db.examined).toBe(1)
    const re = PromQL.query(db, 'count(container_memory_working_set_bytes{pod=~"p-1.", namespace!="shop"})', T0 + 39 * 15_000)
    expect(re.type === "vector" && re.samples[0]!.value).toBe(5) // p-10, 12, 14, 16, 18
    const empty = PromQL.query(db, 'count(kube_pod_container_status_restarts_total{node=""})', T0 + 39 * 15_000)
    expect(empty.type === "vector" && empty.samples[0]!.value).toBe(PODS) // no node label: matches ""
    const none = PromQL.query(db, 'container_memory_working_set_bytes{pod="nope"}', T0 + 39 * 15_000)
    expect(none.type === "vector" && none.samples).toEqual([])
  })

  it("a late sample keeps the points in time order (the range lookup binary-searches them)", () => {
    const db = new TimeSeriesDB()
    const l = { __name__: "m", pod: "a" }
    db.add(l, T0, 1)
    db.add(l, T0 + 30_000, 3)
    db.add(l, T0 + 15_000, 2)
    const v = PromQL.query(db, "sum_over_time(m[1m])", T0 + 30_000)
    expect(v.type === "vector" && v.samples[0]!.value).toBe(6)
    const last = PromQL.query(db, 'm{pod="a"}', T0 + 20_000)
    expect(last.type === "vector" && last.samples[0]!.value).toBe(2)
  })
})
