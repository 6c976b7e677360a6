/**
 * The runbook families of `@byteport/k8s` and their catalog precedence (lower ranks first). A
 * family holds the runbooks that answer the same signals; the Catalog enables the first runbook
 * of each family unless configured otherwise, and the precedence sends an overlapping incident
 * (an OOMKilled pod that also crash-loops) to the most specific family: `k8s.oom`, then
 * `k8s.image-pull` / `k8s.pending`, then `k8s.crashloop`.
 *
 * | family | runbooks (default first) | precedence |
 * |---|---|---|
 * | `k8s.oom` | six-signal, exit-137 | 10, 11 |
 * | `k8s.image-pull` | image-pull | 20 |
 * | `k8s.pending` | pending | 20 |
 * | `k8s.crashloop` | five-branch, seven-class, exit-code, restart-loop.container | 30–33 |
 *
 * @example
 * ```ts
 * import { Families } from "@byteport/k8s"
 * Runbook.make({ id: Families.Ids.imagePull, family: Families.Family.imagePull, precedence: Families.precedenceOf(Families.Ids.imagePull), … })
 * ```
 *
 * @since 0.1.0
 */

/** The family names. */
export const Family = {
  /** OOM kills and pod memory pressure. */
  oom: "k8s.oom",
  /** Images that cannot be pulled. */
  imagePull: "k8s.image-pull",
  /** Pods that stay Pending. */
  pending: "k8s.pending",
  /** Crash loops and container restart loops. */
  crashloop: "k8s.crashloop"
} as const

/** A family name. */
export type Family = typeof Family[keyof typeof Family]

/** The runbook ids of the pod families (the seed's ids). */
export const Ids = {
  /** k8s.oom: six signals (default of its family). */
  oomSixSignal: "k8s.oom.six-signal",
  /** k8s.oom: exit code 137 with reason OOMKilled. */
  oomExit137: "k8s.oom.exit-137",
  /** k8s.image-pull. */
  imagePull: "k8s.image-pull",
  /** k8s.pending. */
  pending: "k8s.pending",
  /** k8s.crashloop: five branches (default of its family). */
  crashloopFiveBranch: "k8s.crashloop.five-branch",
  /** k8s.crashloop: seven classes. */
  crashloopSevenClass: "k8s.crashloop.seven-class",
  /** k8s.crashloop: by exit code. */
  crashloopExitCode: "k8s.crashloop.exit-code",
  /** k8s.crashloop: container restart loops. */
  restartLoopContainer: "k8s.restart-loop.container"
} as const

/** A runbook id of the pod families. */
export type Id = typeof Ids[keyof typeof Ids]

/** The family of each runbook id. */
export const familyOf: { readonly [K in Id]: Family } = {
  "k8s.oom.six-signal": Family.oom,
  "k8s.oom.exit-137": Family.oom,
  "k8s.image-pull": Family.imagePull,
  "k8s.pending": Family.pending,
  "k8s.crashloop.five-branch": Family.crashloop,
  "k8s.crashloop.seven-class": Family.crashloop,
  "k8s.crashloop.exit-code": Family.crashloop,
  "k8s.restart-loop.container": Family.crashloop
}

/** The precedence of each family (lower ranks first): OOM, then image-pull/pending, then crash loops. */
export const FamilyPrecedence: { readonly [K in Family]: number } = {
  "k8s.oom": 10,
  "k8s.image-pull": 20,
  "k8s.pending": 20,
  "k8s.crashloop": 30
}

/**
 * The catalog precedence of each runbook id: its family's, plus its place in the family (so the
 * family's default comes first: six-signal before exit-137, five-branch before seven-class,
 * exit-code and restart-loop.container).
 */
export const Precedence: { readonly [K in Id]: number } = {
  "k8s.oom.six-signal": 10,
  "k8s.oom.exit-137": 11,
  "k8s.image-pull": 20,
  "k8s.pending": 20,
  "k8s.crashloop.five-branch": 30,
  "k8s.crashloop.seven-class": 31,
  "k8s.crashloop.exit-code": 32,
  "k8s.restart-loop.container": 33
}

/** The precedence of a runbook id. */
export const precedenceOf = (id: Id): number => Precedence[id]

/** The runbook ids of a family, default first. */
export const members = (family: Family): ReadonlyArray<Id> =>
  (Object.keys(familyOf) as Array<Id>).filter((id) => familyOf[id] === family).sort((a, b) => Precedence[a] - Precedence[b])
