/**
 * The remediator of `host.disk.cleanup`: the seed's safe steps in order, inside
 * `Plan.until(DiskFloor.ref(mount, floor), …)`, so the floor (used % below 80 by default, and
 * more than 5 % inodes free) is checked before and after each step and the plan stops at the first
 * step that brings the mount under it; later targets are not touched.
 *
 * | order | step | what | default |
 * |---|---|---|---|
 * | 1 | log rotation: logrotate of logs > 100 MB (generated config) | `host.log.rotate`, largest first | on |
 * | 1 | log rotation: gzip logs > 7 d | `host.log.gzip` of each old log under the log roots, oldest first | on |
 * | 2 | journald vacuum (`journalctl --vacuum-size=200M`) | `host.journal.vacuum` (archived files only) | on when a journal is configured and holds archived files over the limit |
 * | 3 | tmp > 24 h | `host.tmp.delete` of each stale temp file under the tmp roots, oldest first | on |
 * | 4 | Docker prune (`dockerPruneEnabled`): dangling images + build cache; `aggressivePrune`: `docker system prune -af`'s calls; never volumes. `crictl rmi --prune` on Kubernetes nodes | `host.docker.prune` / `host.crictl.prune` | off |
 * | 5 | package-cache prune (`packageCachePruneEnabled`): apt/yum/dnf clean, pip cache purge, npm cache clean | `host.package-cache.prune`, one per manager | off |
 *
 * Each file (and each other act) is one step of the loop (wrapped in a Fallback on `failed`: a file the safety core
 * refuses — open, changed, safe-listed — is skipped, the loop goes on). The loop itself sits in a
 * Fallback on `check`, so "still over the floor after every step" completes the plan and the
 * verifier decides (> 85 % escalates, 80–85 % closes with a warning). Nothing safe to clean → an
 * escalation with the top-5 directories and the growth needed (+N GiB).
 *
 * The handlers (`handlers`) measure each step as the statfs delta of its filesystem (never the
 * file's size) and put it in the outcome as `bytesFreed`.
 *
 * @since 0.1.0
 */
import { ActionHandler, Plan } from "@byteport/core"
import type { Action, TargetRef } from "@byteport/core"
import type { Classification, Fact, Signal } from "@byteport/core"
import { Effect } from "effect"
import * as nodePath from "node:path"
import * as Cleaners from "../actions/Cleaners"
import type { DiskFacts, TopDir } from "../diagnosers/DiskDiagnoser"
import * as DiskFloor from "../DiskFloor"
import type * as Statfs from "../readers/Statfs"
import * as Safety from "../safety/Safety"
import * as DiskSteps from "./DiskSteps"
import * as JournalVacuum from "../actions/JournalVacuum"
import * as Logrotate from "../actions/Logrotate"

/** The runbook id the plans name. */
export const RUNBOOK_ID = "host.disk.cleanup"

/** Above this used % after every safe step, the incident escalates (default 85). */
export const DEFAULT_ESCALATE_PERCENT = 85

/** The names of the steps, as reports show them. */
export const STEP_NAMES: Readonly<Record<string, string>> = DiskSteps.STEP_NAMES

/** Remediator options. */
export interface Options {
  /** The floor, used % (default 80). */
  readonly floorPercent?: number
  /** Log age in days, for the texts (default 7; the diagnoser's scan decides). */
  readonly logMaxAgeDays?: number
  /** Temp-file age in hours, for the texts (default 24). */
  readonly tmpMaxAgeHours?: number
  /** Opt-in container-image prune (default false): Docker Engine API, or crictl on Kubernetes nodes. */
  readonly dockerPruneEnabled?: boolean
  /** `docker system prune -af`'s calls instead of dangling images + build cache (default false). */
  readonly aggressivePrune?: boolean
  /** The image prune's runtime (default docker). */
  readonly containerRuntime?: DiskSteps.ContainerRuntime
  readonly crictl?: string
  /** Opt-in package-cache prune (default false). */
  readonly packageCachePruneEnabled?: boolean
  /** The package caches (default every manager's own cache). */
  readonly packageCaches?: ReadonlyArray<DiskSteps.PackageCache>
  /** The logrotate threshold (default 100 MB). */
  readonly logrotateMinBytes?: number
  /** The journal to vacuum (absent: no journal step; `{}`: journalctl's own directories). */
  readonly journal?: Omit<JournalVacuum.Params, "vacuumSize" | "vacuumTime">
  /** The vacuum's limit (default `200M`). */
  readonly vacuumSize?: string
}

