/**
 * `k8s.requestNodeReplacement`: reserves a node replacement before the plan hands the node off
 * (core `HandOffs.NodeReplacementRequested`, owned by the cloud package's runbooks). It writes
 * nothing to the cluster: it exists so the replacement's guardrails belong to an action kind and
 * are taken atomically in the GuardrailStore, for every runbook that replaces a node:
 *
 * - opt-in: `BYTEPORT_AUTO_REPLACE_NODES=true` (default false; anything but true/false is a
 *   ConfigError at startup, core `Settings.boolean`);
 * - the node has a `spec.providerID` (the cloud needs it to find the instance);
 * - never a control-plane node;
 * - at most 1 replacement in flight per cluster (one per `awaitTimeout` window: the hand-off's
 *   await) and 2 per 24 h per cluster.
 *
 * @since 0.2.0
 */
import { ActionHandler, Guardrail, Settings } from "@byteport/core"
import { Config, Duration, Effect, Schema } from "effect"
import * as NodeGuards from "../guardrails/nodeGuards"
import { Kube } from "../Kube"
import { readNode } from "./restartNodeUnit"

/** The action kind. */
export const KIND = "k8s.requestNodeReplacement"

/** The opt-in flag. */
export const FLAG = "BYTEPORT_AUTO_REPLACE_NODES"

/** The opt-in, read strictly (`true` or `false`): a ConfigError at startup otherwise. */
export const autoReplaceConfig: Config.Config<boolean> = Settings.boolean(FLAG).pipe(Config.withDefault(false))

/** The params. */
export const Params = Schema.Struct({ node: Schema.String, reason: Schema.String })

/** Settings of the replacement guardrails. */
export interface ReplacementSettings {
  /** Replacements per cluster per 24 h (2). */
  readonly perDay: number
  /** How long a requested replacement counts as in flight: the hand-off's await (30 minutes). */
  readonly inFlight: Duration.Input
}

/** The defaults. */
export const defaults: ReplacementSettings = { perDay: 2, inFlight: "30 minutes" }

const perCluster = (prefix: string) => (ctx: Guardrail.GuardrailContext) => `${prefix}:${NodeGuards.clusterOf(ctx)}`

/** The opt-in guardrail: denies unless BYTEPORT_AUTO_REPLACE_NODES=true; its config is validated at startup. */
export const optIn: Guardrail.Guardrail<never> = {
  ...Guardrail.requireOptIn(FLAG, { name: "opt_in(BYTEPORT_AUTO_REPLACE_NODES)", what: "cloud-provider node replacement" }),
  config: [autoReplaceConfig]
}

/** The node must carry a providerID. */
export const requireProviderId: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "require_provider_id",
  recheckOnResume: true,
  check: (ctx) =>
    Effect.flatMap(Kube, (k) => k.getNode(NodeGuards.nodeOf(ctx))).pipe(
      Effect.map((n) =>
        n.spec?.providerID
          ? Guardrail.pass
          : Guardrail.deny(`require_provider_id: ${NodeGuards.nodeOf(ctx)} has no spec.providerID; the cloud cannot find its instance`)),
      Effect.catch((e) => Effect.succeed(Guardrail.deny(`require_provider_id: could not read ${NodeGuards.nodeOf(ctx)}: ${e.message}`)))
    )
})

/** The guardrails of the kind, in evaluation order. */
export const guardrails = (s: ReplacementSettings = defaults): ReadonlyArray<Guardrail.Guardrail<Kube>> => [
  optIn,
  NodeGuards.neverControlPlane(),
  requireProviderId,
  Guardrail.rateLimit({ name: "node_replacement_in_flight_per_cluster", key: perCluster("k8s.node-replacement.in-flight"), max: 1, window: s.inFlight }),
  Guardrail.rateLimit({ name: "node_replacements_per_cluster_per_24h", key: perCluster("k8s.node-replacement.daily"), max: s.perDay, window: "24 hours" })
]

/** The handler: checks the node once more and records what is handed off. */
export const make = (s: ReplacementSettings = defaults): ActionHandler.ActionHandler<Kube> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: guardrails(s),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const node = yield* readNode(KIND, p.node)
        if (NodeGuards.isControlPlane(node)) return yield* new ActionHandler.ActionFailed({ kind: KIND, message: `${p.node} is a control-plane node: never replaced` })
        const providerID = node.spec?.providerID
        if (!providerID) return yield* new ActionHandler.ActionFailed({ kind: KIND, message: `${p.node} has no spec.providerID` })
        return {
          detail: `${ctx.dryRun ? "would request" : "requested"} the replacement of ${p.node} (${providerID}): ${p.reason}`,
          result: { node: p.node, providerID, dryRun: ctx.dryRun }
        }
      })
  })
