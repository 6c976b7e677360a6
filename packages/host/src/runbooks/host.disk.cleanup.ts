/**
 * `host.disk.cleanup` — "End-to-end autonomous disk cleanup: diagnoses current disk usage and top
 * space consumers, then runs ordered remediation steps — log rotation, journald vacuum, /tmp
 * sweep, optional Docker prune, optional package cache prune — stopping as soon as usage drops
 * below the configurable free-space floor (default 80%). Escalates with a per-step
 * bytes-reclaimed summary and residual top-consumer paths if the floor is not restored after all
 * safe steps."
 *
 * Composed from the package's exported parts, in the seed's order:
 *
 * 1. **Detect** — `DiskUsage.make`: statfs of the configured mounts every 60 s; a mount at or over
 *    the threshold (default the floor, 80 % used as df's Use%) or with ≤ 5 % inodes free fires
 *    `host.disk.usage` (target `host.mount:<mount>`).
 * 2. **Diagnose** — `DiskDiagnoser`: statfs of the mount, the top-5 entries under the du roots
 *    (`Du.walk`), the candidates of the safe steps (`Cleaners.scanLogs`, `Cleaners.scanTmp`).
 * 3. **Classify** — `DiskCleanup.classifier`: one class, `disk_over_floor` (0.90).
 * 4. **Remediate** — `DiskCleanupRemediator`: `Plan.until(DiskFloor.ref(mount, floor), …)` over
 *    the safe steps in the seed's order — gzip logs older than 7 d, then delete temp files idle
 *    more than 24 h — one file per step, stopping at the first step under the floor. journald
 *    vacuum, Docker prune and package-cache prune are not in this release (the two opt-ins stay
 *    off by default; enabling one only notes it in the plan). Nothing safe to clean → escalation
 *    with the top-5 directories and +N GiB.
 * 5. **Verify** — `DiskFloorHeld`: under the floor → recovered; 80–85 % → recovered with a
 *    warning; > 85 % → escalation with per-step bytes (statfs deltas), top-5 directories and
 *    +N GiB = ceil(used / floor − size).
 *
 * The floor is the seed's "free-space floor" read as used % (df's Use%), as RUNBOOKS.md and the
 * issue decide. The hard safe-list (`Safety.HARD_SAFE_LIST`, active `access.log`, `error.log`,
 * `auth.log`) holds in every step: configuration adds paths, never removes one.
 *
 * @since 0.1.0
 */
import { Runbook, Settings } from "@byteport/core"
import type { ActionHandler, Check, Classifier, Detector, Fact, Verifier } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Config, Effect, Schema } from "effect"
import * as CrictlPrune from "../actions/CrictlPrune"
import * as Docker from "../actions/Docker"
import * as JournalVacuum from "../actions/JournalVacuum"
import * as Logrotate from "../actions/Logrotate"
import * as Measured from "../actions/Measured"
import * as PackageCaches from "../actions/PackageCaches"
import * as DiskCleanup from "../classifiers/DiskCleanup"
import * as DiskUsage from "../detectors/DiskUsage"
import * as DiskDiagnoser from "../diagnosers/DiskDiagnoser"
import * as DiskFloor from "../DiskFloor"
import * as DiskCleanupRemediator from "../remediators/DiskCleanupRemediator"
import * as Safety from "../safety/Safety"
import * as DiskFloorHeld from "../verifiers/DiskFloorHeld"

/** The runbook id. */
export const ID = "host.disk.cleanup"

