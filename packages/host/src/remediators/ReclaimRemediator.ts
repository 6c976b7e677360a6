/**
 * The remediator of `host.disk.reclaim`: the seed's steps in its order, inside
 * `Plan.until(DiskFloor.ref(mount, floor), …)` (the floor shared with `host.disk.cleanup`: used %
 * below 80 by default and more than 5 % inodes free, checked before and after each step; the plan
 * stops at the first step under it, later targets untouched):
 *
 * | order | step | action kind | default |
 * |---|---|---|---|
 * | 1 | logrotate of logs > 100 MB (generated config) | `host.log.rotate` | on |
 * | 2 | gzip logs > 7 d | `host.log.gzip` | on |
 * | 3 | journal vacuum (`journalctl --vacuum-time=7d`) | `host.journal.vacuum` | on when a journal is configured and holds archived files over the age |
 * | 4 | container layers: Docker Engine prune, or `crictl rmi --prune` on Kubernetes nodes | `host.docker.prune` / `host.crictl.prune` | off (`dockerPruneEnabled`) |
 * | 5 | tmp > 24 h | `host.tmp.delete` | on |
 * | 6 | apt/yum/dnf/pip/npm caches | `host.package-cache.prune` | off (`packageCachePruneEnabled`) |
 * | 7 | volume growth: awaited `volume grow requested` hand-off, then growpart/resize2fs/xfs_growfs | `handoff`, `host.volume.growfs` | off (`volumeGrowthEnabled`) |
 *
 * Each act is skipped when it fails (Fallback on `failed`); the loop sits in a Fallback on `check`,
 * so still over the floor after every step completes the plan and the verifier (`DiskFloorHeld`)
 * escalates over 85 % with per-step bytes, the top-5 directories and +N GiB. Nothing to do at all
 * → an escalation at once.
 *
 * @since 0.1.0
 */
import { Plan } from "@byteport/core"
import type { Classification, Fact, Signal } from "@byteport/core"
import { Effect } from "effect"
import type { Duration } from "effect"
import * as Cleaners from "../actions/Cleaners"
import * as JournalVacuum from "../actions/JournalVacuum"
import * as Logrotate from "../actions/Logrotate"
import * as VolumeGrowth from "../actions/VolumeGrowth"
import type { ReclaimFacts } from "../diagnosers/ReclaimDiagnoser"
import * as DiskFloor from "../DiskFloor"
import * as R from "./DiskCleanupRemediator"
import * as S from "./DiskSteps"

/** The runbook id the plans name. */
export const RUNBOOK_ID = "host.disk.reclaim"

/** Options. */
export interface Options {
  readonly floorPercent?: number
  readonly logrotateMinBytes?: number
  /** The journal to vacuum (absent: no journal step); `{}` is journalctl's own directories. */
  readonly journal?: Omit<JournalVacuum.Params, "vacuumSize" | "vacuumTime">
  readonly vacuumTime?: string
  readonly dockerPruneEnabled?: boolean
  readonly aggressivePrune?: boolean
  /** Which runtime the image prune uses (default docker). */
  readonly containerRuntime?: S.ContainerRuntime
  readonly crictl?: string
  readonly packageCachePruneEnabled?: boolean
  readonly packageCaches?: ReadonlyArray<S.PackageCache>
  readonly volumeGrowthEnabled?: boolean
  /** `policy.maxVolumeGb`: the growth's cap (GiB). */
  readonly maxVolumeGb?: number
  /** How long the growth hand-off is awaited (default 30 minutes). */
  readonly growthAwait?: Duration.Input
  /** Offline ext4 resize (umount, e2fsck, resize2fs, mount): see `VolumeGrowth`. */
  readonly offlineExt4?: boolean
}

/** The default cap of a grown volume (GiB), when `maxVolumeGb` is not set. */
export const DEFAULT_MAX_VOLUME_GB = 1000

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

