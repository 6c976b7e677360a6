/**
 * The diagnoser of `host.disk.reclaim`: the seed's "parallel diagnose (df/inode/du/docker/journald)",
 * every probe concurrent and a Fact (a probe that fails is Unknown, never an abort):
 *
 * - `usage`: statfs of the signal's mount (df's Use%, inodes);
 * - `topDirs`: the 5 largest entries under the du roots (`Du.walk`);
 * - `bigLogs`: logs over 100 MB (`Logrotate.scan`), largest first;
 * - `logs`: logs older than 7 d (`Cleaners.scanLogs`), oldest first;
 * - `tmp`: temp files idle more than 24 h (`Cleaners.scanTmp`), oldest first;
 * - `journal`: the archived journal files a `--vacuum-time` vacuum would remove (only with a journal configured);
 * - `docker`: what the Engine's `/system/df` says a prune would remove (only when the prune is enabled on Docker);
 * - `volume`: the mount's volume (`VolumeGrowth.resolve`; only when volume growth is enabled).
 *
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import { Clock, Effect } from "effect"
import { scanLogs, scanTmp } from "../actions/Cleaners"
import * as Docker from "../actions/Docker"
import * as JournalVacuum from "../actions/JournalVacuum"
import * as Logrotate from "../actions/Logrotate"
import * as VolumeGrowth from "../actions/VolumeGrowth"
import type { DiskFacts } from "./DiskDiagnoser"
import { topDirs } from "./DiskDiagnoser"
import * as Statfs from "../readers/Statfs"
import type * as Safety from "../safety/Safety"

/** The facts: the cleanup's, plus the reclaim's. */
export interface ReclaimFacts extends DiskFacts {
  /** What a Docker prune would remove; zeros when the prune is off or on crictl. */
  readonly docker: { readonly images: number; readonly caches: number; readonly containers: number; readonly bytes: number }
  /** The mount's volume; absent when growth is off. */
  readonly volume: VolumeGrowth.Volume | null
}

/** Options. */
export interface Options {
  readonly tmpPolicy: Safety.Policy
  readonly logPolicy: Safety.Policy
  readonly duRoots?: ReadonlyArray<string>
  readonly tmpMinAgeMs?: number
  readonly logMinAgeMs?: number
  readonly logrotateMinBytes?: number
  /** The journal to vacuum (absent: no journal step). */
  readonly journal?: Omit<JournalVacuum.Params, "vacuumSize" | "vacuumTime">
  readonly vacuumTime?: string
  /** The Docker Engine to read (only read when `dockerPrune` is on). */
  readonly docker?: Docker.Endpoint
  readonly dockerPrune?: boolean
  readonly aggressivePrune?: boolean
  /** Resolve the mount's volume (volume growth on). */
  readonly volumeGrowth?: boolean
  readonly resolve?: VolumeGrowth.ResolveOptions
}

/** The diagnoser. */
export const make = (options: Options): Diagnoser.Diagnoser<ReclaimFacts> =>
  Diagnoser.make<ReclaimFacts>({
    usage: Diagnoser.probe("usage", (signal) => Statfs.read(signal.target.ref)),
    topDirs: Diagnoser.probe("topDirs", () => topDirs(options.duRoots ?? [...options.tmpPolicy.roots, ...options.logPolicy.roots])),
    bigLogs: Diagnoser.probe("bigLogs", () => Effect.sync(() => Logrotate.scan(options.logPolicy, options.logrotateMinBytes ?? Logrotate.DEFAULT_MIN_BYTES))),
    logs: Diagnoser.probe("logs", () =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        scanLogs(options.logPolicy, { now, ...(options.logMinAgeMs !== undefined ? { minAgeMs: options.logMinAgeMs } : {}) })
          // a log logrotate takes is not gzipped a second time
          .filter((c) => !Logrotate.scan(options.logPolicy, options.logrotateMinBytes ?? Logrotate.DEFAULT_MIN_BYTES).some((b) => b.path === c.path)))),
    tmp: Diagnoser.probe("tmp", () =>
      Effect.map(Clock.currentTimeMillis, (now) => scanTmp(options.tmpPolicy, { now, ...(options.tmpMinAgeMs !== undefined ? { minAgeMs: options.tmpMinAgeMs } : {}) }))),
    journal: Diagnoser.probe("journal", () =>
      options.journal === undefined
        ? Effect.succeed([])
        : Effect.map(Clock.currentTimeMillis, (now) => JournalVacuum.wouldRemove({ ...options.journal, vacuumTime: options.vacuumTime ?? JournalVacuum.DEFAULT_VACUUM_TIME }, now))),
    docker: Diagnoser.probe("docker", () =>
      options.dockerPrune && options.docker !== undefined
        ? Effect.map(Docker.systemDf(Docker.client(options.docker, 10_000)), (df) => Docker.wouldRemove(df, options.aggressivePrune ?? false))
        : Effect.succeed({ images: 0, caches: 0, containers: 0, bytes: 0 })),
    volume: Diagnoser.probe("volume", (signal) => options.volumeGrowth ? VolumeGrowth.resolve(signal.target.ref, options.resolve) : Effect.succeed(null))
  }, { timeout: "60 seconds" })
