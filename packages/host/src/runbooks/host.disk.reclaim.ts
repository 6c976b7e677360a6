/**
 * `host.disk.reclaim` — "Autonomous full disk-space reclaim: parallel diagnose
 * (df/inode/du/docker/journald), rotate+compress logs (logrotate+gzip>100MB+journal vacuum 7d),
 * evict container layers (docker system prune or crictl rmi --prune on K8s nodes), drop expired
 * tmp+apt/yum/pip/npm caches, and optionally grow cloud-managed volumes (EBS ModifyVolume / GCP
 * disks.resize +25%, capped at policy.maxVolumeGb). Stops as soon as disk usage drops below 80%.
 * Escalates with +N GB recommendation based on current excess and top-5 largest dirs if usage
 * still >85%."
 *
 * 1. **Detect** — `DiskUsage.make` (as `host.disk.cleanup`): df's Use% at or over the floor, or
 *    ≤ 5 % inodes free, fires `host.disk.usage`.
 * 2. **Diagnose** — `ReclaimDiagnoser`, every probe concurrent.
 * 3. **Classify** — `DiskCleanup.classifier` (`disk_over_floor`, 0.90).
 * 4. **Remediate** — `ReclaimRemediator`: the seed's steps in order inside
 *    `Plan.until(DiskFloor.ref(mount, floor))`; Docker/crictl prune, package caches and volume
 *    growth only when opted in.
 * 5. **Verify** — `DiskFloorHeld` (shared with the cleanup): under the floor → recovered; 80–85 % →
 *    recovered with a warning; > 85 % → escalation with per-step bytes (statfs deltas), the top-5
 *    directories and +N GiB = ceil(used / floor − size).
 *
 * @since 0.1.0
 */
import { Runbook, Settings } from "@byteport/core"
import type { ActionHandler, Check } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Config, Effect } from "effect"
import type { Duration } from "effect"
import * as Docker from "../actions/Docker"
import * as JournalVacuum from "../actions/JournalVacuum"
import * as VolumeGrowth from "../actions/VolumeGrowth"
import * as DiskCleanup from "../classifiers/DiskCleanup"
import * as DiskUsage from "../detectors/DiskUsage"
import * as ReclaimDiagnoser from "../diagnosers/ReclaimDiagnoser"
import * as DiskFloor from "../DiskFloor"
import * as ReclaimRemediator from "../remediators/ReclaimRemediator"
import * as HostDiskCleanup from "./host.disk.cleanup"

/** The runbook id. */
export const ID = "host.disk.reclaim"

/** The reclaim's settings: the cleanup's, plus its own (every seed number a default). */
export interface ReclaimSettings extends HostDiskCleanup.DiskSettings {
  /** `BYTEPORT_DISK_VOLUME_GROWTH_ENABLED` (default false): grow the cloud volume as the last step. */
  readonly volumeGrowthEnabled: boolean
  /** `BYTEPORT_DISK_MAX_VOLUME_GB` (default 1000): the seed's `policy.maxVolumeGb`. */
  readonly maxVolumeGb: number
  /** `BYTEPORT_DISK_JOURNAL_VACUUM_TIME` (default `7d`). */
  readonly vacuumTime: string
}

/** The settings, validated with core `Settings` at startup. */
export const settings: Config.Config<ReclaimSettings> = Config.all({
  base: HostDiskCleanup.settings,
  volumeGrowthEnabled: Config.Boolean("BYTEPORT_DISK_VOLUME_GROWTH_ENABLED").pipe(Config.withDefault(false)),
  maxVolumeGb: Settings.positiveInt("BYTEPORT_DISK_MAX_VOLUME_GB").pipe(Config.withDefault(ReclaimRemediator.DEFAULT_MAX_VOLUME_GB)),
  vacuumTime: Config.String("BYTEPORT_DISK_JOURNAL_VACUUM_TIME").pipe(Config.withDefault(JournalVacuum.DEFAULT_VACUUM_TIME))
}).pipe(Config.map(({ base, ...rest }) => ({ ...base, ...rest })))

/** Where the runbook may act, and the systems it talks to. */
export interface Roots extends HostDiskCleanup.Roots {
  /** Where the volume resolver reads (tests). */
  readonly resolve?: VolumeGrowth.ResolveOptions
  /** Offline ext4 resize (see `VolumeGrowth`). */
  readonly offlineExt4?: boolean
  /** How long the growth hand-off is awaited (default 30 minutes). */
  readonly growthAwait?: Duration.Input
}

