/**
 * `k8s.restartNodeUnit`: `systemctl restart <unit>` on a node, through the node's Shell
 * (`NodeShell`). Only `kubelet`, `containerd` and `crio` — anything else is denied by a `never`
 * guardrail before a permit exists, and refused by the params schema.
 *
 * Guardrails (on the action kind, so every runbook and hand-off restarting a node unit gets them):
 * - `never_restart_other_units`: only kubelet, containerd, crio;
 * - `node_unit_restarts_per_hour`: at most 1 restart per unit per node per hour (configurable),
 *   counted in the GuardrailStore, shared across runbooks and agents.
 *
 * dry_run: the unit is looked up on the node (`systemctl show <unit> -p LoadState`), nothing is
 * restarted, no Event is recorded (Event writes go with `dryRun=All`). auto: the restart must exit
 * 0; a `NodeUnitRestarted` Event is recorded on the Node. No NodeShell for the node fails the
 * action: nothing is ever restarted on a guess.
 *
 * `observe`: the unit entered `active` at or after the step's budget was acquired
 * (`ActiveEnterTimestamp`) → applied; active since before → not applied; otherwise unknown.
 *
 * @since 0.2.0
 */
import type { V1Node } from "@kubernetes/client-node"
import { ActionHandler, Guardrail } from "@byteport/core"
import type { Shell } from "@byteport/core/shell"
import { Systemctl } from "@byteport/core/shell"
import { type Duration, Effect, Option, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import { Kube } from "../Kube"
import { resolveShell } from "../probes/nodeHost"

/** The action kind. */
export const KIND = "k8s.restartNodeUnit"

/** The only units this kind restarts. */
export const UNITS = ["kubelet", "containerd", "crio"] as const

/** A restartable unit. */
export type NodeUnit = (typeof UNITS)[number]

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  unit: Schema.Literals(UNITS),
  reason: Schema.String
})

/** The params. */
export type Params = typeof Params.Type

/** Options of the guardrails. */
export interface RestartNodeUnitOptions {
  /** Restarts per unit per node per window (default 1). */
  readonly max?: number | undefined
  /** The window (default 1 hour). */
  readonly window?: Duration.Input | undefined
  /** The restart command's timeout (default 2 minutes). */
  readonly timeout?: Duration.Input | undefined
}

const ActionFailed = ActionHandler.ActionFailed

/** Whether an action's `unit` param is one this kind may restart. */
export const isAllowedUnit = (unit: unknown): unit is NodeUnit => typeof unit === "string" && (UNITS as ReadonlyArray<string>).includes(unit)

/** The budget key: one per unit per node. */
export const budgetKey = (ctx: Guardrail.GuardrailContext): string => `${KIND}:${ctx.action.target.ref}:${String(ctx.action.params["unit"])}`

/** The guardrails of the kind. */
export const guardrails = (o: RestartNodeUnitOptions = {}): ReadonlyArray<Guardrail.Guardrail<never>> => [
  Guardrail.never((ctx) => !isAllowedUnit(ctx.action.params["unit"]), (ctx) => `never_restart_other_units: ${KIND} restarts only ${UNITS.join(", ")} (asked: ${JSON.stringify(ctx.action.params["unit"] ?? null)})`, {
    name: "never_restart_other_units"
  }),
  Guardrail.rateLimit({ name: "node_unit_restarts_per_hour", key: budgetKey, max: o.max ?? 1, window: o.window ?? "1 hour" })
]

/** The node's Shell, or an ActionFailed naming the node (no shell: nothing runs on a guess). */
export const nodeShell = (kind: string, node: string): Effect.Effect<Shell.ShellShape, ActionHandler.ActionFailed> =>
  resolveShell(node).pipe(
    Effect.flatMap((o) => (Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new ActionFailed({ kind, message: `no NodeShell reaches node ${node}` }))))
  )

/** Reads the node an action of `kind` works on (for its Event); a read error is the kind's ActionFailed. */
export const readNode = (kind: string, node: string): Effect.Effect<V1Node, ActionHandler.ActionFailed, Kube> =>
  Effect.flatMap(Kube, (kube) => kube.getNode(node)).pipe(Effect.mapError((e) => new ActionFailed({ kind, message: e.message })))

