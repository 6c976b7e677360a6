/**
 * `DeploySource`: where `host.memory.runaway` learns of the target's latest deploy (a CI/CD
 * webhook store, the Render deploys API, a Kubernetes rollout history …). Pluggable; the default
 * is `none` (no deploy known, so no deploy correlation). A deploy within the window
 * (`BYTEPORT_RUNAWAY_DEPLOY_WINDOW_MINUTES`, 30) turns a runaway into the `deployment regression`
 * hand-off instead of a restart.
 *
 * @since 0.1.0
 */
import type { TargetRef } from "@byteport/core"
import { Effect } from "effect"

/** One deploy of a target. */
export interface Deploy {
  /** The deployed revision (a SHA, an image tag, a Render deploy id). */
  readonly revision: string
  /** The revision before it, when known. */
  readonly previousRevision?: string | undefined
  /** When it went live, epoch ms. */
  readonly deployedAt: number
}

/** A source of deploys. */
export interface DeploySource {
  /** The source's name, for reports. */
  readonly name: string
  /** The latest deploy of the target (undefined: none known). A failure makes the fact Unknown. */
  readonly latest: (target: TargetRef.TargetRef) => Effect.Effect<Deploy | undefined, unknown>
}

/** The default: no deploys known. */
export const none: DeploySource = { name: "none", latest: () => Effect.succeed(undefined) }

/** A fixed list of deploys per target key (`kind:ref`), e.g. from configuration or a test. */
export const fromRecord = (deploys: Readonly<Record<string, ReadonlyArray<Deploy>>>, name = "static"): DeploySource => ({
  name,
  latest: (target) =>
    Effect.sync(() => {
      const list = deploys[`${target.kind}:${target.ref}`] ?? []
      return list.reduce<Deploy | undefined>((a, d) => (a === undefined || d.deployedAt > a.deployedAt ? d : a), undefined)
    })
})

/** Whether a deploy went live within `windowMs` before `now` (not in the future beyond a minute of skew). */
export const isRecent = (deploy: Deploy | undefined, now: number, windowMs: number): deploy is Deploy =>
  deploy !== undefined && deploy.deployedAt <= now + 60_000 && now - deploy.deployedAt <= windowMs
