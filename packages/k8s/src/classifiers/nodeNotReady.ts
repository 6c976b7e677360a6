/**
 * The classifier of k8s.node.not-ready: the seed's first-match table, in the seed's order (never
 * sorted by confidence):
 *
 * 1. `hardware_cloud_failure` (0.94, always escalate): a global kernel OOM (not a memory-cgroup
 *    OOM), a machine check / `[Hardware Error]`, or a `Kernel panic` in the previous boot.
 * 2. `network_plugin_failure` (0.88): NetworkUnavailable True, or Ready's message says
 *    `NetworkReady=false`, plus CNI errors in the kubelet journal.
 * 3. `runtime_crash` (0.91): the containerd / CRI-O unit failed.
 * 4. `resource_pressure_disk` (0.90): DiskPressure, or disk ≥ 85% used, or inode_free ≤ 5%.
 * 5. `resource_pressure_mem_pid` (0.88): MemoryPressure or PIDPressure.
 * 6. `transient_kubelet_hang` (0.82): the kubelet unit is inactive but not failed and restarted
 *    ≤ 2 times (NRestarts).
 * 7. `unknown`: nothing matched (or a match below 0.70): escalate.
 *
 * A rule reached before any match that needs an Unknown fact (no NodeShell, a failed, refused
 * or timed-out command) makes the result Indeterminate: escalate, never a restart on a guess.
 *
 * @since 0.2.0
 */
import { Classification, Classifier, Settings } from "@byteport/core"
import { Config, Effect } from "effect"

/** A node condition as `kubectl describe node` shows it. */
export interface ConditionFacts {
  readonly status: string
  readonly reason: string | null
  readonly message: string | null
  readonly lastTransitionTime: string | null
}

/** `kubectl describe node`: conditions, allocatable vs capacity, taints, events. */
export interface NodeDescription {
  readonly name: string
  readonly resourceVersion: string
  /** `spec.providerID` (the cloud instance), null when unset. */
  readonly providerID: string | null
  readonly unschedulable: boolean
  /** A control-plane node (label `node-role.kubernetes.io/control-plane` or `…/master`). */
  readonly controlPlane: boolean
  /** The conditions by type (Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable …). */
  readonly conditions: Readonly<Record<string, ConditionFacts>>
  readonly memoryPressure: boolean
  readonly diskPressure: boolean
  readonly pidPressure: boolean
  readonly networkUnavailable: boolean
  /** Ready's message says `NetworkReady=false` (the runtime's network is not ready). */
  readonly networkReadyFalse: boolean
  readonly allocatable: Readonly<Record<string, string>>
  readonly capacity: Readonly<Record<string, string>>
  readonly taints: ReadonlyArray<{ readonly key: string; readonly effect: string; readonly value?: string | undefined }>
  /** The node's recent Events (newest last). */
  readonly events: ReadonlyArray<{ readonly type: string; readonly reason: string; readonly message: string; readonly at: string | null }>
}

/** A systemd unit (`systemctl is-active`, `is-failed`, `show -p LoadState,ActiveState,SubState,NRestarts,Result`). */
export interface UnitFacts {
  readonly unit: string
  /** LoadState is not `not-found`. */
  readonly present: boolean
  readonly activeState: string
  readonly subState: string | null
  /** `is-active` exited 0. */
  readonly active: boolean
  /** `is-failed` exited 0 (or ActiveState failed). */
  readonly failed: boolean
  /** NRestarts; null when systemd does not show it. */
  readonly restarts: number | null
  readonly result: string | null
}

/** The container runtime unit of the node. */
export interface RuntimeFacts {
  readonly name: "containerd" | "crio"
  readonly unit: UnitFacts
}

/** Kernel messages (`journalctl -k`, and `-b -1` for a panic in the previous boot). */
export interface KernelFacts {
  readonly globalOom: ReadonlyArray<string>
  readonly hardwareErrors: ReadonlyArray<string>
  readonly panics: ReadonlyArray<string>
}

/** `journalctl -u kubelet --since "30 min ago" -n 200`. */
export interface KubeletJournalFacts {
  readonly lines: number
  /** Lines naming a CNI / network plugin failure. */
  readonly cniErrors: ReadonlyArray<string>
  /** The last lines (for the bundle). */
  readonly tail: ReadonlyArray<string>
}

/** The fullest filesystem among the node's kubelet and image filesystems (`df -P -B1`). */
export interface DiskFacts {
  readonly mount: string
  readonly usedPercent: number
}

/** The filesystem with the fewest free inodes among the same (`df -P -i`). */
export interface InodeFacts {
  readonly mount: string
  readonly freePercent: number
}

/** `/proc/sys/fs/file-nr` (decimal strings: the values may exceed 2^53). */
export interface FileNrFacts {
  readonly allocated: string
  readonly max: string
  readonly usedRatio: number
}

