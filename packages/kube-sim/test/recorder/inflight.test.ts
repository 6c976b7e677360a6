/**
 * `Recorder.inFlight()`: the non-watch requests still waiting for their answer — what a test
 * harness checks before it advances virtual time — without copying the request log.
 */
import { assert, describe, it } from "@effect/vitest"
import { KubeSim } from "../../src/index"

describe("Recorder.inFlight", () => {
  it("counts a request while the server holds it, not watches, and drops it once answered", async () => {
    const sim = await KubeSim.start()
    try {
      assert.strictEqual(sim.recorder.inFlight(), 0)
      const slowList = sim.faults.latency({ method: "GET", verb: "list", resource: "pods", ms: 300, times: 1 })
      const watch = fetch(`${sim.url}/api/v1/namespaces/default/pods?watch=1`)
      const slow = fetch(`${sim.url}/api/v1/namespaces/default/pods`)
      let seen = 0
      for (let i = 0; i < 100 && seen === 0; i++) {
        await new Promise((r) => setTimeout(r, 5))
        seen = sim.recorder.inFlight()
      }
      assert.strictEqual(seen, 1, "the delayed list is in flight; the watch is not counted")
      assert.strictEqual((await slow).status, 200)
      assert.strictEqual(sim.recorder.inFlight(), 0)
      slowList.remove()
      ;(await watch).body?.cancel()
    } finally {
      await sim.close()
    }
  })
})
