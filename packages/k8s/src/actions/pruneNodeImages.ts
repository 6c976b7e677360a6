/**
 * `k8s.pruneNodeImages`: removes the images no container uses from a node's image filesystem —
 * `crictl rmi --prune` (containerd, CRI-O) or, on a Docker node, `docker image prune -f`
 * (dangling images only; the seed's ruling). Runs through the node's Shell (`NodeShell`); no
 * shell fails the action.
 *
 * Guardrail (on the kind): `image_prunes_per_node` — at most 1 prune per node per hour
 * (configurable), counted in the GuardrailStore.
 *
 * dry_run: lists the images (`crictl images -o json` / `docker image ls -q`) and removes nothing;
 * no Event. auto: the prune must exit 0; a `NodeImagesPruned` Event is recorded on the Node with
 * the image count and bytes before and after (crictl).
 *
 * `observe`: a prune is idempotent — running it again is safe — so it is `notApplied` (re-run).
 *
 * @since 0.2.0
 */
import { ActionHandler, Guardrail } from "@byteport/core"
import { type Duration, Effect, Schema } from "effect"
import type { EventRecorder } from "../events/EventRecorder"
import { Kube } from "../Kube"
import { Crictl } from "@byteport/core/shell"
import { nodeEvent, nodeShell, readNode, runOk } from "./restartNodeUnit"

/** The action kind. */
export const KIND = "k8s.pruneNodeImages"

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  /** `cri` (crictl, containerd or CRI-O) or `docker`. */
  tool: Schema.Literals(["cri", "docker"]),
  reason: Schema.String
})

/** The commands per tool. */
export const commands = {
  cri: { list: ["crictl", "images", "-o", "json"], prune: ["crictl", "rmi", "--prune"] },
  docker: { list: ["docker", "image", "ls", "-q"], prune: ["docker", "image", "prune", "-f"] }
} as const

/** Options of the guardrail. */
export interface PruneOptions {
  readonly max?: number | undefined
  readonly window?: Duration.Input | undefined
}

/** The guardrails of the kind. */
export const guardrails = (o: PruneOptions = {}): ReadonlyArray<Guardrail.Guardrail<never>> => [
  Guardrail.rateLimit({ name: "image_prunes_per_node", key: Guardrail.keys.perTargetKind("k8s.node-image-prune"), max: o.max ?? 1, window: o.window ?? "1 hour" })
]

const ActionFailed = ActionHandler.ActionFailed

/** The handler. */
export const make = (o: PruneOptions = {}): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: guardrails(o),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const shell = yield* nodeShell(KIND, p.node)
        const cmd = commands[p.tool]
        const measure = Effect.gen(function*() {
          const r = yield* runOk(KIND, shell, cmd.list, "1 minute")
          if (p.tool === "docker") return { count: r.stdout.split("\n").filter((l) => l.trim()).length, bytes: null as number | null }
          const list = yield* Crictl.parseImages(r.stdout).pipe(Effect.mapError((e) => new ActionFailed({ kind: KIND, message: e.message })))
          return { count: list.length, bytes: list.reduce((a, i) => a + i.sizeBytes, 0) as number | null }
        })
        const before = yield* measure
        const node = yield* readNode(KIND, p.node)
        if (ctx.dryRun) {
          return { detail: `would run ${cmd.prune.join(" ")} on node ${p.node} (${before.count} images now)`, result: { node: p.node, tool: p.tool, imagesBefore: before.count, imagesAfter: null, bytesFreed: null, dryRun: true } }
        }
        yield* runOk(KIND, shell, cmd.prune, "5 minutes")
        const after = yield* measure
        const freed = before.bytes !== null && after.bytes !== null ? before.bytes - after.bytes : null
        yield* nodeEvent(node, "NodeImagesPruned", `BytePort pruned unused images on node ${p.node}: ${before.count} → ${after.count} images${freed !== null ? `, ${freed} bytes freed` : ""} (${p.reason}; incident ${ctx.incidentId})`)
        return {
          detail: `pruned unused images on node ${p.node}: ${before.count} → ${after.count}${freed !== null ? ` (${freed} bytes freed)` : ""}`,
          result: { node: p.node, tool: p.tool, imagesBefore: before.count, imagesAfter: after.count, bytesFreed: freed, dryRun: false }
        }
      }),
    observe: (p) => Effect.succeed(ActionHandler.notApplied(`pruning unused images on ${p.node} is idempotent: running it again is safe`))
  })
