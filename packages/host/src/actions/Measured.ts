/**
 * The disk runbooks' measured steps: an action kind whose gain is the statfs delta of the mount
 * it ran for (never the sizes it reports). `measured(spec)` wraps an action's `Spec` into a core
 * `ActionHandler` whose params carry `mount` beside the action's own params; its result adds
 * `bytesFreed` (statfs before − after; 0 in dry_run), `usedPercentBefore` and `usedPercentAfter`.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"
import * as DiskFloor from "../DiskFloor"

/** What an action module declares: its kind, params, act and read-only `observe`. */
export interface Spec<P> {
  readonly kind: string
  readonly params: Schema.Codec<P, unknown>
  readonly apply: (params: P, ctx: ActionHandler.ApplyContext) => Effect.Effect<ActionHandler.HandlerResult, ActionHandler.ActionFailed>
  readonly observe: (params: P, ctx: ActionHandler.ObserveContext) => Effect.Effect<ActionHandler.Observation, unknown>
}

/** A Spec as a plain handler (no measurement). */
export const handlerOf = <P>(spec: Spec<P>): ActionHandler.ActionHandler => ActionHandler.make(spec)

const Mount = Schema.Struct({ mount: Schema.String.check(Schema.isPattern(/^\//)) })

/** A Spec as a handler measured on `params.mount`: `bytesFreed` is the statfs delta around the act. */
export const measured = <P>(spec: Spec<P>): ActionHandler.ActionHandler =>
  ActionHandler.make({
    kind: spec.kind,
    params: Mount,
    apply: (m, ctx) =>
      Effect.gen(function*() {
        const p = yield* Schema.decodeUnknownEffect(spec.params)(ctx.action.params).pipe(
          Effect.mapError((e) => new ActionHandler.ActionFailed({ kind: spec.kind, message: `invalid params: ${e.message}` }))
        )
        const r = yield* DiskFloor.measure(m.mount, spec.apply(p, ctx)).pipe(
          Effect.mapError((e) => e._tag === "ActionFailed" ? e : new ActionHandler.ActionFailed({ kind: spec.kind, message: e.message }))
        )
        const bytesFreed = ctx.dryRun ? 0 : r.bytesFreed
        const out: ActionHandler.HandlerResult = {
          detail: `${r.value.detail}: ${bytesFreed} bytes freed on ${m.mount} (statfs), ${r.after.usedPercent}% used`,
          result: { ...r.value.result, mount: m.mount, bytesFreed, usedPercentBefore: r.before.usedPercent, usedPercentAfter: r.after.usedPercent }
        }
        return out
      }),
    observe: (_m, ctx) =>
      Effect.flatMap(Schema.decodeUnknownEffect(spec.params)(ctx.action.params), (p) => spec.observe(p, ctx))
  })

/**
 * Runs an action's command through a Shell: a Shell error or a non-zero exit is an `ActionFailed`
 * of `kind` naming the argv (and the exit code with stderr's last three lines).
 */
export const run = (shell: Shell.ShellShape, kind: string, cmd: ReadonlyArray<string>, options: Shell.Options): Effect.Effect<Shell.Result, ActionHandler.ActionFailed> =>
  shell.run(cmd, options).pipe(
    Effect.mapError((e) => new ActionHandler.ActionFailed({ kind, message: `${Shell.formatArgv(cmd)}: ${e.message}` })),
    Effect.flatMap((r) =>
      r.exitCode === 0 ? Effect.succeed(r) : Effect.fail(new ActionHandler.ActionFailed({ kind, message: `${Shell.formatArgv(cmd)} exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}` }))
    )
  )
