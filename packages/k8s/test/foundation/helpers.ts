/**
 * Test helpers for the k8s foundation: a kube-sim on 127.0.0.1 per test (real client-node,
 * no mocks) and manifests.
 */
import { KubeSim, Keys } from "@byteport/kube-sim"
import type { KubeSimInstance, StartOptions } from "@byteport/kube-sim"
import { Effect, Layer } from "effect"
import * as Kube from "../../src/Kube"

/** Starts a simulator for the scope of the test; closed when the scope closes. */
export const sim = (options: StartOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => KubeSim.start({ seed: 7, ...options })),
    (s) => Effect.promise(() => s.close())
  )

/** The Kube layer for a simulator. */
export const kubeLayer = (s: KubeSimInstance): Layer.Layer<Kube.Kube> =>
  Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "10 seconds" }))

/** A Deployment manifest (`app=<name>`), created straight in the simulator's store. */
export const deployment = (namespace: string, name: string, extra: { replicas?: number; annotations?: Record<string, string> } = {}) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
  spec: {
    replicas: extra.replicas ?? 2,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: "app", image: "registry.local/app:1.0", resources: { limits: { memory: "256Mi" } } }] }
    }
  }
})

/** A bare Pod manifest. */
export const pod = (namespace: string, name: string, labels: Record<string, string> = {}, ownerReferences?: ReadonlyArray<unknown>) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, labels, ...(ownerReferences ? { ownerReferences } : {}) },
  spec: { containers: [{ name: "app", image: "registry.local/app:1.0" }] }
})

/** Creates an object in the simulator's store (bypassing HTTP, so it is not recorded). */
export const put = (s: KubeSimInstance, key: keyof typeof Keys | "jobs", obj: object) =>
  s.store.create(key === "jobs" ? { group: "batch", version: "v1", resource: "jobs" } : Keys[key], obj as never)

/** Waits (real time) until `cond` holds. */
export const until = (cond: () => boolean, timeoutMs = 15_000, what = "condition"): Effect.Effect<void> =>
  Effect.promise(async () => {
    const start = Date.now()
    while (!cond()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  })