/** `crictl images -o json`. */
export interface ImageFacts {
  readonly count: number
  readonly totalBytes: number
}

/** Everything the k8s.node.not-ready diagnoser learns. */
export interface NodeNotReadyFacts {
  readonly node: NodeDescription
  readonly kubelet: UnitFacts
  readonly kernel: KernelFacts
  readonly kubeletJournal: KubeletJournalFacts
  readonly runtime: RuntimeFacts
  readonly disk: DiskFacts
  readonly inodes: InodeFacts
  readonly fileNr: FileNrFacts
  readonly images: ImageFacts
}

/** The classes, in the seed's order. */
export const classes = [
  "hardware_cloud_failure",
  "network_plugin_failure",
  "runtime_crash",
  "resource_pressure_disk",
  "resource_pressure_mem_pid",
  "transient_kubelet_hang"
] as const

/** One of the classes. */
export type NodeNotReadyClass = (typeof classes)[number]

/** Thresholds of the rules (every number in the seed is a default). */
export interface NodeNotReadyThresholds {
  /** resource_pressure_disk at or above this used share, in percent. Default 85. */
  readonly diskUsedPercent: number
  /** resource_pressure_disk at or below this free-inode share, in percent. Default 5. */
  readonly inodeFreePercent: number
  /** transient_kubelet_hang: at most this many kubelet restarts (NRestarts). Default 2. */
  readonly maxKubeletRestarts: number
  /** Matches below are escalated. Default 0.70. */
  readonly minConfidence: number
  /** The seed's confidences, overridable per class. */
  readonly confidences: Readonly<Record<NodeNotReadyClass, number>>
}

/** The seed's defaults. */
export const defaults: NodeNotReadyThresholds = {
  diskUsedPercent: 85,
  inodeFreePercent: 5,
  maxKubeletRestarts: 2,
  minConfidence: 0.7,
  confidences: {
    hardware_cloud_failure: 0.94,
    network_plugin_failure: 0.88,
    runtime_crash: 0.91,
    resource_pressure_disk: 0.9,
    resource_pressure_mem_pid: 0.88,
    transient_kubelet_hang: 0.82
  }
}

const rule = Classifier.rule<NodeNotReadyFacts>()
const first = (xs: ReadonlyArray<string>) => xs.slice(0, 3)

/** The rules, in the seed's order. */
export const rules = (t: NodeNotReadyThresholds = defaults): ReadonlyArray<Classifier.Rule<NodeNotReadyFacts>> => [
  rule({
    class: "hardware_cloud_failure",
    confidence: t.confidences.hardware_cloud_failure,
    needs: ["kernel"],
    when: ({ kernel }) => {
      const matched = kernel.globalOom.length + kernel.hardwareErrors.length + kernel.panics.length > 0
      return {
        matched,
        reasons: matched
          ? [
            ...(kernel.hardwareErrors.length ? [`kernel reports ${kernel.hardwareErrors.length} hardware error(s): ${kernel.hardwareErrors[0]}`] : []),
            ...(kernel.panics.length ? [`kernel panic: ${kernel.panics[0]}`] : []),
            ...(kernel.globalOom.length ? [`global kernel OOM: ${kernel.globalOom[0]}`] : [])
          ]
          : [],
        evidence: matched ? { hardwareErrors: first(kernel.hardwareErrors), panics: first(kernel.panics), globalOom: first(kernel.globalOom) } : {}
      }
    }
  }),
  rule({
    class: "network_plugin_failure",
    confidence: t.confidences.network_plugin_failure,
    needs: ["node", "kubeletJournal"],
    when: ({ node, kubeletJournal }) => {
      const down = node.networkUnavailable || node.networkReadyFalse
      const matched = down && kubeletJournal.cniErrors.length > 0
      return {
        matched,
        reasons: matched
          ? [`${node.networkUnavailable ? "NetworkUnavailable is True" : "Ready says NetworkReady=false"} and the kubelet journal shows ${kubeletJournal.cniErrors.length} CNI error(s): ${kubeletJournal.cniErrors[0]}`]
          : [],
        evidence: matched ? { networkUnavailable: node.networkUnavailable, networkReadyFalse: node.networkReadyFalse, cniErrors: first(kubeletJournal.cniErrors) } : {}
      }
    }
  }),
  rule({
    class: "runtime_crash",
    confidence: t.confidences.runtime_crash,
    needs: ["runtime"],
    when: ({ runtime }) => {
      const matched = runtime.unit.present && runtime.unit.failed
      return {
        matched,
        reasons: matched ? [`${runtime.unit.unit} failed (ActiveState ${runtime.unit.activeState}, Result ${runtime.unit.result ?? "?"})`] : [],
        evidence: matched ? { runtime: runtime.name, activeState: runtime.unit.activeState, result: runtime.unit.result } : {}
      }
    }
  }),
  rule({
    class: "resource_pressure_disk",
    confidence: t.confidences.resource_pressure_disk,
    needs: ["node", "disk", "inodes"],
    when: ({ node, disk, inodes }) => {
      const full = disk.usedPercent >= t.diskUsedPercent
      const noInodes = inodes.freePercent <= t.inodeFreePercent
      const matched = node.diskPressure || full || noInodes
      return {
        matched,
        reasons: matched
          ? [
            ...(node.diskPressure ? ["DiskPressure is True"] : []),
            ...(full ? [`${disk.mount} is ${disk.usedPercent}% used (threshold ${t.diskUsedPercent}%)`] : []),
            ...(noInodes ? [`${inodes.mount} has ${inodes.freePercent}% inodes free (threshold ${t.inodeFreePercent}%)`] : [])
          ]
          : [],
        evidence: matched ? { diskPressure: node.diskPressure, diskUsedPercent: disk.usedPercent, inodeFreePercent: inodes.freePercent } : {}
      }
    }
  }),
  rule({
    class: "resource_pressure_mem_pid",
    confidence: t.confidences.resource_pressure_mem_pid,
    needs: ["node"],
    when: ({ node }) => {
      const matched = node.memoryPressure || node.pidPressure
      return {
        matched,
        reasons: matched ? [[node.memoryPressure ? "MemoryPressure is True" : "", node.pidPressure ? "PIDPressure is True" : ""].filter(Boolean).join(", ")] : [],
        evidence: matched ? { memoryPressure: node.memoryPressure, pidPressure: node.pidPressure } : {}
      }
    }
  }),
  rule({
    class: "transient_kubelet_hang",
    confidence: t.confidences.transient_kubelet_hang,
    needs: ["kubelet"],
    when: ({ kubelet }) => {
      const inactive = kubelet.present && !kubelet.active && !kubelet.failed && kubelet.activeState === "inactive"
      const few = kubelet.restarts !== null && kubelet.restarts <= t.maxKubeletRestarts
      const matched = inactive && few
      return {
        matched,
        reasons: matched ? [`kubelet is inactive, not failed, after ${kubelet.restarts} restart(s) (at most ${t.maxKubeletRestarts})`] : [],
        evidence: matched ? { activeState: kubelet.activeState, restarts: kubelet.restarts } : {}
      }
    }
  })
]