/** The settings read from configuration (every seed number is a default). */
export interface DiskSettings {
  /** `BYTEPORT_DISK_FLOOR_PERCENT` (default 80): the floor, used %. */
  readonly floorPercent: number
  /** `BYTEPORT_DISK_ESCALATE_PERCENT` (default 85): above it after every safe step, escalate. */
  readonly escalatePercent: number
  /** `BYTEPORT_DISK_LOG_MAX_AGE_DAYS` (default 7): logs older than this are gzipped. */
  readonly logMaxAgeDays: number
  /** `BYTEPORT_DISK_TMP_MAX_AGE_HOURS` (default 24): temp files idle longer are deleted. */
  readonly tmpMaxAgeHours: number
  /** `BYTEPORT_DISK_DOCKER_PRUNE_ENABLED` (default false): the seed's `dockerPruneEnabled`. */
  readonly dockerPruneEnabled: boolean
  /** `BYTEPORT_DISK_PACKAGE_CACHE_PRUNE_ENABLED` (default false): the seed's `packageCachePruneEnabled`. */
  readonly packageCachePruneEnabled: boolean
  /** `BYTEPORT_DISK_AGGRESSIVE_PRUNE` (default false): `aggressivePrune`, `docker system prune -af`'s calls (never volumes). */
  readonly aggressivePrune: boolean
  /** `BYTEPORT_DISK_LOGROTATE_MIN_MB` (default 100): logs over it are rotated. */
  readonly logrotateMinMb: number
  /** `BYTEPORT_DISK_JOURNAL_VACUUM_SIZE` (default `200M`): the cleanup's `journalctl --vacuum-size`. */
  readonly vacuumSize: string
}

const percent = (key: string): Config.Config<number> =>
  Config.schema(
    Schema.Int.check(Schema.makeFilter((n: number) => (n > 0 && n <= 100) || `${key} must be an integer in 1..100, got ${JSON.stringify(n)}`)) as unknown as Schema.ConstraintCodec<number, unknown>,
    key
  )

/** The settings, validated with core `Settings` (a bad value is a `ConfigError` naming the key at startup). */
export const settings: Config.Config<DiskSettings> = Config.all({
  floorPercent: percent("BYTEPORT_DISK_FLOOR_PERCENT").pipe(Config.withDefault(DiskFloor.DEFAULT_FLOOR_PERCENT)),
  escalatePercent: percent("BYTEPORT_DISK_ESCALATE_PERCENT").pipe(Config.withDefault(DiskCleanupRemediator.DEFAULT_ESCALATE_PERCENT)),
  logMaxAgeDays: Settings.positiveInt("BYTEPORT_DISK_LOG_MAX_AGE_DAYS").pipe(Config.withDefault(7)),
  tmpMaxAgeHours: Settings.positiveInt("BYTEPORT_DISK_TMP_MAX_AGE_HOURS").pipe(Config.withDefault(24)),
  dockerPruneEnabled: Config.Boolean("BYTEPORT_DISK_DOCKER_PRUNE_ENABLED").pipe(Config.withDefault(false)),
  packageCachePruneEnabled: Config.Boolean("BYTEPORT_DISK_PACKAGE_CACHE_PRUNE_ENABLED").pipe(Config.withDefault(false)),
  aggressivePrune: Config.Boolean("BYTEPORT_DISK_AGGRESSIVE_PRUNE").pipe(Config.withDefault(false)),
  logrotateMinMb: Settings.positiveInt("BYTEPORT_DISK_LOGROTATE_MIN_MB").pipe(Config.withDefault(100)),
  vacuumSize: Config.schema(
    Schema.String.check(Schema.makeFilter((v: string) => /^\d+[KMGT]?$/.test(v) || `BYTEPORT_DISK_JOURNAL_VACUUM_SIZE must look like 200M, got ${JSON.stringify(v)}`)) as unknown as Schema.ConstraintCodec<string, unknown>,
    "BYTEPORT_DISK_JOURNAL_VACUUM_SIZE"
  ).pipe(Config.withDefault(JournalVacuum.DEFAULT_VACUUM_SIZE))
})

