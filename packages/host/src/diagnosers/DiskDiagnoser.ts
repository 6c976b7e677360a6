/**
 * The diagnoser of `host.disk.cleanup`, every probe a Fact (a probe that fails is Unknown):
 *
 * - `usage`: statfs of the signal's mount (df's Use%, inodes);
 * - `topDirs`: the 5 largest entries under the configured du roots (`Du.walk`: allocated bytes,
 *   hard links once, no symlink followed, one filesystem, time-budgeted), largest first;
 * - `tmp` and `logs`: the candidates of the safe steps (`Cleaners.scanTmp`, `Cleaners.scanLogs`
 *   under their policies' roots), oldest first;
 * - `bigLogs`: logs over the logrotate threshold (`Logrotate.scan`, 100 MB), largest first;
 * - `journal`: the archived journal files the vacuum would remove (`JournalVacuum.wouldRemove`).
 *
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import { Clock, Effect } from "effect"
import type * as Cleaners from "../actions/Cleaners"
import { scanLogs, scanTmp } from "../actions/Cleaners"
import * as JournalVacuum from "../actions/JournalVacuum"
import * as Logrotate from "../actions/Logrotate"
import * as Du from "../Du"
import * as Statfs from "../readers/Statfs"
import type * as Safety from "../safety/Safety"

/** One of the largest directories (or files) under a du root. */
export interface TopDir {
  readonly path: string
  readonly bytes: number
}

/** The facts. */
export interface DiskFacts {
  readonly usage: Statfs.Usage
  /** The 5 largest entries under the du roots, largest first. */
  readonly topDirs: ReadonlyArray<TopDir>
  /** Stale temp files (> tmp age), oldest first. */
  readonly tmp: ReadonlyArray<Safety.Candidate>
  /** Logs to gzip (> log age), oldest first. */
  readonly logs: ReadonlyArray<Safety.Candidate>
  /** Logs over the logrotate threshold (100 MB), largest first. */
  readonly bigLogs: ReadonlyArray<Safety.Candidate>
  /** The archived journal files a vacuum would remove (paths, allocated bytes); empty without a journal configured. */
  readonly journal: ReadonlyArray<{ readonly path: string; readonly bytes: number }>
}

/** Diagnoser options. */
export interface Options {
  /** Where the temp-file step may act. */
  readonly tmpPolicy: Safety.Policy
  /** Where the log step may act. */
  readonly logPolicy: Safety.Policy
  /** The roots du walks for the top consumers (default the tmp and log roots). */
  readonly duRoots?: ReadonlyArray<string>
  /** How many top entries to keep (default 5). */
  readonly top?: number
  /** du budget per root, ms (default 10 000). */
  readonly duBudgetMillis?: number
  readonly tmpScan?: Omit<Cleaners.ScanOptions, "now">
  readonly logScan?: Omit<Cleaners.ScanOptions, "now">
  /** The logrotate threshold (default 100 MB). */
  readonly logrotateMinBytes?: number
  /** The journal to vacuum (absent: none) and the vacuum's limit (`vacuumSize` or `vacuumTime`). */
  readonly journal?: JournalVacuum.Params
}

/** The default number of top entries. */
export const DEFAULT_TOP = 5

/** The top entries of several du roots, merged, largest first. */
export const topDirs = (roots: ReadonlyArray<string>, top = DEFAULT_TOP, budgetMillis = 10_000): Effect.Effect<ReadonlyArray<TopDir>> =>
  Effect.gen(function*() {
    const all: Array<TopDir> = []
    for (const r of roots) {
      const res = yield* Effect.option(Du.walk(r, { top, budgetMillis }))
      if (res._tag === "Some") all.push(...res.value.entries.map((e) => ({ path: e.path, bytes: e.bytes })))
    }
    return all.sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path)).slice(0, top)
  })

/** The diagnoser. */
export const make = (options: Options): Diagnoser.Diagnoser<DiskFacts> =>
  Diagnoser.make<DiskFacts>({
    usage: Diagnoser.probe("usage", (signal) => Statfs.read(signal.target.ref)),
    topDirs: Diagnoser.probe("topDirs", () =>
      topDirs(options.duRoots ?? [...options.tmpPolicy.roots, ...options.logPolicy.roots], options.top ?? DEFAULT_TOP, options.duBudgetMillis)),
    tmp: Diagnoser.probe("tmp", () => Effect.map(Clock.currentTimeMillis, (now) => scanTmp(options.tmpPolicy, { ...options.tmpScan, now }))),
    logs: Diagnoser.probe("logs", () =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        // a log logrotate takes is not gzipped a second time
        const big = new Set(Logrotate.scan(options.logPolicy, options.logrotateMinBytes ?? Logrotate.DEFAULT_MIN_BYTES).map((c) => c.path))
        return scanLogs(options.logPolicy, { ...options.logScan, now }).filter((c) => !big.has(c.path))
      })),
    bigLogs: Diagnoser.probe("bigLogs", () => Effect.sync(() => Logrotate.scan(options.logPolicy, options.logrotateMinBytes ?? Logrotate.DEFAULT_MIN_BYTES))),
    journal: Diagnoser.probe("journal", () =>
      options.journal === undefined ? Effect.succeed([]) : Effect.map(Clock.currentTimeMillis, (now) => JournalVacuum.wouldRemove(options.journal!, now)))
  }, { timeout: "60 seconds" })