/** Options. */
export interface Options extends Roots, Partial<ReclaimSettings> {
  readonly mounts?: ReadonlyArray<string>
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The runbook. */
export const make = (options: Options): Runbook.Runbook<ReclaimDiagnoser.ReclaimFacts> => {
  const { tmpPolicy, logPolicy } = HostDiskCleanup.policies(options)
  const floor = options.floorPercent ?? DiskFloor.DEFAULT_FLOOR_PERCENT
  const minBytes = (options.logrotateMinMb ?? 100) * 1024 * 1024
  const docker = options.docker ?? { socketPath: Docker.DEFAULT_SOCKET }
  return Runbook.make<ReclaimDiagnoser.ReclaimFacts>({
    id: ID,
    family: "host.disk",
    description: "Full disk-space reclaim: logrotate, gzip, journal vacuum, opt-in image prune, tmp, opt-in package caches, opt-in volume growth; stop below the floor (default 80% used)",
    signals: [DiskUsage.SIGNAL_TYPE],
    precedence: 60,
    ...HostDiskCleanup.shared<ReclaimDiagnoser.ReclaimFacts>(options, floor),
    diagnose: ReclaimDiagnoser.make({
      tmpPolicy,
      logPolicy,
      ...(options.duRoots ? { duRoots: options.duRoots } : {}),
      tmpMinAgeMs: (options.tmpMaxAgeHours ?? 24) * 3600_000,
      logMinAgeMs: (options.logMaxAgeDays ?? 7) * 24 * 3600_000,
      logrotateMinBytes: minBytes,
      ...(options.journal !== undefined ? { journal: options.journal } : {}),
      ...(options.vacuumTime !== undefined ? { vacuumTime: options.vacuumTime } : {}),
      docker,
      dockerPrune: (options.dockerPruneEnabled ?? false) && (options.containerRuntime ?? "docker") === "docker",
      aggressivePrune: options.aggressivePrune ?? false,
      volumeGrowth: options.volumeGrowthEnabled ?? false,
      ...(options.resolve !== undefined ? { resolve: options.resolve } : {})
    }),
    remediate: ReclaimRemediator.make({
      floorPercent: floor,
      logrotateMinBytes: minBytes,
      ...(options.journal !== undefined ? { journal: options.journal } : {}),
      ...(options.vacuumTime !== undefined ? { vacuumTime: options.vacuumTime } : {}),
      dockerPruneEnabled: options.dockerPruneEnabled ?? false,
      aggressivePrune: options.aggressivePrune ?? false,
      containerRuntime: options.containerRuntime ?? "docker",
      ...(options.crictl !== undefined ? { crictl: options.crictl } : {}),
      packageCachePruneEnabled: options.packageCachePruneEnabled ?? false,
      ...(options.packageCaches !== undefined ? { packageCaches: options.packageCaches } : {}),
      volumeGrowthEnabled: options.volumeGrowthEnabled ?? false,
      ...(options.maxVolumeGb !== undefined ? { maxVolumeGb: options.maxVolumeGb } : {}),
      ...(options.growthAwait !== undefined ? { growthAwait: options.growthAwait } : {}),
      ...(options.offlineExt4 !== undefined ? { offlineExt4: options.offlineExt4 } : {})
    }),
    config: [settings]
  })
}

/** The runbook with its settings read from configuration (`settings`). */
export const fromConfig = (roots: Roots & { readonly mounts?: ReadonlyArray<string>; readonly defaultMode?: "observe" | "dry_run" | "auto" }) =>
  Effect.gen(function*() {
    const s = yield* settings
    return make({ ...roots, ...s })
  })

/**
 * The action handlers to register: the cleanup's (`host.log.gzip`, `host.tmp.delete`) and
 * `host.log.rotate`, `host.journal.vacuum`, `host.docker.prune`, `host.crictl.prune`,
 * `host.package-cache.prune` (each measured: `bytesFreed` = the statfs delta of the mount) and
 * `host.volume.growfs`, all running their commands through `shell` (default `Shell.local`).
 */
export const handlers = (roots: Roots, shell: Shell.ShellShape = Shell.local, options: { readonly logrotate?: string; readonly sysBlock?: string } = {}): ReadonlyArray<ActionHandler.ActionHandler> => [
  ...HostDiskCleanup.handlers(roots, shell, options.logrotate !== undefined ? { logrotate: options.logrotate } : {}),
  VolumeGrowth.handler(shell, options.sysBlock !== undefined ? { sysBlock: options.sysBlock } : {})
]

/** The floor check (`host.disk.below-floor`), to register with `ActionRegistry`. */
export const checks = (): ReadonlyArray<Check.Check> => [DiskFloor.check()]
