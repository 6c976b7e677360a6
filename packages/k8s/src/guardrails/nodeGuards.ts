/**
 * The guardrails of the node action kinds (`k8s.cordonNode`, `k8s.drainNode`,
 * `k8s.uncordonNode`, `k8s.requestNodeReplacement`). They belong to the action kinds, so every
 * runbook that cordons a node (k8s.node.pressure-drain, k8s.node.not-ready, k8s.oom.six-signal's
 * node_pressure) and every hand-off gets them:
 *
 * - `cordonSlots`: at most `maxCordonedNodes` (1) nodes cordoned by BytePort per cluster, atomic
 *   in the GuardrailStore (compare-and-swap), so two runbooks or two agents never hold more. A
 *   slot is held from the cordon until the node is no longer cordoned by that incident (the
 *   uncordon, or a human uncordoning it); a node that never recovers keeps its slot.
 * - `unavailableNodes`: if the NotReady + unschedulable nodes (anyone's) would exceed
 *   `maxUnavailableNodes` (10%, at least 1) after the cordon, nothing is touched and the denial
 *   names them (core `Guardrail.blastRadius`).
 * - `neverControlPlane`: never a control-plane node (`node-role.kubernetes.io/control-plane` or
 *   `…/master` label, or the control-plane taint).
 * - `notCordonedByOthers`: a node someone else cordoned is never annotated or adopted.
 * - `neverUndoOthersCordon`: an uncordon only of a node this incident cordoned (annotation
 *   `byteport.io/cordoned-by: <incident>` and `spec.unschedulable` unchanged).
 *
 * @since 0.2.0
 */
import type { V1Node } from "@kubernetes/client-node"
import { Guardrail, GuardrailStore, Settings } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Config, ConfigProvider, Effect } from "effect"
import { Kube } from "../Kube"

/** The annotation BytePort puts on a node it cordons: the incident id. */
export const CORDONED_BY = "byteport.io/cordoned-by"

/** The labels that mark a control-plane node. */
export const CONTROL_PLANE_LABELS: ReadonlyArray<string> = ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"]

/** Settings of the node guardrails (every number is a default). */
export interface NodeGuardSettings {
  /** BytePort cordons per cluster at once (`BYTEPORT_MAX_CORDONED_NODES`, 1). */
  readonly maxCordonedNodes: number
  /** NotReady + unschedulable nodes allowed after a cordon: a count or a share of the nodes, at least 1 (`BYTEPORT_MAX_UNAVAILABLE_NODES`, "10%"). */
  readonly maxUnavailableNodes: number | `${number}%`
  /** A node must be Ready and pressure-free this long before BytePort uncordons it (`BYTEPORT_NODE_HEALTHY_DELAY_SECONDS`, 300). */
  readonly healthyDelaySeconds: number
  /** Not recovered after this long: the node stays cordoned and the incident escalates (`BYTEPORT_NODE_RECOVERY_TIMEOUT_SECONDS`, 1800). */
  readonly recoveryTimeoutSeconds: number
  /** How often the uncordon looks at the node while it waits (seconds, 15). */
  readonly pollSeconds: number
  /** A slot whose cordon is not (yet) on the node is kept this long (an in-flight cordon), seconds (120). */
  readonly slotGraceSeconds: number
}

/** The defaults. */
export const defaults: NodeGuardSettings = {
  maxCordonedNodes: 1,
  maxUnavailableNodes: "10%",
  healthyDelaySeconds: 300,
  recoveryTimeoutSeconds: 1800,
  pollSeconds: 15,
  slotGraceSeconds: 120
}

/** Parses `maxUnavailableNodes`: a count ≥ 1 or a percentage in (0%, 100%]; undefined otherwise. */
export const parseMaxUnavailable = (raw: string): number | `${number}%` | undefined => {
  const s = raw.trim()
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s)
  if (pct) return Number(pct[1]) > 0 && Number(pct[1]) <= 100 ? (`${Number(pct[1])}%` as `${number}%`) : undefined
  return /^\d+$/.test(s) && Number(s) >= 1 ? Number(s) : undefined
}

