import { HandOffs, type IncidentReport, Runbook, type Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { Ec2, GcpCompute, NodeReplacement, VolumeGrow } from "@byteport/cloud"
import type { AwsComputeFake, GcpComputeFake } from "@byteport/cloud/testing"

export const GiB = 1024 ** 3

/** The official clients pointed at the fakes. */
export const clouds = (aws: AwsComputeFake.AwsComputeFake, gcp?: GcpComputeFake.GcpComputeFake) =>
  Layer.mergeAll(
    Ec2.layer({ region: "us-east-1", endpoint: aws.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: Redacted.make("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") } }),
    GcpCompute.layer({ baseUrl: gcp?.url ?? "http://127.0.0.1:9", token: Redacted.make("test-token") })
  )

/** The test layer: a store (memory unless given), the kinds' handlers over the fakes, config. */
export const layer = (
  aws: AwsComputeFake.AwsComputeFake,
  o: { readonly gcp?: GcpComputeFake.GcpComputeFake; readonly env?: Record<string, string>; readonly store?: Testing.LayerOptions<never>["store"] } = {}
) =>
  Testing.layer<Ec2.Ec2 | GcpCompute.GcpCompute>({ handlers: [...NodeReplacement.handlers(), ...VolumeGrow.handlers({ gcp: { pollEvery: "10 millis", pollUpTo: "5 seconds" } })], ...(o.store ? { store: o.store } : {}) }).pipe(
    Layer.provideMerge(clouds(aws, o.gcp)),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord(o.env ?? {})))
  )

/** A node replacement request as k8s.node.not-ready sends it. */
export const replacementRequest = (node: string, providerID: string | undefined): Signal.Signal =>
  Effect.runSync(
    HandOffs.signal(HandOffs.NodeReplacementRequested, {
      target: TargetRef.make("k8s.node", `prod/${node}`),
      evidence: { reason: "hardware_cloud_failure: MCE errors", cordoned: true, drained: true, ...(providerID !== undefined ? { providerID } : {}) },
      observedAt: Date.now(),
      source: "k8s.node.not-ready"
    })
  )

/** A volume grow request as host.disk.reclaim sends it. */
export const growRequest = (volumeId: string, capacityGiB: number, requestedGiB: number): Signal.Signal =>
  Effect.runSync(
    HandOffs.signal(HandOffs.VolumeGrowRequested, {
      target: TargetRef.make("host.volume", volumeId),
      evidence: { reason: "/var at 91% after every safe step", capacityBytes: capacityGiB * GiB, requestedBytes: requestedGiB * GiB, usedBytes: Math.round(capacityGiB * 0.91 * GiB) },
      observedAt: Date.now(),
      source: "host.disk.reclaim"
    })
  )

/** Handles one signal in a mode (no approvals expected). */
export const handle = <F, R>(rb: Runbook.Runbook<F, R>, signal: Signal.Signal, mode: "observe" | "dry_run" | "auto"): Effect.Effect<IncidentReport.IncidentReport, Runbook.MalformedSignal, R | Runbook.Services> =>
  Runbook.handle(rb, signal, { mode }).pipe(
    Effect.map((r) => {
      if (Runbook.isAwaitingApproval(r)) throw new Error("unexpected approval")
      return r as IncidentReport.IncidentReport
    })
  )

/** The class of a report. */
export const classOf = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : r.classification?._tag)
