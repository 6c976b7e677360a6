/** Runs the GitOps handlers with genuine permits against the world's fakes (Argo CD API, kube-sim, GitHub). */
import { Action, type ActionHandler } from "@byteport/core"
import { Effect, Exit, Layer, Redacted } from "effect"
// Permit.mint is the executor's; tests mint as packages/host/test does
import * as Permit from "../../../core/src/Permit"
import { ArgoCdFake } from "@byteport/cloud/testing"
import * as GitHub from "../../src/github/GitHub"
import * as ArgoCd from "../../src/gitops/ArgoCd"
import * as FluxKube from "../../src/gitops/FluxKube"
import * as Handlers from "../../src/gitops/Handlers"
import { start as startWorld } from "./world"
import type { World } from "./world"

let seq = 0

/** A world with the Argo CD API fake and the layers the handlers need. */
export interface Rig {
  readonly w: World
  readonly argo: ArgoCdFake.ArgoCdFake
  readonly layer: Layer.Layer<Handlers.Services>
  /** Runs the action's handler in `mode` as incident `incidentId`; the Exit. */
  readonly run: (action: Action.Action, mode: "auto" | "dry_run", incidentId: string) => Promise<Exit.Exit<ActionHandler.HandlerResult, unknown>>
  /** `observe` of the action's handler. */
  readonly observe: (action: Action.Action, incidentId: string) => Promise<ActionHandler.Observation>
  /** Writes to kube-sim (non-GET, non-watch) after `seq`. */
  readonly kubeWrites: (afterSeq?: number) => ReadonlyArray<{ readonly method: string; readonly path: string; readonly dryRun: boolean }>
  readonly close: () => Promise<void>
}

const byKind = new Map(Handlers.handlers().map((h) => [h.kind, h]))

/** Starts a rig. */
export const rig = async (o: { readonly argoVersion?: string } = {}): Promise<Rig> => {
  const w = await startWorld()
  const argo = await ArgoCdFake.start({ model: w.model, ...(o.argoVersion !== undefined ? { version: o.argoVersion } : {}) })
  const layer = Layer.mergeAll(
    ArgoCd.layer({ baseUrl: argo.url, token: Redacted.make("argocd-token") }),
    FluxKube.layer(w.kc),
    GitHub.layer({ baseUrl: w.github.url, token: Redacted.make("test-token") })
  )
  return {
    w, argo, layer,
    run: (action, mode, incidentId) => {
      const h = byKind.get(action.kind)!
      const permit = Permit.mint(Action.digest(action), incidentId, Date.now() + 120_000, mode, `p-${process.pid}-${++seq}`)
      return Effect.runPromise(Effect.exit(h.run(action, permit).pipe(Effect.provide(layer))))
    },
    observe: (action, incidentId) => Effect.runPromise(byKind.get(action.kind)!.observe!(action, { incidentId, since: 0 }).pipe(Effect.provide(layer))),
    // the world's Deployment status writer (it stands in for the Deployment controller) is not a write under test
    kubeWrites: (afterSeq = 0) => w.sim.recorder.requests().filter((r) => r.seq > afterSeq && r.method !== "GET" && !r.watch && !/\/deployments\/[^/]+\/status$/.test(r.path)),
    close: async () => {
      await argo.close()
      await w.close()
    }
  }
}

/** The failure message of an Exit (or undefined when it succeeded). */
export const failure = (e: Exit.Exit<unknown, unknown>): { readonly message: string; readonly conflict: boolean } | undefined => {
  if (Exit.isSuccess(e)) return undefined
  const f = JSON.stringify(e.cause)
  const m = /"message":"((?:[^"\\]|\\.)*)"/.exec(f)
  return { message: m ? m[1]! : f, conflict: f.includes("\"conflict\":true") }
}

/** The result of a successful Exit (throws otherwise). */
export const ok = (e: Exit.Exit<ActionHandler.HandlerResult, unknown>): ActionHandler.HandlerResult => {
  if (Exit.isSuccess(e)) return e.value
  throw new Error(`the action failed: ${JSON.stringify(e.cause)}`)
}