const configError = (message: string) => new Config.ConfigError(new ConfigProvider.SourceError({ message }))

/**
 * The settings from configuration: `BYTEPORT_MAX_CORDONED_NODES`, `BYTEPORT_MAX_UNAVAILABLE_NODES`
 * (a count or a percentage), `BYTEPORT_NODE_HEALTHY_DELAY_SECONDS`,
 * `BYTEPORT_NODE_RECOVERY_TIMEOUT_SECONDS`; an invalid value is a ConfigError at startup.
 */
export const fromConfig: Effect.Effect<NodeGuardSettings, Config.ConfigError> = Effect.gen(function*() {
  return {
    ...defaults,
    maxCordonedNodes: yield* Settings.positiveInt("BYTEPORT_MAX_CORDONED_NODES").pipe(Config.withDefault(defaults.maxCordonedNodes)),
    maxUnavailableNodes: yield* Effect.flatMap(Config.option(Config.String("BYTEPORT_MAX_UNAVAILABLE_NODES")), (o) => {
      if (o._tag === "None") return Effect.succeed(defaults.maxUnavailableNodes)
      const v = parseMaxUnavailable(o.value)
      return v === undefined
        ? Effect.fail(configError(`BYTEPORT_MAX_UNAVAILABLE_NODES must be a count ≥ 1 or a percentage in (0%, 100%], got ${JSON.stringify(o.value)}`))
        : Effect.succeed(v)
    }),
    healthyDelaySeconds: yield* Settings.positiveNumber("BYTEPORT_NODE_HEALTHY_DELAY_SECONDS").pipe(Config.withDefault(defaults.healthyDelaySeconds)),
    recoveryTimeoutSeconds: yield* Settings.positiveNumber("BYTEPORT_NODE_RECOVERY_TIMEOUT_SECONDS").pipe(Config.withDefault(defaults.recoveryTimeoutSeconds))
  }
})

// ---------------------------------------------------------------------------------------------
// Pure node predicates

/** The status of a node condition ("True", "False", "Unknown"), undefined when absent. */
export const condition = (node: V1Node, type: string): string | undefined => {
  // read as the wire may hold it: a retyped list or status reads as absent, never throws
  const conditions: unknown = node.status?.conditions
  const status: unknown = Array.isArray(conditions) ? conditions.find((c) => c?.type === type)?.status : undefined
  return typeof status === "string" ? status : undefined
}

/** Whether the node reports Ready=True. */
export const isReady = (node: V1Node): boolean => condition(node, "Ready") === "True"

/** Whether the node is cordoned (`spec.unschedulable`). */
export const isCordoned = (node: V1Node): boolean => node.spec?.unschedulable === true

/** The incident that cordoned the node, from `byteport.io/cordoned-by`. */
export const cordonedBy = (node: V1Node): string | undefined => node.metadata?.annotations?.[CORDONED_BY]

/** Whether `incident` still owns the node's cordon: annotated by it and still unschedulable. */
export const ownedBy = (node: V1Node, incident: string): boolean => isCordoned(node) && cordonedBy(node) === incident

/** Whether the node is a control-plane node (label or taint). */
export const isControlPlane = (node: V1Node, labels: ReadonlyArray<string> = CONTROL_PLANE_LABELS): boolean =>
  labels.some((l) => node.metadata?.labels?.[l] !== undefined) ||
  (Array.isArray(node.spec?.taints) ? node.spec.taints : []).some((t) => typeof t?.key === "string" && labels.includes(t.key))

