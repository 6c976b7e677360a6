import { ApiException, KubeConfig } from "@kubernetes/client-node"
import { KubeSim } from "../../src/index"
import type { KubeSimInstance, StartOptions } from "../../src/index"

/** Starts a simulator and a KubeConfig for client-node pointing at it. */
export const startSim = async (options: StartOptions = {}): Promise<{ sim: KubeSimInstance; kc: KubeConfig }> => {
  const sim = await KubeSim.start({ seed: 42, ...options })
  const kc = new KubeConfig()
  kc.loadFromString(sim.kubeconfig())
  return { sim, kc }
}

/** Runs `f`, expects an ApiException, returns its code and parsed Status body. */
export const apiError = async (f: () => Promise<unknown>): Promise<{ code: number; body: any; headers: Record<string, string> }> => {
  try {
    await f()
  } catch (e) {
    if (e instanceof ApiException) {
      return { code: e.code, body: typeof e.body === "string" && e.body.length ? JSON.parse(e.body) : e.body, headers: e.headers as Record<string, string> }
    }
    throw e
  }
  throw new Error("expected an ApiException")
}

/** A minimal pod manifest. */
export const podManifest = (name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels },
  spec: {
    containers: [{ name: "app", image: "registry.local/app:1.0", env: [{ name: "A", value: "1" }, { name: "B", value: "2" }] }],
    ...extra
  }
})

const turn = (): Promise<void> => new Promise((r) => setTimeout(() => setImmediate(r), 0))

/**
 * Waits until `cond` holds (real time), polling every 10 ms. When the deadline has passed it
 * gives pending I/O one more turn and checks again before failing: after the process was
 * descheduled for a while, the poll timer and the server's own timers fire in one batch, and
 * the socket events they cause are only read on the next turn.
 */
export const until = async (cond: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> => {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) {
      await turn()
      await turn()
      if (cond()) return
      throw new Error(`timed out waiting for ${what}`)
    }
    await new Promise((r) => setTimeout(r, 10))
  }
}
