/**
 * The GitOps action handlers in one list (register them with `ActionRegistry.layer`):
 * `cloud.argocd.freeze`, `cloud.argocd.rollback`, `cloud.flux.suspend`, `cloud.git.revert`
 * (`GitWriter`) and `cloud.unfreeze`.
 *
 * @since 0.1.0
 */
import type { ActionHandler } from "@byteport/core"
import { ActionRegistry } from "@byteport/core"
import type { Layer } from "effect"
import * as ArgoCdFreeze from "../actions/ArgoCdFreeze"
import * as ArgoCdRollback from "../actions/ArgoCdRollback"
import * as FluxSuspend from "../actions/FluxSuspend"
import * as GitWriter from "../actions/GitWriter"
import * as Unfreeze from "../actions/Unfreeze"
import type { GitHub } from "../github/GitHub"
import type { ArgoCd } from "./ArgoCd"
import type { FluxKube } from "./FluxKube"

/** What the GitOps handlers need. */
export type Services = ArgoCd | FluxKube | GitHub

/** The five handlers. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Services>> => [
  ArgoCdFreeze.make(),
  ArgoCdRollback.make(),
  FluxSuspend.make(),
  GitWriter.make(),
  Unfreeze.make()
]

/** A registry of the five handlers (and `extra` ones). */
export const handlersLayer = (extra: ReadonlyArray<ActionHandler.ActionHandler<Services>> = []): Layer.Layer<ActionRegistry.ActionRegistry, never, Services> =>
  ActionRegistry.layer<Services>({ handlers: [...handlers(), ...extra], checks: [] })
