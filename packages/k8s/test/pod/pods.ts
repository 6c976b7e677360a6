/** Pod builders for the pod-family unit tests (wire JSON as the API returns it). */
import type * as PodWire from "../../src/probes/podWire"

export const T0 = Date.parse("2026-01-01T00:00:00Z")
export const iso = (ms: number) => new Date(ms).toISOString()

type Status = NonNullable<PodWire.Pod["status"]>
type CS = PodWire.ContainerStatus

export const cs = (name: string, o: Partial<CS> = {}): CS => ({ name, restartCount: 0, ready: false, ...o })

export const pod = (o: { name?: string; uid?: string; node?: string; created?: number; status?: Status; spec?: Partial<PodWire.Pod["spec"]>; owner?: { kind: string; name: string } } = {}): PodWire.Pod => ({
  metadata: {
    name: o.name ?? "api-1",
    namespace: "default",
    uid: o.uid ?? "uid-1",
    creationTimestamp: iso(o.created ?? T0),
    ...(o.owner ? { ownerReferences: [{ ...o.owner, controller: true }] } : {})
  },
  spec: { containers: [{ name: "app", image: "registry.example.com/shop/api:1.0" }], ...(o.node ? { nodeName: o.node } : {}), ...o.spec },
  ...(o.status ? { status: o.status } : {})
})

export const waiting = (reason: string, message?: string): CS["state"] => ({ waiting: { reason, ...(message ? { message } : {}) } })
export const terminated = (exitCode: number, reason: string, finishedAt?: number): NonNullable<CS["state"]> => ({ terminated: { exitCode, reason, ...(finishedAt !== undefined ? { finishedAt: iso(finishedAt) } : {}) } })