/** Where the runbook may act. */
export interface Roots {
  /** Temp roots (e.g. `/tmp`, `/var/tmp`): stale files are deleted. */
  readonly tmpRoots: ReadonlyArray<string>
  /** Log roots (e.g. `/var/log/myapp`): old logs are gzipped. */
  readonly logRoots: ReadonlyArray<string>
  /** Every root lies under it (default `/`). */
  readonly prefix?: string
  /** The host root the hard safe-list is resolved against (default `/`). */
  readonly hostRoot?: string
  /** Extra safe-listed paths (added to the hard list). */
  readonly safeList?: ReadonlyArray<string>
  /** Where du looks for the top consumers (default the tmp and log roots). */
  readonly duRoots?: ReadonlyArray<string>
  /** The journal to vacuum (`{}`: journalctl's own directories; absent: no journal step). */
  readonly journal?: Omit<JournalVacuum.Params, "vacuumSize" | "vacuumTime">
  /** The Docker Engine (default the unix socket `/var/run/docker.sock`). */
  readonly docker?: Docker.Endpoint
  /** The image prune's runtime: `docker` (Engine API) or `crictl` (Kubernetes nodes). Default docker. */
  readonly containerRuntime?: "docker" | "crictl"
  /** The crictl binary (default `crictl`). */
  readonly crictl?: string
  /** The package caches (default every manager with its own cache). */
  readonly packageCaches?: ReadonlyArray<PackageCaches.Params>
}

