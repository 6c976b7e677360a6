/**
 * Where virtual time starts: at the wall clock unless a scenario (`start`) or the caller (`now`)
 * fixes it.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as KubeSim from "../../src/KubeSim"
import { DEFAULT_EPOCH_MS, VirtualClock } from "../../src/clock/VirtualClock"
import { type Sim, scenarioStartOptions, startSim } from "../../src/scenario/index"

const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()))
})
const sim = async (o: Parameters<typeof startSim>[0] = {}): Promise<Sim> => {
  const s = await startSim(o)
  open.push(s)
  return s
}

describe("virtual clock start", () => {
  it("a clock or simulator started without a fixed time is at the wall clock (to the second)", async () => {
    const before = Date.now()
    const c = new VirtualClock()
    const s = await sim()
    const after = Date.now()
    for (const t of [c.now(), s.now()]) {
      assert.isAtLeast(t, Math.floor(before / 1000) * 1000)
      assert.isAtMost(t, after)
      assert.strictEqual(t % 1000, 0)
    }
    // the store stamps the same clock
    const ns = s.api.store.list({ group: "", version: "v1", resource: "namespaces" } as never) as Array<{ metadata: { creationTimestamp: string } }>
    assert.isBelow(Math.abs(Date.parse(ns[0]!.metadata.creationTimestamp) - before), 2_000)
  })

  it("`now` fixes it", async () => {
    const s = await sim({ now: "2026-01-01T00:00:00Z" })
    assert.strictEqual(s.now(), DEFAULT_EPOCH_MS)
    s.advance("90s")
    assert.strictEqual(s.now(), DEFAULT_EPOCH_MS + 90_000)
  })

  it("a scenario's `start` fixes it", async () => {
    const s = await sim({ scenario: { start: "2025-06-01T12:00:00Z", nodes: 1 } })
    // applying the scenario may advance through its warm-up, never back to the wall clock
    assert.isAtLeast(s.now(), Date.UTC(2025, 5, 1, 12))
    assert.isBelow(s.now(), Date.UTC(2025, 5, 1, 13))
  })

  it("the command line's options (scenarioStartOptions) start at the wall clock too, with or without real time", async () => {
    for (const realtimeSpeed of [undefined, 1]) {
      const before = Math.floor(Date.now() / 1000) * 1000
      const api = await KubeSim.start({ ...scenarioStartOptions(undefined, realtimeSpeed === undefined ? {} : { realtimeSpeed }) })
      open.push(api)
      const res = await fetch(`${api.url}/_sim/clock`, { headers: { authorization: `Bearer ${(api as { token?: string }).token ?? ""}` } })
      const { now } = (await res.json()) as { now: string | number }
      const t = typeof now === "number" ? now : Date.parse(now)
      assert.isAtLeast(t, before)
      assert.isBelow(t, Date.now() + 1_000)
    }
  })
})