/** Why a node counts as unavailable (NotReady, cordoned), or undefined when it is available. */
export const unavailableReason = (node: V1Node): string | undefined => {
  const ready = condition(node, "Ready")
  const why = [ready !== "True" ? `NotReady (Ready=${ready ?? "absent"})` : undefined, isCordoned(node) ? `cordoned${cordonedBy(node) ? ` by ${cordonedBy(node)}` : ""}` : undefined].filter(Boolean)
  return why.length ? why.join(", ") : undefined
}

/** The pressure conditions a node must be free of before an uncordon. */
export const PRESSURE_CONDITIONS: ReadonlyArray<string> = ["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"]

/**
 * Since when (epoch ms) the node has been Ready and free of pressure, from its conditions'
 * lastTransitionTime; undefined when it is not healthy now.
 */
export const healthySince = (node: V1Node): number | undefined => {
  if (!isReady(node)) return undefined
  const conds = node.status?.conditions ?? []
  let since = 0
  for (const c of conds) {
    if (c.type !== "Ready" && !PRESSURE_CONDITIONS.includes(c.type)) continue
    if (c.type !== "Ready" && c.status === "True") return undefined
    const t = c.lastTransitionTime === undefined ? NaN : new Date(c.lastTransitionTime as unknown as string).getTime()
    if (Number.isFinite(t)) since = Math.max(since, t)
  }
  return since
}

/** The share or count of `maxUnavailableNodes` for a cluster of `total` nodes: at least 1. */
export const unavailableLimit = (total: number, setting: number | `${number}%`): number => {
  if (typeof setting === "number") return Math.max(1, Math.floor(setting))
  const p = Number(setting.slice(0, -1))
  return Math.max(1, Math.floor((total * p) / 100 + 1e-9))
}

/** The node an action names (`params.node`). */
export const nodeOf = (ctx: Guardrail.GuardrailContext): string => String(ctx.action.params["node"] ?? "")

/** The cluster of a node TargetRef (`<cluster>/<node>`). */
export const clusterOf = (ctx: Guardrail.GuardrailContext): string => ctx.action.target.ref.split("/")[0] ?? "default"

const readNode = (name: string) => Effect.flatMap(Kube, (k) => k.getNode(name))

/** Runs a node decision; a node that cannot be read is a Deny (a guardrail never lets an action through blind). */
const withNode = (name: string, f: (node: V1Node) => Guardrail.GuardrailResult) =>
  readNode(name).pipe(
    Effect.map(f),
    Effect.catch((e) => Effect.succeed(Guardrail.deny(`${name}: could not read the node: ${e.message}`)))
  )

// ---------------------------------------------------------------------------------------------
// Guardrails

/** Never acts on a control-plane node. */
export const neverControlPlane = (labels: ReadonlyArray<string> = CONTROL_PLANE_LABELS): Guardrail.Guardrail<Kube> =>
  Guardrail.make<Kube>({
    name: "never_control_plane_node",
    recheckOnResume: true,
    check: (ctx) =>
      withNode(nodeOf(ctx), (node) =>
        isControlPlane(node, labels)
          ? Guardrail.deny(`never_control_plane_node: ${nodeOf(ctx)} is a control-plane node; BytePort never cordons, drains or replaces one`)
          : Guardrail.pass)
  })

/** A node someone else cordoned (a human, another tool, another incident) is never annotated or adopted. */
export const notCordonedByOthers: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "never_adopt_a_cordon",
  recheckOnResume: true,
  check: (ctx) =>
    withNode(nodeOf(ctx), (node) =>
      isCordoned(node) && cordonedBy(node) !== ctx.incidentId
        ? Guardrail.deny(
          `never_adopt_a_cordon: ${nodeOf(ctx)} is already cordoned ${cordonedBy(node) ? `by BytePort incident ${cordonedBy(node)}` : "by someone else (no byteport.io/cordoned-by)"}; BytePort neither annotates nor adopts it`
        )
        : Guardrail.pass)
})