/** Records BytePort's Event on a node (`type` Normal unless given; `dryRun` false unless given). */
export const nodeEvent = (node: V1Node, reason: string, message: string, o: { readonly dryRun?: boolean; readonly type?: "Normal" | "Warning" } = {}): Effect.Effect<unknown, never, EventRecorder> =>
  recordEvent(node, reason, message, { dryRun: o.dryRun ?? false, kind: "Node", apiVersion: "v1", ...(o.type ? { type: o.type } : {}) })

/** Runs argv on the node; a run error or a non-zero exit is an ActionFailed. */
export const runOk = (kind: string, shell: Shell.ShellShape, argv: ReadonlyArray<string>, timeout: Duration.Input = "2 minutes") =>
  shell.run(argv, { env: { LC_ALL: "C" }, timeout }).pipe(
    Effect.mapError((e) => new ActionFailed({ kind, message: `${argv.join(" ")} on ${shell.name}: ${e.reason}: ${e.message}` })),
    Effect.flatMap((r) =>
      r.exitCode === 0
        ? Effect.succeed(r)
        : Effect.fail(new ActionFailed({ kind, message: `${argv.join(" ")} on ${shell.name} exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]!.slice(0, 200)}` : ""}` }))
    )
  )

/** Parses systemd's `ActiveEnterTimestamp` (`Mon 2026-12-07 15:31:13 UTC`) to epoch ms; undefined when empty or not UTC. */
export const parseSystemdTimestamp = (s: string | undefined): number | undefined => {
  const m = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))? (UTC|GMT)$/.exec((s ?? "").trim())
  if (!m) return undefined
  const t = Date.parse(`${m[1]}T${m[2]}Z`)
  return Number.isFinite(t) ? t : undefined
}

/** The handler. */
export const make = (o: RestartNodeUnitOptions = {}): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: guardrails(o),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const shell = yield* nodeShell(KIND, p.node)
        const show = yield* runOk(KIND, shell, ["systemctl", "show", p.unit, "-p", "LoadState"], "30 seconds")
        const props = yield* Systemctl.parseShowOne(show.stdout).pipe(Effect.mapError((e) => new ActionFailed({ kind: KIND, message: e.message })))
        if (props.loadState === "not-found") return yield* new ActionFailed({ kind: KIND, message: `unit ${p.unit} does not exist on node ${p.node}` })
        const node = yield* readNode(KIND, p.node)
        if (ctx.dryRun) {
          yield* nodeEvent(node, "NodeUnitRestarted", `BytePort would restart ${p.unit} on node ${p.node}: ${p.reason}`, { dryRun: true, type: "Warning" })
          return { detail: `would restart ${p.unit} on node ${p.node} (unit ${props.loadState})`, result: { node: p.node, unit: p.unit, dryRun: true } }
        }
        yield* runOk(KIND, shell, ["systemctl", "restart", p.unit], o.timeout ?? "2 minutes")
        yield* nodeEvent(node, "NodeUnitRestarted", `BytePort restarted ${p.unit} on node ${p.node}: ${p.reason} (incident ${ctx.incidentId})`, { type: "Warning" })
        return { detail: `restarted ${p.unit} on node ${p.node}`, result: { node: p.node, unit: p.unit, dryRun: false } }
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const shell = yield* nodeShell(KIND, p.node)
        const r = yield* runOk(KIND, shell, ["systemctl", "show", p.unit, "-p", "ActiveState,ActiveEnterTimestamp"], "30 seconds")
        const props = yield* Systemctl.parseShowOne(r.stdout)
        const since = parseSystemdTimestamp(props.properties["ActiveEnterTimestamp"])
        if (props.activeState === "active" && since !== undefined && since >= ctx.since) return ActionHandler.applied(`${p.unit} on ${p.node} active since ${new Date(since).toISOString()}`)
        if (props.activeState === "active" && since !== undefined) return ActionHandler.notApplied(`${p.unit} on ${p.node} active since before the step (${new Date(since).toISOString()})`)
        return ActionHandler.unknown(`${p.unit} on ${p.node} is ${props.activeState ?? "?"}; whether it was restarted cannot be told`)
      })
  })
