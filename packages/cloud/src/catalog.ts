/**
 * `CloudCatalog`: the default core `Catalog` of the `@byteport/cloud` runbooks. The `deploy`
 * family holds, by precedence, `deploy.webhook.rollback` (10, the family's default, always
 * listed), `deploy.github-actions` (20, turned on with `enable`), `deploy.sentry.classify` and
 * `deploy.render.rollback`.
 *
 * @example
 * ```ts
 * import { Catalog } from "@byteport/core"
 * import { CloudCatalog } from "@byteport/cloud"
 * const catalog = CloudCatalog.make({ runbooks: { "deploy.github-actions": { repo: "acme/shop" } }, enable: ["deploy.github-actions"] })
 * console.log(Catalog.describe(catalog))
 * ```
 *
 * @since 0.1.0
 */
import { Catalog, type Runbook } from "@byteport/core"
import type { Duration } from "effect"
import * as GitHubActions from "./runbooks/deploy.github-actions"
import * as RenderOom from "./runbooks/cloud.handoff.render-oom"
import * as RenderRegression from "./runbooks/cloud.handoff.render-regression"
import * as RenderRestart from "./runbooks/cloud.handoff.render-restart"
import * as RenderRollbackRunbook from "./runbooks/deploy.render.rollback"
import * as SentryClassify from "./runbooks/deploy.sentry.classify"
import * as WebhookRollback from "./runbooks/deploy.webhook.rollback"

/** The services the catalog's runbooks need besides core's. */
export type Services = GitHubActions.Services | RenderRollbackRunbook.Services | SentryClassify.Services | WebhookRollback.Services

/** The options of each runbook, by id. */
export interface RunbookOptions {
  readonly "deploy.github-actions"?: GitHubActions.Options
  /** Off unless enabled (`enable: ["deploy.render.rollback"]`): the family's default is another. */
  readonly "deploy.render.rollback"?: RenderRollbackRunbook.Options
  /** The Render restarter (hand-off family `cloud.handoff`; on when given). */
  readonly "cloud.handoff.render-restart"?: RenderRestart.Options
  /** Deployment regressions of Render services, handed off (hand-off family `cloud.handoff`; on when given). */
  readonly "cloud.handoff.render-regression"?: RenderRegression.Options
  /** OOM observed on Render services, handed off (hand-off family `cloud.handoff`; on when given). */
  readonly "cloud.handoff.render-oom"?: RenderOom.Options
  /** Off unless enabled (`enable: ["deploy.sentry.classify"]`). */
  readonly "deploy.sentry.classify"?: SentryClassify.Options
  /** `deploy.webhook.rollback` is always in the catalog (the family's default); these are its options. */
  readonly "deploy.webhook.rollback"?: WebhookRollback.Options
}

/** The runbooks of the catalog (a runbook whose required options are missing is left out). */
export const runbooks = (o: RunbookOptions = {}): ReadonlyArray<Runbook.Any<Services>> => [
  ...(o["deploy.github-actions"] ? [GitHubActions.make(o["deploy.github-actions"])] : []),
  ...(o["deploy.render.rollback"] ? [RenderRollbackRunbook.make(o["deploy.render.rollback"])] : []),
  ...(o["cloud.handoff.render-restart"] ? [RenderRestart.make(o["cloud.handoff.render-restart"])] : []),
  ...(o["cloud.handoff.render-regression"] ? [RenderRegression.make(o["cloud.handoff.render-regression"])] : []),
  ...(o["cloud.handoff.render-oom"] ? [RenderOom.make(o["cloud.handoff.render-oom"])] : []),
  ...(o["deploy.sentry.classify"] ? [SentryClassify.make(o["deploy.sentry.classify"])] : []),
  WebhookRollback.make(o["deploy.webhook.rollback"] ?? {})
]

/** The hand-off runbooks of the catalog: each is on when its options are given. */
export const HANDOFF_RUNBOOKS = ["cloud.handoff.render-restart", "cloud.handoff.render-regression", "cloud.handoff.render-oom"] as const

/** Options of {@link make}. */
export interface Options<R = never> {
  readonly runbooks?: RunbookOptions
  /** Your runbooks, added to the built-in ones. */
  readonly extra?: ReadonlyArray<Runbook.Any<R>>
  readonly order?: ReadonlyArray<string>
  /** Runbook ids to enable on top of the defaults (the best ranked of each family). */
  readonly enable?: ReadonlyArray<string>
  readonly disable?: ReadonlyArray<string>
  readonly settle?: Duration.Input
}

/** The catalog: the defaults (one per family), plus `enable`, minus `disable`. */
export const make = <R = never>(o: Options<R> = {}): Catalog.Catalog<Services | R> => {
  const all: ReadonlyArray<Runbook.Any<Services | R>> = [...runbooks(o.runbooks), ...(o.extra ?? [])]
  const base = { ...(o.order ? { order: o.order } : {}), ...(o.settle !== undefined ? { settle: o.settle } : {}) }
  const defaults = Catalog.make(all, base)
  // the hand-off runbooks (one family, each its own hand-off and target kind) are on when given
  const handOffs = HANDOFF_RUNBOOKS.filter((id) => o.runbooks?.[id] !== undefined)
  const enabled = [...defaults.entries.filter((e) => e.enabled).map((e) => e.runbook.id), ...handOffs, ...(o.enable ?? [])]
  return Catalog.make(all, { ...base, enable: enabled, ...(o.disable ? { disable: o.disable } : {}) })
}
