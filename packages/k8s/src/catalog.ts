/**
 * `K8sCatalog`: the default core `Catalog` of the `@byteport/k8s` runbooks, built from the
 * families and precedence of `runbooks/families.ts` (pod families) and the node and rollout
 * runbooks' own: `k8s.oom` (10, 11), `k8s.node.not-ready` (20), `k8s.image-pull` /
 * `k8s.pending` (20), `k8s.crashloop` (30–33), `k8s.deploy.failed-rollout` (30),
 * `k8s.node.pressure-drain` (40). One runbook per family is enabled by default (the best
 * ranked): `k8s.oom` → six-signal, `k8s.crashloop` → five-branch, `k8s.node` → not-ready,
 * `k8s.deploy` → failed-rollout, plus image-pull and pending. `make` adds your runbooks,
 * reorders the ranking and enables or disables runbooks on top of those defaults.
 *
 * @example
 * ```ts
 * import { Catalog } from "@byteport/core"
 * import { K8sCatalog } from "@byteport/k8s"
 * const catalog = K8sCatalog.make({ enable: ["k8s.oom.exit-137"], disable: ["k8s.pending"] })
 * console.log(Catalog.describe(catalog))
 * yield* Catalog.run(catalog)
 * ```
 *
 * @since 0.2.0
 */
import { Catalog, type Runbook } from "@byteport/core"
import type { Duration } from "effect"
import type { Kube } from "./Kube"
import type { Metrics } from "./metrics/Metrics"
import * as Families from "./runbooks/families"
import * as ExitCode from "./runbooks/k8s.crashloop.exit-code"
import * as FiveBranch from "./runbooks/k8s.crashloop.five-branch"
import * as SevenClass from "./runbooks/k8s.crashloop.seven-class"
import * as RestartLoop from "./runbooks/k8s.restart-loop.container"
import * as FailedRollout from "./runbooks/k8s.deploy.failed-rollout"
import * as ImagePull from "./runbooks/k8s.image-pull"
import * as NodeNotReady from "./runbooks/k8s.node.not-ready"
import * as PressureDrain from "./runbooks/k8s.node.pressure-drain"
import * as Exit137 from "./runbooks/k8s.oom.exit-137"
import * as SixSignal from "./runbooks/k8s.oom.six-signal"
import * as Pending from "./runbooks/k8s.pending"

/** The services the default catalog's runbooks need. */
export type Services = Kube | Metrics

/** The families of the default catalog: the pod families of `families.ts`, plus the node and rollout families. */
export const Family = {
  ...Families.Family,
  /** Nodes NotReady or under pressure. */
  node: "k8s.node",
  /** Failed Deployment rollouts. */
  deploy: FailedRollout.FAMILY
} as const

/** The options of each runbook of the default catalog, by runbook id. */
export interface RunbookOptions {
  readonly "k8s.oom.six-signal"?: SixSignal.Options
  readonly "k8s.oom.exit-137"?: Exit137.Options
  readonly "k8s.node.not-ready"?: NodeNotReady.Options
  readonly "k8s.image-pull"?: ImagePull.Options
  readonly "k8s.pending"?: Pending.Options
  readonly "k8s.crashloop.five-branch"?: FiveBranch.Options
  readonly "k8s.crashloop.seven-class"?: SevenClass.Options
  readonly "k8s.crashloop.exit-code"?: ExitCode.Options
  readonly "k8s.restart-loop.container"?: RestartLoop.Options
  readonly "k8s.deploy.failed-rollout"?: FailedRollout.Options
  readonly "k8s.node.pressure-drain"?: PressureDrain.Options
}

/** The runbook ids of the default catalog, in declaration order (ties of precedence keep it). */
export const ids = [
  Families.Ids.oomSixSignal,
  Families.Ids.oomExit137,
  NodeNotReady.ID,
  Families.Ids.imagePull,
  Families.Ids.pending,
  Families.Ids.crashloopFiveBranch,
  Families.Ids.crashloopSevenClass,
  Families.Ids.crashloopExitCode,
  Families.Ids.restartLoopContainer,
  FailedRollout.ID,
  PressureDrain.ID
] as const

/** A runbook id of the default catalog. */
export type Id = typeof ids[number]