/**
 * An uncordon only of a node this incident still owns. Before the cordon (the plan's pre-check)
 * a schedulable node passes; a node cordoned by anyone else is denied.
 */
export const neverUndoOthersCordon: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "never_undo_a_foreign_cordon",
  recheckOnResume: true,
  check: (ctx) =>
    withNode(nodeOf(ctx), (node) =>
      isCordoned(node) && cordonedBy(node) !== ctx.incidentId
        ? Guardrail.deny(
          `never_undo_a_foreign_cordon: ${nodeOf(ctx)} was cordoned ${cordonedBy(node) ? `by BytePort incident ${cordonedBy(node)}` : "by someone else"}, not by this incident; it stays cordoned`
        )
        : Guardrail.pass)
})

/**
 * Blast radius of a cordon (core `Guardrail.blastRadius`): the NotReady + unschedulable nodes
 * after it must not exceed `maxUnavailableNodes` (a count, or a share of the cluster's nodes,
 * at least 1). A denial names every unavailable node; nothing is touched.
 */
export const unavailableNodes = (s: Pick<NodeGuardSettings, "maxUnavailableNodes"> = defaults): Guardrail.Guardrail<Kube> => {
  const name = "max_unavailable_nodes"
  return Guardrail.make<Kube>({
    name,
    check: (ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const listed = yield* Effect.result(kube.listNodes())
        if (listed._tag === "Failure") return Guardrail.deny(`${name}: could not list nodes: ${listed.failure.message}`)
        const nodes = listed.success
        const target = nodeOf(ctx)
        const down = nodes.flatMap((n) => {
          const why = unavailableReason(n)
          return why ? [{ name: n.metadata?.name ?? "?", why }] : []
        })
        const already = down.some((d) => d.name === target)
        const limit = unavailableLimit(nodes.length, s.maxUnavailableNodes)
        const inner = Guardrail.blastRadius({
          name,
          maxUnhealthy: limit,
          affected: () => (already ? 0 : 1),
          observe: () => Effect.succeed({ healthy: nodes.length - down.length, total: nodes.length })
        })
        const r = yield* inner.check(ctx)
        if (r._tag !== "Deny") return r
        return Guardrail.deny(
          `${r.reason}; maxUnavailableNodes ${String(s.maxUnavailableNodes)} allows ${limit}; unavailable now: ${down.map((d) => `${d.name} (${d.why})`).join(", ") || "none"}; touching nothing`
        )
      })
  })
}

/** One slot: the node an incident cordoned, and when the slot was taken. */
interface Slot {
  readonly node: string
  readonly incident: string
  readonly at: number
}

/** The store key of a cluster's cordon slots. */
export const slotsKey = (cluster: string): string => `k8s.node.cordon-slots:${cluster}`

const decodeSlots = (v: Json.Json | undefined): ReadonlyArray<Slot> => {
  const raw = v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>)["slots"] : undefined
  if (!Array.isArray(raw)) return []
  return raw.flatMap((x) =>
    x && typeof x === "object" && typeof (x as Slot).node === "string" && typeof (x as Slot).incident === "string" && typeof (x as Slot).at === "number" ? [x as Slot] : []
  )
}

const encodeSlots = (slots: ReadonlyArray<Slot>): Json.Json => ({ slots: slots.map((s) => ({ node: s.node, incident: s.incident, at: s.at })) })

/**
 * The live slots of a cluster: stored slots still backed by the node (annotated by that incident
 * and unschedulable) or younger than the grace (a cordon in flight), plus nodes that carry a
 * BytePort cordon the store does not know (a store that lost its state still counts them).
 */
