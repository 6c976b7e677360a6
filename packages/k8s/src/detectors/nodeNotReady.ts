/**
 * Detect of k8s.node.not-ready: a node whose Ready condition is False or Unknown for at least
 * `notReadySeconds` (60, `BYTEPORT_NODE_NOT_READY_SECONDS`), measured from the condition's
 * `lastTransitionTime` (node informer; a tick re-checks nodes still waiting for their 60 s). Then,
 * through the node's Shell when one is provided, `systemctl is-active kubelet`,
 * `systemctl is-failed kubelet` and `journalctl -k` go into the evidence (`unknown` when the
 * command cannot run). One signal per NotReady episode: a node that is Ready again re-arms.
 *
 * @since 0.2.0
 */
import type { V1Node } from "@kubernetes/client-node"
import { Detector, type Signal } from "@byteport/core"
import { Clock, Duration, Effect, Stream } from "effect"
import { Kube } from "../Kube"
import * as K8sDetector from "../informers/K8sDetector"
import { nodes } from "../informers/Resource"
import { Systemctl } from "@byteport/core/shell"
import * as NodeHost from "../probes/nodeHost"
import * as Targets from "../targets/Targets"

/** The signal type. */
export const SIGNAL = "k8s.node.not_ready"

/** Options of the detector. */
export interface NotReadyDetectorOptions {
  readonly name?: string | undefined
  /** Ready False/Unknown at least this long (default 60 s). */
  readonly notReadySeconds?: number | undefined
  /** How often nodes still inside their grace are re-checked (default 5 s). */
  readonly tick?: Duration.Input | undefined
  readonly labelSelector?: string | undefined
  /** Timeout of each detection command (default 10 s). */
  readonly commandTimeout?: Duration.Input | undefined
}

const readyOf = (n: V1Node) => n.status?.conditions?.find((c) => c.type === "Ready")
const time = (v: unknown): number => (v instanceof Date ? v.getTime() : typeof v === "string" ? Date.parse(v) : NaN)

/** Whether a node has been NotReady (Ready False/Unknown) for at least `seconds` at `now`; the start of the episode otherwise undefined. */
export const notReadySince = (n: V1Node): number | undefined => {
  const r = readyOf(n)
  if (!r || r.status === "True") return undefined
  const t = time(r.lastTransitionTime)
  return Number.isFinite(t) ? t : undefined
}

/** The detection commands' evidence: kubelet is-active / is-failed and the kernel findings. */
export const hostEvidence = (node: string, timeout: Duration.Input = "10 seconds") =>
  Effect.gen(function*() {
    const shell = yield* NodeHost.resolveShell(node)
    if (shell._tag === "None") return { kubeletActive: "unknown", kubeletFailed: "unknown", kernel: "unknown", hostCommands: "no NodeShell" }
    const ans = (verb: string) =>
      shell.value.run(["systemctl", verb, "kubelet"], { env: { LC_ALL: "C" }, timeout }).pipe(
        Effect.flatMap((r) => (verb === "is-active" ? Systemctl.parseIsActive(r) : Systemctl.parseIsFailed(r))),
        Effect.map((a) => (a._tag === "Known" ? a.value.state : "unknown")),
        Effect.orElseSucceed(() => "unknown")
      )
    const kernel = yield* NodeHost.kernel(shell.value, { commandTimeout: timeout }).pipe(
      Effect.map((k) => k.hardwareErrors.length + k.panics.length + k.globalOom.length === 0 ? "clean" : `${k.hardwareErrors.length} hardware error(s), ${k.panics.length} panic(s), ${k.globalOom.length} global OOM(s)`),
      Effect.orElseSucceed(() => "unknown")
    )
    return { kubeletActive: yield* ans("is-active"), kubeletFailed: yield* ans("is-failed"), kernel, hostCommands: shell.value.name }
  })

/** The detector. */
export const make = (o: NotReadyDetectorOptions = {}): Detector.Detector<never, Kube> => {
  const name = o.name ?? "k8s.node.not-ready"
  const graceMs = (o.notReadySeconds ?? 60) * 1000
  return Detector.fromStream(
    name,
    Stream.unwrap(Effect.sync(() => {
      // node → the NotReady episode's start, and whether it was signalled
      const waiting = new Map<string, { readonly node: V1Node; readonly since: number }>()
      const signalled = new Set<string>()
      const emit = (n: V1Node, since: number): Effect.Effect<ReadonlyArray<Signal.Signal>, never, Kube> =>
        Effect.gen(function*() {
          const nodeName = n.metadata?.name ?? ""
          waiting.delete(nodeName)
          signalled.add(nodeName)
          const kube = yield* Kube
          const r = readyOf(n)
          const host = yield* hostEvidence(nodeName, o.commandTimeout)
          return [{
            type: SIGNAL,
            target: Targets.node({ cluster: kube.clusterName, name: nodeName }),
            observedAt: yield* Clock.currentTimeMillis,
            source: name,
            evidence: {
              node: nodeName,
              ready: r?.status ?? "Unknown",
              reason: r?.reason ?? null,
              message: r?.message ?? null,
              since: new Date(since).toISOString(),
              ...host
            }
          }]
        })
      const due = (now: number) =>
        Effect.gen(function*() {
          const out: Array<Signal.Signal> = []
          for (const [, w] of [...waiting]) if (now - w.since >= graceMs) out.push(...(yield* emit(w.node, w.since)))
          return out
        })
      const fromEvents = K8sDetector.events<V1Node>({ name, resource: nodes, labelSelector: o.labelSelector }).pipe(
        Stream.mapEffect((event) =>
          Effect.gen(function*() {
            const n = event.object
            const nodeName = n.metadata?.name ?? ""
            const since = event.type === "delete" ? undefined : notReadySince(n)
            if (since === undefined) {
              waiting.delete(nodeName)
              signalled.delete(nodeName)
              return [] as ReadonlyArray<Signal.Signal>
            }
            if (signalled.has(nodeName)) return []
            waiting.set(nodeName, { node: n, since })
            return yield* due(yield* Clock.currentTimeMillis)
          })
        )
      )
      const ticks = Stream.tick(o.tick ?? Duration.seconds(5)).pipe(Stream.mapEffect(() => Effect.flatMap(Clock.currentTimeMillis, due)))
      return Stream.merge(fromEvents, ticks).pipe(Stream.flatMap((xs) => Stream.fromIterable(xs)))
    }))
  )
}
