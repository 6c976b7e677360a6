/** Builders of nodes and Pending pods (wire JSON) for the pull/pending unit and property tests. */
import type * as Fit from "../../src/probes/fit"

/** A node (Ready, 4 cpu, 8Gi unless told). */
export const node = (name: string, o: { mem?: string; cpu?: string; labels?: Record<string, string>; taints?: Array<any>; cordoned?: boolean; ready?: boolean } = {}): Fit.FitNode => ({
  metadata: { name, labels: { "kubernetes.io/hostname": name, ...o.labels } },
  spec: { ...(o.cordoned ? { unschedulable: true } : {}), ...(o.taints ? { taints: o.taints } : {}) },
  status: { allocatable: { cpu: o.cpu ?? "4", memory: o.mem ?? "8Gi", pods: "110" }, conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }] }
})

/** A Pending pod of ReplicaSet api-rs2. */
export const pendingPod = (o: { requests?: Record<string, string>; nodeSelector?: Record<string, string>; tolerations?: Array<any>; volumes?: Array<any>; nodeName?: string; env?: Array<any> } = {}) => ({
  metadata: { name: "api-1", namespace: "default", uid: "u1", ownerReferences: [{ kind: "ReplicaSet", name: "api-rs2", controller: true }] },
  spec: {
    containers: [{ name: "api", image: "registry.example.com/shop/api:1.4.2", resources: { requests: o.requests ?? { cpu: "100m", memory: "128Mi" } }, ...(o.env ? { env: o.env } : {}) }],
    ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
    ...(o.tolerations ? { tolerations: o.tolerations } : {}),
    ...(o.volumes ? { volumes: o.volumes } : {}),
    ...(o.nodeName ? { nodeName: o.nodeName } : {})
  },
  status: { phase: "Pending" }
})