const GiB = 1024 ** 3

/**
 * Pure: the growth, in whole GiB, that brings `usage` under the floor: ceil(used / floor − size),
 * with size = used + available (df's basis for Use%); 0 when already under it.
 */
export const growthGiB = (usage: Pick<Statfs.Usage, "usedBytes" | "availableBytes">, floorPercent: number = DiskFloor.DEFAULT_FLOOR_PERCENT): number => {
  const size = usage.usedBytes + usage.availableBytes
  const need = usage.usedBytes / (floorPercent / 100) - size
  return need <= 0 ? 0 : Math.ceil(need / GiB)
}

/** Pure: a human size. */
export const human = (bytes: number): string =>
  bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : bytes >= 1024 ** 2 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${bytes} B`

/** Pure: the top directories as report lines. */
export const topLines = (dirs: ReadonlyArray<TopDir>): ReadonlyArray<string> => dirs.map((d) => `${d.path}: ${human(d.bytes)}`)

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

/** The action of one cleaner step on one file. */
export const action = (kind: typeof Cleaners.GZIP_LOG | typeof Cleaners.DELETE_TMP, mount: TargetRef.TargetRef, c: Safety.Candidate): Action.Action =>
  DiskSteps.fileAction(kind, mount, c)

/** Pure: the plan. */
export const planOf = (classification: Classification.Classified, facts: Fact.Facts<DiskFacts>, signal: Signal.Signal, options: Options = {}): Plan.Plan => {
  const floor = options.floorPercent ?? DiskFloor.DEFAULT_FLOOR_PERCENT
  const mount = signal.target
  const logs = known(facts.logs) ?? []
  const tmp = known(facts.tmp) ?? []
  const usage = known(facts.usage)
  const top = known(facts.topDirs) ?? []
  const bigLogs = known(facts.bigLogs) ?? []
  const journal = known(facts.journal) ?? []
  const notes: Array<string> = []
  const days = options.logMaxAgeDays ?? 7
  const hours = options.tmpMaxAgeHours ?? 24
  const minBytes = options.logrotateMinBytes ?? Logrotate.DEFAULT_MIN_BYTES
  const vacuum = options.journal !== undefined && journal.length > 0
  const actions = [
    // log rotation: logrotate of logs over 100 MB, gzip of logs older than 7 d
    ...bigLogs.map((c) => DiskSteps.rotateAction(mount, c, minBytes)),
    ...logs.map((c) => action(Cleaners.GZIP_LOG, mount, c)),
    // journald vacuum
    ...(vacuum ? [DiskSteps.journalAction(mount, { ...options.journal, vacuumSize: options.vacuumSize ?? JournalVacuum.DEFAULT_VACUUM_SIZE })] : []),
    // /tmp sweep
    ...tmp.map((c) => action(Cleaners.DELETE_TMP, mount, c)),
    // optional Docker (or crictl) prune, optional package-cache prune
    ...(options.dockerPruneEnabled ? [DiskSteps.imagePruneAction(mount, options.containerRuntime ?? "docker", options.aggressivePrune ?? false, options.crictl)] : []),
    ...(options.packageCachePruneEnabled ? (options.packageCaches ?? DiskSteps.DEFAULT_PACKAGE_CACHES).map((p) => DiskSteps.packageAction(mount, p)) : [])
  ]
  const noteText = notes.length === 0 ? "" : ` (${notes.join("; ")})`
  const steps = DiskSteps.skippable(actions)
  const fileSteps = bigLogs.length + logs.length + tmp.length
  if (fileSteps === 0 && !vacuum && !options.dockerPruneEnabled && !options.packageCachePruneEnabled) {
    const grow = usage === undefined ? undefined : growthGiB(usage, floor)
    return Plan.make(
      RUNBOOK_ID,
      classification.class,
      `nothing safe to clean on ${mount.ref}${noteText}`,
      Plan.escalate(
        `${mount.ref} is ${usage ? `${usage.usedPercent}%` : "over the floor"} used and nothing is safe to clean (no log older than ${days} d, no temp file older than ${hours} h)${grow !== undefined ? `: grow it by +${grow} GiB` : ""}`,
        [
          ...topLines(top).map((l) => `largest: ${l}`),
          ...(grow !== undefined ? [`grow the filesystem by +${grow} GiB (ceil(used / ${floor}% − size))`] : []),
          "or remove data by hand from the largest directories",
          ...notes
        ]
      )
    )
  }
  return Plan.make(
    RUNBOOK_ID,
    classification.class,
    `until ${mount.ref} is below ${floor}% used: ${bigLogs.length > 0 ? `logrotate ${bigLogs.length} log(s) > ${Math.round(minBytes / 1024 ** 2)} MB, ` : ""}gzip ${logs.length} log(s) > ${days} d, ${
      vacuum ? `journal vacuum to ${options.vacuumSize ?? JournalVacuum.DEFAULT_VACUUM_SIZE}, ` : ""
    }then delete ${tmp.length} temp file(s) > ${hours} h${options.dockerPruneEnabled ? `, ${options.containerRuntime ?? "docker"} prune` : ""}${options.packageCachePruneEnabled ? ", package caches" : ""}${noteText}`,
    Plan.fallback(Plan.until(DiskFloor.ref(mount.ref, floor), ...steps), Plan.seq(), { on: ["check"] })
  )
}

/** The remediator (core `Remediator`). */
export const make = (options: Options = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<DiskFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.sync(() => planOf(classification, facts, signal, options))

const measured = (kind: string, policy: Safety.Policy, act: typeof Cleaners.deleteFile, inner: ActionHandler.ActionHandler) =>
  ActionHandler.make({
    kind,
    params: Safety.Candidate,
    apply: (c, ctx) =>
      DiskFloor.measure(nodePath.dirname(c.path), act(policy, c, ctx.dryRun)).pipe(
        Effect.mapError((e) =>
          new ActionHandler.ActionFailed({
            kind,
            message: e.message,
            conflict: e._tag === "Refused" ? e.reason !== "vanished" : false
          })
        ),
        Effect.map((m) => {
          const d = m.value
          const what = d.archive !== undefined ? `gzip ${d.path} → ${d.archive}` : `delete ${d.path}`
          return {
            detail: `${ctx.dryRun ? "would " : ""}${what}: ${ctx.dryRun ? 0 : m.bytesFreed} bytes freed (statfs), ${m.after.usedPercent}% used`,
            result: {
              path: d.path,
              ...(d.archive !== undefined ? { archive: d.archive } : {}),
              allocatedBytes: d.allocatedBytes,
              bytesFreed: ctx.dryRun ? 0 : m.bytesFreed,
              usedPercentBefore: m.before.usedPercent,
              usedPercentAfter: m.after.usedPercent,
              dryRun: ctx.dryRun
            }
          }
        })
      ),
    observe: (_c, ctx) => inner.observe ? inner.observe(ctx.action, { incidentId: ctx.incidentId, since: ctx.since }) : Effect.succeed(ActionHandler.unknown("no observe"))
  })

/**
 * The runbook's action handlers: `host.log.gzip` under `logPolicy` and `host.tmp.delete` under
 * `tmpPolicy`, as `Cleaners`' handlers (same safety, same `observe`), each step's result carrying
 * `bytesFreed` = the statfs delta of its filesystem.
 */
export const handlers = (policies: { readonly tmpPolicy: Safety.Policy; readonly logPolicy: Safety.Policy }): ReadonlyArray<ActionHandler.ActionHandler> => [
  measured(Cleaners.GZIP_LOG, policies.logPolicy, Cleaners.gzipFile, Cleaners.gzipLogHandler(policies.logPolicy)),
  measured(Cleaners.DELETE_TMP, policies.tmpPolicy, Cleaners.deleteFile, Cleaners.deleteTmpHandler(policies.tmpPolicy))
]
