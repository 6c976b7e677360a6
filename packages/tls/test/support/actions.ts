/** Runs an action kind's handler with a genuine permit (auto or dry_run), as the executor would. */
import { Action, type ActionHandler } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Effect } from "effect"
// Permit.mint is the executor's; tests mint as packages/host/test does
import * as Permit from "../../../core/src/Permit"

let seq = 0

/** Runs `handler` on `action` in `mode` with the local Shell; the Exit is returned. */
export const runHandler = (handler: ActionHandler.ActionHandler<Shell.Shell>, action: Action.Action, mode: "auto" | "dry_run") => {
  const permit = Permit.mint(Action.digest(action), `inc-tls-${process.pid}`, Date.now() + 120_000, mode, `p-${process.pid}-${++seq}`)
  return Effect.exit(handler.run(action, permit).pipe(Effect.provide(Shell.layerLocal)))
}

/** `observe` of `handler` on `action` with the local Shell. */
export const observe = (handler: ActionHandler.ActionHandler<Shell.Shell>, action: Action.Action) =>
  handler.observe!(action, { incidentId: "inc-observe", since: 0 }).pipe(Effect.provide(Shell.layerLocal))
