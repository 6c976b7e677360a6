/**
 * The wire JSON of a Pod as the pod-family detectors and facts read it: `OomWire.Pod` plus init
 * containers, image IDs, scheduling gates, the nominated node and condition reasons, exactly as
 * `kubectl get pod -o json`, informers and the API return them (only the fields read are
 * declared). Decoding a malformed object fails naming the bad field's path.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Wire from "./wire"

const Str = Schema.String
const opt = Schema.optionalKey
const nullable = <S extends Schema.Top>(s: S) => Schema.optionalKey(Schema.NullOr(s))

/** A container of a pod spec (image, probes and env sources as well). */
export const Container = Wire.Container.mapFields((f) => ({
  ...f,
  command: opt(Schema.Array(Str)),
  args: opt(Schema.Array(Str)),
  envFrom: opt(Schema.Array(Schema.Unknown)),
  livenessProbe: opt(Schema.Unknown),
  readinessProbe: opt(Schema.Unknown),
  startupProbe: opt(Schema.Unknown)
}))

/** A container status with its image and image ID (the digest the runtime pulled). */
export const ContainerStatus = Wire.ContainerStatus.mapFields((f) => ({
  ...f,
  image: opt(Str),
  imageID: opt(Str),
  containerID: opt(Str),
  started: opt(Schema.Boolean)
}))

/** A pod condition with its reason and message (`PodScheduled=False/Unschedulable`). */
export const Condition = Schema.Struct({
  type: Str,
  status: Str,
  reason: opt(Str),
  message: nullable(Str),
  lastTransitionTime: nullable(Str)
})

/** A Pod (core/v1). */
export const Pod = Schema.Struct({
  metadata: Wire.ObjectMeta,
  spec: Schema.Struct({
    nodeName: opt(Str),
    containers: Schema.Array(Container),
    initContainers: opt(Schema.Array(Container)),
    schedulingGates: opt(Schema.Array(Schema.Struct({ name: Str }))),
    serviceAccountName: opt(Str),
    imagePullSecrets: opt(Schema.Array(Schema.Struct({ name: opt(Str) }))),
    restartPolicy: opt(Str)
  }),
  status: opt(Schema.Struct({
    phase: opt(Str),
    reason: opt(Str),
    message: nullable(Str),
    qosClass: opt(Str),
    nominatedNodeName: opt(Str),
    startTime: nullable(Str),
    containerStatuses: opt(Schema.Array(ContainerStatus)),
    initContainerStatuses: opt(Schema.Array(ContainerStatus)),
    conditions: opt(Schema.Array(Condition))
  }))
})

/** A Pod. */
export type Pod = typeof Pod.Type

/** A container status. */
export type ContainerStatus = typeof ContainerStatus.Type