/**
 * The runbook ids of `families.ts` that have no runbook in this catalog yet (none: seven-class
 * and restart-loop.container joined with precedence 31 and 33; five-branch stays the crashloop
 * default). A new id of `families.ts` goes here until its runbook joins {@link runbooks}.
 */
export const pending: ReadonlyArray<Families.Id> = []

/**
 * The runbooks of the default catalog, each built with its options (every runbook's own
 * defaults otherwise), in {@link ids} order.
 */
export const runbooks = (o: RunbookOptions = {}): ReadonlyArray<Runbook.Any<Services>> => [
  SixSignal.make(o["k8s.oom.six-signal"]),
  Exit137.make(o["k8s.oom.exit-137"]),
  NodeNotReady.make(o["k8s.node.not-ready"]),
  ImagePull.make(o["k8s.image-pull"]),
  Pending.make(o["k8s.pending"]),
  FiveBranch.make(o["k8s.crashloop.five-branch"]),
  SevenClass.make(o["k8s.crashloop.seven-class"]),
  ExitCode.make(o["k8s.crashloop.exit-code"]),
  RestartLoop.make(o["k8s.restart-loop.container"]),
  FailedRollout.make(o["k8s.deploy.failed-rollout"]),
  PressureDrain.make(o["k8s.node.pressure-drain"])
]

/** Options of {@link make}. */
export interface Options<R = never> {
  /** Options of the built-in runbooks, by id. */
  readonly runbooks?: RunbookOptions
  /** Your runbooks, added to the built-in ones (ids must be new). */
  readonly extra?: ReadonlyArray<Runbook.Any<R>>
  /** Runbook ids in the order you want them ranked; the rest follow by precedence. */
  readonly order?: ReadonlyArray<string>
  /** Runbook ids to enable on top of the defaults (the best ranked runbook of each family). */
  readonly enable?: ReadonlyArray<string>
  /** Runbook ids to disable (wins over `enable` and the defaults). */
  readonly disable?: ReadonlyArray<string>
  /** Enable exactly these runbook ids instead of the defaults (`disable` still applies). */
  readonly only?: ReadonlyArray<string>
  /** How long the signals on one target are gathered before routing (default 2 s). */
  readonly settle?: Duration.Input
}

/**
 * The default catalog, with your runbooks, order and enablement. The defaults are computed
 * after your `order` (so ranking exit-137 first makes it `k8s.oom`'s default); `enable` adds to
 * them, `disable` removes, `only` replaces them. Unknown ids throw, like `Catalog.make`.
 */
export const make = <R = never>(o: Options<R> = {}): Catalog.Catalog<Services | R> => {
  const all: ReadonlyArray<Runbook.Any<Services | R>> = [...runbooks(o.runbooks), ...(o.extra ?? [])]
  const base = { ...(o.order ? { order: o.order } : {}), ...(o.settle !== undefined ? { settle: o.settle } : {}) }
  const defaults = Catalog.make(all, { ...base, ...(o.disable ? { disable: o.disable } : {}) })
  const known = new Set(all.map((rb) => rb.id))
  for (const id of [...(o.enable ?? []), ...(o.only ?? [])]) {
    if (!known.has(id)) throw new Error(`K8sCatalog.make: unknown runbook id ${id}`)
  }
  const enabled = o.only ?? [...defaults.entries.filter((e) => e.enabled).map((e) => e.runbook.id), ...(o.enable ?? [])]
  return Catalog.make(all, { ...base, enable: enabled, ...(o.disable ? { disable: o.disable } : {}) })
}

/** The ids enabled in a catalog, best ranked first. */
export const enabledIds = <R>(catalog: Catalog.Catalog<R>): ReadonlyArray<string> => catalog.entries.filter((e) => e.enabled).map((e) => e.runbook.id)

/** `Catalog.describe` with each runbook's precedence: `| rank | runbook | family | precedence | enabled |`. */
export const describe = <R>(catalog: Catalog.Catalog<R>): string =>
  [
    "| rank | runbook | family | precedence | enabled |",
    "|---|---|---|---|---|",
    ...catalog.entries.map((e) => `| ${e.rank + 1} | ${e.runbook.id} | ${e.runbook.family} | ${e.runbook.precedence} | ${e.enabled ? "yes" : "no"} |`)
  ].join("\n")
