/**
 * kube-sim: a Kubernetes API simulator on 127.0.0.1 for testing with the real client-node and
 * kubectl. The API-server half: store, HTTP server, faults, recorder; controllers plug in
 * through `KubeSim.start({ install })`.
 */
export * as KubeSim from "./KubeSim"
export type { Disposable, InstallContext, Installer, KubeSim as KubeSimInstance, StartOptions } from "./KubeSim"
export * from "./store/index"
export * as Faults from "./faults/Faults"
export type { ErrorFault, FaultHandle, FaultMatch, LatencyFault } from "./faults/Faults"
export * as Recorder from "./recorder/Recorder"
export type { RecordedRequest, RequestFilter } from "./recorder/Recorder"
export type { ExtraRoute } from "./server/Server"
export * as Patch from "./server/patch"
export * as Status from "./server/status"
