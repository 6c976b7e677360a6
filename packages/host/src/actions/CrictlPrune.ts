/**
 * Container-image prune on Kubernetes nodes: `crictl rmi --prune` through a core `Shell` (the
 * node's CRI removes every image no container uses; pinned images stay). Opt-in with the same
 * flag as the Docker prune (`dockerPruneEnabled`).
 *
 * dry_run runs only `crictl images -o json` and `crictl ps -a -o json` and says which images
 * would go. `observe` reads the same: no unused, unpinned image → Applied, some → NotApplied.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Crictl, Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"
import * as Measured from "./Measured"

const res = (detail: string, result: ActionHandler.HandlerResult["result"]): ActionHandler.HandlerResult => ({ detail, result })

/** The action kind. */
export const KIND = "host.crictl.prune"

/** Params: the crictl binary (default `crictl`). */
export const Params = Schema.Struct({ crictl: Schema.optionalKey(Schema.String) })
/** Params: the crictl binary (default `crictl`). */
export type Params = typeof Params.Type

/** Pure: the prune argv. */
export const argv = (p: Params = {}): ReadonlyArray<string> => [p.crictl ?? "crictl", "rmi", "--prune"]

const failed = (message: string) => new ActionHandler.ActionFailed({ kind: KIND, message })

/** The unused, unpinned images (`crictl images` minus those any container of `crictl ps -a` uses). */
export const unused = (shell: Shell.ShellShape, p: Params = {}): Effect.Effect<ReadonlyArray<Crictl.Image>, ActionHandler.ActionFailed> =>
  Effect.gen(function*() {
    const bin = p.crictl ?? "crictl"
    const run = (argv: ReadonlyArray<string>) => Effect.map(Measured.run(shell, KIND, argv, { timeout: "60 seconds" }), (r) => r.stdout)
    const images = yield* Effect.flatMap(run([bin, "images", "-o", "json"]), (t) => Effect.mapError(Crictl.parseImages(t), (e) => failed(e.message)))
    const containers = yield* Effect.flatMap(run([bin, "ps", "-a", "-o", "json"]), (t) => Effect.mapError(Crictl.parsePs(t), (e) => failed(e.message)))
    const used = new Set(containers.flatMap((c) => [c.image, c.imageRef]))
    return images.filter((i) => !i.pinned && !used.has(i.id) && !i.repoTags.some((t) => used.has(t)) && !i.repoDigests.some((d) => used.has(d)))
  })

/** The `host.crictl.prune` handler. */
export const spec = (shell: Shell.ShellShape): Measured.Spec<Params> => ({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const cmd = argv(p)
        if (ctx.dryRun) {
          const imgs = yield* unused(shell, p)
          return res(`would run ${Shell.formatArgv(cmd)}: ${imgs.length} unused image(s), ${Crictl.totalSize(imgs)} bytes`, { dryRun: true, argv: [...cmd], images: imgs.map((i) => i.repoTags[0] ?? i.id) })
        }
        const r = yield* Measured.run(shell, KIND, cmd, { timeout: "10 minutes" })
        const deleted = r.stdout.split("\n").filter((l) => l.startsWith("Deleted:")).length
        return res(`${Shell.formatArgv(cmd)}: ${deleted} image(s) deleted`, { dryRun: false, argv: [...cmd], deleted })
      }),
    observe: (p) =>
      Effect.map(unused(shell, p), (imgs) =>
        imgs.length === 0 ? ActionHandler.applied("no unused image left") : ActionHandler.notApplied(`${imgs.length} unused image(s) left`))
})

/** The action as a core `ActionHandler` (unmeasured; the disk runbooks register `Measured.measured(spec(…))`). */
export const handler = (shell: Shell.ShellShape): ActionHandler.ActionHandler => Measured.handlerOf(spec(shell))