export const liveSlots = (stored: ReadonlyArray<Slot>, nodes: ReadonlyArray<V1Node>, now: number, graceMs: number): ReadonlyArray<Slot> => {
  const byName = new Map(nodes.map((n) => [n.metadata?.name ?? "", n]))
  const live = stored.filter((s) => {
    const n = byName.get(s.node)
    return now - s.at < graceMs || (n !== undefined && ownedBy(n, s.incident))
  })
  const extra = nodes.flatMap((n) => {
    const by = cordonedBy(n)
    const name = n.metadata?.name ?? ""
    return by !== undefined && isCordoned(n) && !live.some((s) => s.node === name) ? [{ node: name, incident: by, at: 0 }] : []
  })
  return [...live, ...extra]
}

/**
 * At most `maxCordonedNodes` BytePort cordons per cluster, across runbooks and agents: the slots
 * live in the GuardrailStore under `k8s.node.cordon-slots:<cluster>` and are taken with
 * compare-and-swap. The slot of this incident's node is reused (resume); the release (a later
 * guardrail of the step denied) gives it back. A slot ends when its node is no longer cordoned by
 * its incident — so a node that never recovers, and stays cordoned, keeps its slot.
 */
export const cordonSlots = (s: Pick<NodeGuardSettings, "maxCordonedNodes" | "slotGraceSeconds"> = defaults): Guardrail.Guardrail<Kube> => {
  const name = "max_cordoned_nodes"
  const graceMs = s.slotGraceSeconds * 1000
  const decide = (ctx: Guardrail.GuardrailContext, write: boolean) =>
    Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const kube = yield* Kube
      const key = slotsKey(clusterOf(ctx))
      const node = nodeOf(ctx)
      for (let attempt = 0; attempt < 8; attempt++) {
        const current = yield* store.get(key)
        const listed = yield* Effect.result(kube.listNodes())
        if (listed._tag === "Failure") return { result: Guardrail.deny(`${name}: could not list nodes: ${listed.failure.message}`), release: Guardrail.noRelease }
        const live = liveSlots(decodeSlots(current?.value), listed.success, ctx.now, graceMs)
        if (live.some((x) => x.node === node && x.incident === ctx.incidentId)) return { result: Guardrail.pass, release: Guardrail.noRelease }
        if (live.length >= s.maxCordonedNodes) {
          return {
            result: Guardrail.deny(`${name}: ${live.length} of ${s.maxCordonedNodes} BytePort cordon slot(s) of cluster ${clusterOf(ctx)} in use: ${live.map((x) => `${x.node} (incident ${x.incident})`).join(", ")}`),
            release: Guardrail.noRelease
          }
        }
        if (!write) return { result: Guardrail.pass, release: Guardrail.noRelease }
        const next = [...live.filter((x) => x.at > 0), { node, incident: ctx.incidentId, at: ctx.now }]
        const ok = yield* store.compareAndSet(key, current?.version ?? 0, encodeSlots(next))
        if (!ok) continue
        const release = Effect.gen(function*() {
          const st = yield* GuardrailStore.GuardrailStore
          for (let i = 0; i < 8; i++) {
            const cur = yield* st.get(key)
            const rest = decodeSlots(cur?.value).filter((x) => !(x.node === node && x.incident === ctx.incidentId))
            if (yield* st.compareAndSet(key, cur?.version ?? 0, encodeSlots(rest))) return
          }
        })
        return { result: Guardrail.pass, release }
      }
      return { result: Guardrail.deny(`${name}: the slots of cluster ${clusterOf(ctx)} kept changing (8 compare-and-swap conflicts)`), release: Guardrail.noRelease }
    })
  return Guardrail.make<Kube>({
    name,
    check: (ctx) => Effect.map(decide(ctx, false), (a) => a.result),
    acquire: (ctx) => decide(ctx, true)
  })
}

/** The guardrails of `k8s.cordonNode`, in the order they are evaluated. */
export const cordonGuardrails = (s: NodeGuardSettings = defaults): ReadonlyArray<Guardrail.Guardrail<Kube>> => [
  neverControlPlane(),
  notCordonedByOthers,
  unavailableNodes(s),
  cordonSlots(s)
]