/** The plan (an Effect: the growth hand-off's signal is encoded with its Schema). */
export const planOf = (classification: Classification.Classified, facts: Fact.Facts<ReclaimFacts>, signal: Signal.Signal, options: Options = {}): Effect.Effect<Plan.Plan> =>
  Effect.gen(function*() {
    const floor = options.floorPercent ?? DiskFloor.DEFAULT_FLOOR_PERCENT
    const mount = signal.target
    const minBytes = options.logrotateMinBytes ?? Logrotate.DEFAULT_MIN_BYTES
    const bigLogs = known(facts.bigLogs) ?? []
    const logs = known(facts.logs) ?? []
    const tmp = known(facts.tmp) ?? []
    const journal = known(facts.journal) ?? []
    const usage = known(facts.usage)
    const volume = known(facts.volume) ?? null
    const top = known(facts.topDirs) ?? []
    const notes: Array<string> = []
    const actions = [
      ...bigLogs.map((c) => S.rotateAction(mount, c, minBytes)),
      ...logs.map((c) => S.fileAction(Cleaners.GZIP_LOG, mount, c)),
      ...(options.journal !== undefined && journal.length > 0
        ? [S.journalAction(mount, { ...options.journal, vacuumTime: options.vacuumTime ?? JournalVacuum.DEFAULT_VACUUM_TIME })]
        : []),
      ...(options.dockerPruneEnabled ? [S.imagePruneAction(mount, options.containerRuntime ?? "docker", options.aggressivePrune ?? false, options.crictl)] : []),
      ...tmp.map((c) => S.fileAction(Cleaners.DELETE_TMP, mount, c)),
      ...(options.packageCachePruneEnabled ? (options.packageCaches ?? S.DEFAULT_PACKAGE_CACHES).map((p) => S.packageAction(mount, p)) : [])
    ]
    const steps: Array<Plan.Step> = [...S.skippable(actions)]
    if (options.volumeGrowthEnabled) {
      if (volume === null || usage === undefined) {
        notes.push(`volume growth: the volume of ${mount.ref} is unknown${facts.volume._tag === "Unknown" ? ` (${facts.volume.reason})` : ""}`)
      } else {
        const requested = VolumeGrowth.requestedBytes(volume.sizeBytes, options.maxVolumeGb ?? DEFAULT_MAX_VOLUME_GB)
        if (requested === undefined) {
          notes.push(`volume growth: ${volume.volumeId} is at policy.maxVolumeGb (${options.maxVolumeGb ?? DEFAULT_MAX_VOLUME_GB} GiB)`)
        } else {
          const grow = yield* Effect.orDie(VolumeGrowth.signal(volume, requested, usage.usedBytes, signal.observedAt, `${mount.ref} is ${usage.usedPercent}% used after the safe steps`))
          steps.push(
            Plan.handOff(grow, { await: options.growthAwait ?? "30 minutes", reason: VolumeGrowth.describe(volume, requested) }),
            ...S.skippable([VolumeGrowth.growAction(mount, volume, usage.totalBytes, requested, options.offlineExt4 ?? false)])
          )
        }
      }
    }
    const noteText = notes.length === 0 ? "" : ` (${notes.join("; ")})`
    if (steps.length === 0) {
      const grow = usage === undefined ? undefined : R.growthGiB(usage, floor)
      return Plan.make(
        RUNBOOK_ID,
        classification.class,
        `nothing to reclaim on ${mount.ref}${noteText}`,
        Plan.escalate(
          `${mount.ref} is ${usage ? `${usage.usedPercent}%` : "over the floor"} used and nothing is safe to reclaim${grow !== undefined ? `: grow it by +${grow} GiB` : ""}`,
          [
            ...R.topLines(top).map((l) => `largest: ${l}`),
            ...(grow !== undefined ? [`grow the filesystem by +${grow} GiB (ceil(used / ${floor}% − size))`] : []),
            ...notes
          ]
        )
      )
    }
    const count = (kind: string) => actions.filter((a) => a.kind === kind).length
    return Plan.make(
      RUNBOOK_ID,
      classification.class,
      `until ${mount.ref} is below ${floor}% used: logrotate ${count(Logrotate.KIND)} log(s), gzip ${count(Cleaners.GZIP_LOG)}, ${
        actions.some((a) => a.kind === JournalVacuum.KIND) ? "journal vacuum, " : ""
      }${options.dockerPruneEnabled ? `${options.containerRuntime ?? "docker"} prune, ` : ""}delete ${count(Cleaners.DELETE_TMP)} temp file(s)${
        options.packageCachePruneEnabled ? ", package caches" : ""
      }${steps.length > actions.length ? ", then grow the volume" : ""}${noteText}`,
      Plan.fallback(Plan.until(DiskFloor.ref(mount.ref, floor), ...steps), Plan.seq(), { on: ["check"] })
    )
  })

/** The remediator (core `Remediator`). */
export const make = (options: Options = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<ReclaimFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  planOf(classification, facts, signal, options)
