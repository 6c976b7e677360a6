/**
 * Node condition signals (a node informer, re-evaluated on a tick for durations): NotReady (Ready
 * False or Unknown for ≥ `notReadyForSeconds`, 60), MemoryPressure, DiskPressure and PIDPressure
 * (True). One signal per episode (a condition's lastTransitionTime); the target is the node
 * (`k8s.node`). MemoryPressure uses the OOM runbook's signal type, so the Catalog's precedence
 * decides who handles it.
 *
 * A node storm — more NotReady + unschedulable nodes than `maxUnavailableNodes` (10%, at least 1)
 * — is one signal, on the first unavailable node by name, with `unavailableNodes` in its
 * evidence, so it escalates once (the cordon's blast-radius guardrail denies it) instead of once
 * per node; several agents pick the same node, so its lease makes the others' duplicates. When
 * the storm ends, a node still NotReady or under pressure signals on its own.
 *
 * @since 0.2.0
 */
import type { V1Node } from "@kubernetes/client-node"
import { Detector, type Signal } from "@byteport/core"
import { Clock, Effect, Stream } from "effect"
import * as NodeGuards from "../guardrails/nodeGuards"
import * as K8sDetector from "../informers/K8sDetector"
import { nodes as nodesResource } from "../informers/Resource"
import { Kube } from "../Kube"
import * as Targets from "../targets/Targets"
import { SignalTypes } from "./signals"

/** The node signal types. */
export const NodeSignalTypes = {
  /** Ready False/Unknown for at least `notReadyForSeconds`. */
  notReady: "k8s.node.not_ready",
  /** MemoryPressure True (shared with k8s.oom.six-signal). */
  memoryPressure: SignalTypes.memoryPressure,
  /** DiskPressure True. */
  diskPressure: "k8s.node.disk_pressure",
  /** PIDPressure True. */
  pidPressure: "k8s.node.pid_pressure"
} as const

/** Options of the detector. */
export interface Options {
  readonly name?: string | undefined
  readonly labelSelector?: string | undefined
  /** NotReady must last this long (seconds, 60). */
  readonly notReadyForSeconds?: number | undefined
  /** How often durations are re-evaluated (seconds, 15). */
  readonly tickSeconds?: number | undefined
  /** Past this many unavailable nodes, one storm signal (default the guardrail's "10%"). */
  readonly maxUnavailableNodes?: number | `${number}%` | undefined
  /** Which conditions to signal (default all four). */
  readonly types?: ReadonlyArray<keyof typeof NodeSignalTypes> | undefined
}

/** One detection, before it becomes a Signal. */
export interface Detection {
  readonly type: string
  readonly node: string
  readonly condition: string
  readonly status: string
  readonly since: string | null
  readonly reason: string | null
  readonly key: string
  readonly unavailableNodes?: ReadonlyArray<string>
}

const CONDITION: Record<keyof typeof NodeSignalTypes, string> = { notReady: "Ready", memoryPressure: "MemoryPressure", diskPressure: "DiskPressure", pidPressure: "PIDPressure" }

const time = (t: unknown): number => (t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : NaN)
const iso = (t: unknown): string | null => (t instanceof Date ? t.toISOString() : typeof t === "string" ? t : null)

/**
 * The detections for a set of nodes at `now`, given the episode keys already emitted (updated in
 * place: keys of episodes that ended are dropped, so a new episode signals again). Pure.
 */
export const evaluate = (nodes: ReadonlyArray<V1Node>, now: number, emitted: Set<string>, o: Options = {}): ReadonlyArray<Detection> => {
  const minMs = (o.notReadyForSeconds ?? 60) * 1000
  const types = o.types ?? (Object.keys(NodeSignalTypes) as Array<keyof typeof NodeSignalTypes>)
  const sorted = [...nodes].sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""))
  const active: Array<Detection> = []
  for (const n of sorted) {
    const name = n.metadata?.name ?? ""
    for (const t of types) {
      const c = n.status?.conditions?.find((x) => x.type === CONDITION[t])
      if (!c) continue
      const on = t === "notReady" ? c.status !== "True" && now - time(c.lastTransitionTime) >= minMs : c.status === "True"
      if (!on) continue
      const since = iso(c.lastTransitionTime)
      active.push({ type: NodeSignalTypes[t], node: name, condition: CONDITION[t], status: c.status, since, reason: c.reason ?? null, key: `${name}|${t}|${since ?? ""}` })
    }
  }
  const live = new Set(active.map((d) => d.key))
  const unavailable = sorted.filter((n) => NodeGuards.unavailableReason(n) !== undefined).map((n) => n.metadata?.name ?? "")
  const storm = unavailable.length > NodeGuards.unavailableLimit(sorted.length, o.maxUnavailableNodes ?? NodeGuards.defaults.maxUnavailableNodes)
  const out: Array<Detection> = []
  if (storm) {
    const key = `storm|${unavailable.join(",")}`
    live.add(key)
    if (!emitted.has(key)) {
      const first = active.find((d) => d.node === unavailable[0] && d.type === NodeSignalTypes.notReady) ?? active.find((d) => d.node === unavailable[0])
      const base = first ?? { type: NodeSignalTypes.notReady, node: unavailable[0]!, condition: "Ready", status: "Unknown", since: null, reason: null, key }
      out.push({ ...base, key, unavailableNodes: unavailable })
      emitted.add(key)
    }
    // the per-node episodes are held back, not consumed: once the storm ends, a node still down signals on its own
  } else {
    for (const d of active) {
      if (emitted.has(d.key)) continue
      emitted.add(d.key)
      out.push(d)
    }
  }
  for (const k of [...emitted]) if (!live.has(k)) emitted.delete(k)
  return out
}

/** The detector. */
export const make = (o: Options = {}): Detector.Detector<never, Kube> => {
  const name = o.name ?? "k8s.node.conditions"
  return Detector.fromStream(
    name,
    Stream.unwrap(Effect.sync(() => {
      const seen = new Map<string, V1Node>()
      const emitted = new Set<string>()
      const events = K8sDetector.events<V1Node>({ name, resource: nodesResource, labelSelector: o.labelSelector }).pipe(
        Stream.map((e) => {
          const n = e.object.metadata?.name ?? ""
          if (e.type === "delete") seen.delete(n)
          else seen.set(n, e.object)
          return undefined
        })
      )
      const ticks = Stream.tick(`${o.tickSeconds ?? 15} seconds`).pipe(Stream.map(() => undefined))
      return Stream.merge(events, ticks).pipe(
        Stream.mapEffect(() =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const kube = yield* Kube
            return evaluate([...seen.values()], now, emitted, o).map((d): Signal.Signal => ({
              type: d.type,
              target: Targets.node({ cluster: kube.clusterName, name: d.node }),
              observedAt: now,
              source: name,
              evidence: {
                node: d.node,
                condition: d.condition,
                status: d.status,
                since: d.since,
                reason: d.reason,
                ...(d.unavailableNodes ? { unavailableNodes: [...d.unavailableNodes] } : {})
              }
            }))
          })
        ),
        Stream.flatMap((xs) => Stream.fromIterable(xs))
      )
    }))
  )
}