/** Options. */
export interface Options extends Roots, Partial<DiskSettings> {
  /** The mounts the detector watches (default none: no detector). */
  readonly mounts?: ReadonlyArray<string>
  /** Mode when configuration says nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The cleaners' policies of some roots. */
export const policies = (roots: Roots): { readonly tmpPolicy: Safety.Policy; readonly logPolicy: Safety.Policy } => {
  const common = {
    ...(roots.prefix !== undefined ? { prefix: roots.prefix } : {}),
    ...(roots.hostRoot !== undefined ? { hostRoot: roots.hostRoot } : {}),
    ...(roots.safeList !== undefined ? { safeList: roots.safeList } : {})
  }
  return { tmpPolicy: Safety.policy({ roots: roots.tmpRoots, ...common }), logPolicy: Safety.policy({ roots: roots.logRoots, ...common }) }
}

/** The runbook. */
export const make = (options: Options): Runbook.Runbook<DiskDiagnoser.DiskFacts> => {
  const { tmpPolicy, logPolicy } = policies(options)
  const floor = options.floorPercent ?? DiskFloor.DEFAULT_FLOOR_PERCENT
  return Runbook.make<DiskDiagnoser.DiskFacts>({
    id: ID,
    family: "host.disk",
    description: "Autonomous disk cleanup: log rotation, journald vacuum, temp sweep, opt-in Docker and package-cache prune; stop below the floor (default 80% used)",
    signals: [DiskUsage.SIGNAL_TYPE],
    precedence: 50,
    // Detect
    // Detect, Classify, Verify, next steps, mode (shared with host.disk.reclaim)
    ...shared<DiskDiagnoser.DiskFacts>(options, floor),
    // Diagnose
    diagnose: DiskDiagnoser.make({
      tmpPolicy,
      logPolicy,
      ...(options.duRoots ? { duRoots: options.duRoots } : {}),
      tmpScan: { minAgeMs: (options.tmpMaxAgeHours ?? 24) * 3600_000 },
      logScan: { minAgeMs: (options.logMaxAgeDays ?? 7) * 24 * 3600_000 },
      logrotateMinBytes: (options.logrotateMinMb ?? 100) * 1024 * 1024,
      ...(options.journal !== undefined ? { journal: { ...options.journal, vacuumSize: options.vacuumSize ?? JournalVacuum.DEFAULT_VACUUM_SIZE } } : {})
    }),
    // Remediate
    remediate: DiskCleanupRemediator.make({
      floorPercent: floor,
      ...(options.logMaxAgeDays !== undefined ? { logMaxAgeDays: options.logMaxAgeDays } : {}),
      ...(options.tmpMaxAgeHours !== undefined ? { tmpMaxAgeHours: options.tmpMaxAgeHours } : {}),
      ...(options.dockerPruneEnabled !== undefined ? { dockerPruneEnabled: options.dockerPruneEnabled } : {}),
      ...(options.aggressivePrune !== undefined ? { aggressivePrune: options.aggressivePrune } : {}),
      ...(options.containerRuntime !== undefined ? { containerRuntime: options.containerRuntime } : {}),
      ...(options.crictl !== undefined ? { crictl: options.crictl } : {}),
      ...(options.packageCachePruneEnabled !== undefined ? { packageCachePruneEnabled: options.packageCachePruneEnabled } : {}),
      ...(options.packageCaches !== undefined ? { packageCaches: options.packageCaches } : {}),
      logrotateMinBytes: (options.logrotateMinMb ?? 100) * 1024 * 1024,
      ...(options.journal !== undefined ? { journal: options.journal } : {}),
      ...(options.vacuumSize !== undefined ? { vacuumSize: options.vacuumSize } : {})
    }),
    config: [settings]
  })
}

/** The parts of a disk runbook that {@link shared} makes. */
export interface Shared<F> {
  readonly detector?: Detector.Detector<never>
  readonly classify: Classifier.Classifier<F>
  readonly verify: Verifier.Verifier<F>
  readonly verifySchedule: Verifier.VerifySchedule
  readonly nextSteps: (cls: unknown, facts: Fact.Facts<F>) => ReadonlyArray<string>
  readonly defaultMode: "observe" | "dry_run" | "auto"
}

/**
 * What `host.disk.cleanup` and `host.disk.reclaim` share: the statfs detector on `mounts` (none
 * without), the one-class classifier and the floor verifier at `floor`, the top-5 directories as
 * next steps, dry_run unless told otherwise.
 */
export const shared = <F extends DiskDiagnoser.DiskFacts>(
  options: { readonly mounts?: ReadonlyArray<string>; readonly escalatePercent?: number; readonly defaultMode?: "observe" | "dry_run" | "auto" },
  floor: number
): Shared<F> => ({
  ...(options.mounts && options.mounts.length > 0 ? { detector: DiskUsage.make({ mounts: options.mounts, thresholdPercent: floor }) } : {}),
  classify: DiskCleanup.classifier(floor) as Classifier.Classifier<F>,
  verify: DiskFloorHeld.make({ floorPercent: floor, ...(options.escalatePercent !== undefined ? { escalatePercent: options.escalatePercent } : {}) }) as Verifier.Verifier<F>,
  verifySchedule: DiskFloorHeld.DEFAULT_SCHEDULE,
  nextSteps: (_cls: unknown, facts: Fact.Facts<F>): ReadonlyArray<string> => {
    const top = facts.topDirs?._tag === "Known" ? facts.topDirs.value : []
    return DiskCleanupRemediator.topLines(top).map((l) => `largest: ${l}`)
  },
  defaultMode: options.defaultMode ?? "dry_run"
})

/** The runbook with its settings read from configuration (`settings`). */
export const fromConfig = (roots: Roots & { readonly mounts?: ReadonlyArray<string>; readonly defaultMode?: "observe" | "dry_run" | "auto" }) =>
  Effect.gen(function*() {
    const s = yield* settings
    return make({ ...roots, ...s })
  })

/**
 * The action handlers to register, each measured (`bytesFreed` = the statfs delta): `host.log.gzip`,
 * `host.tmp.delete`, `host.log.rotate`, `host.journal.vacuum`, `host.docker.prune` (the Engine at
 * `roots.docker`), `host.crictl.prune` and `host.package-cache.prune`, commands through `shell`
 * (default `Shell.local`).
 */
export const handlers = (roots: Roots, shell: Shell.ShellShape = Shell.local, options: { readonly logrotate?: string } = {}): ReadonlyArray<ActionHandler.ActionHandler> => {
  const p = policies(roots)
  return [
    ...DiskCleanupRemediator.handlers(p),
    Measured.measured(Logrotate.spec(shell, p.logPolicy, options.logrotate !== undefined ? { logrotate: options.logrotate } : {})),
    Measured.measured(JournalVacuum.spec(shell)),
    Measured.measured(Docker.spec(roots.docker ?? { socketPath: Docker.DEFAULT_SOCKET })),
    Measured.measured(CrictlPrune.spec(shell)),
    Measured.measured(PackageCaches.spec(shell))
  ]
}

/** The floor check (`host.disk.below-floor`) the plan loops on, to register with `ActionRegistry`. */
export const checks = (): ReadonlyArray<Check.Check> => [DiskFloor.check()]