/** The k8s.node.not-ready classifier: no match is `unknown` (Unclassified → escalate). */
export const classify = (t: NodeNotReadyThresholds = defaults): Classifier.Classifier<NodeNotReadyFacts> => {
  const firstMatch = Classifier.firstMatch(rules(t), { minConfidence: t.minConfidence })
  return (facts) => {
    const c = firstMatch(facts)
    return c._tag === "Unclassified" ? Classification.unclassified(["unknown: no rule matched with confidence ≥ " + t.minConfidence.toFixed(2), ...c.reasons]) : c
  }
}

const prob = (key: string, dflt: number) => Settings.probability(key).pipe(Config.withDefault(dflt))
const pct = (key: string, dflt: number) => Settings.nonNegativeNumber(key).pipe(Config.withDefault(dflt))
const count = (key: string, dflt: number) => Settings.nonNegativeInt(key).pipe(Config.withDefault(dflt))

/**
 * The thresholds from configuration (every key optional, defaults from the seed):
 * `BYTEPORT_NODE_NOT_READY_DISK_USED_PERCENT` (85), `BYTEPORT_NODE_NOT_READY_INODE_FREE_PERCENT` (5),
 * `BYTEPORT_NODE_NOT_READY_MAX_KUBELET_RESTARTS` (2), `BYTEPORT_NODE_NOT_READY_MIN_CONFIDENCE` (0.70)
 * and one confidence per class, `BYTEPORT_NODE_NOT_READY_CONFIDENCE_<CLASS>` (e.g. `…_RUNTIME_CRASH`, 0.91).
 */
export const thresholdsConfig: Effect.Effect<NodeNotReadyThresholds, Config.ConfigError> = Effect.gen(function*() {
  const confidences = {} as Record<NodeNotReadyClass, number>
  for (const c of classes) confidences[c] = yield* prob(`BYTEPORT_NODE_NOT_READY_CONFIDENCE_${c.toUpperCase()}`, defaults.confidences[c])
  return {
    diskUsedPercent: yield* pct("BYTEPORT_NODE_NOT_READY_DISK_USED_PERCENT", defaults.diskUsedPercent),
    inodeFreePercent: yield* pct("BYTEPORT_NODE_NOT_READY_INODE_FREE_PERCENT", defaults.inodeFreePercent),
    maxKubeletRestarts: yield* count("BYTEPORT_NODE_NOT_READY_MAX_KUBELET_RESTARTS", defaults.maxKubeletRestarts),
    minConfidence: yield* prob("BYTEPORT_NODE_NOT_READY_MIN_CONFIDENCE", defaults.minConfidence),
    confidences
  }
})
