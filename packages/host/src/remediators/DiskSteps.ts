/**
 * The steps the two disk runbooks (`host.disk.cleanup`, `host.disk.reclaim`) share: one core
 * `Action` per act, each wrapped in a Fallback on `failed` (a refused or failed act is skipped and
 * the loop goes on), all inside the caller's `Plan.until(DiskFloor.ref(mount, floor), …)`.
 *
 * Every non-file action carries `mount` in its params: its handler (`Measured.measured`) reports
 * the statfs delta of that mount as `bytesFreed`.
 *
 * @since 0.1.0
 */
import { Action, Plan, TargetRef } from "@byteport/core"
import * as Cleaners from "../actions/Cleaners"
import * as CrictlPrune from "../actions/CrictlPrune"
import * as Docker from "../actions/Docker"
import * as JournalVacuum from "../actions/JournalVacuum"
import * as Logrotate from "../actions/Logrotate"
import * as PackageCaches from "../actions/PackageCaches"
import type * as Safety from "../safety/Safety"

/** The names of the steps, as reports show them (by action kind). */
export const STEP_NAMES: Readonly<Record<string, string>> = {
  [Logrotate.KIND]: "logrotate > 100 MB",
  [Cleaners.GZIP_LOG]: "gzip old logs",
  [JournalVacuum.KIND]: "journald vacuum",
  [Docker.KIND]: "docker prune",
  [CrictlPrune.KIND]: "crictl rmi --prune",
  [Cleaners.DELETE_TMP]: "tmp sweep",
  [PackageCaches.KIND]: "package-cache prune"
}

/** Which container runtime the image prune uses. */
export type ContainerRuntime = "docker" | "crictl"

/** A package cache to prune (manager, optional cache dir and binary). */
export type PackageCache = PackageCaches.Params

const skip = (a: Action.Action): Plan.Step => Plan.fallback(Plan.act(a), Plan.seq(), { on: ["failed"] })

/** A file act (`host.log.gzip`, `host.tmp.delete`) on one candidate. */
export const fileAction = (kind: typeof Cleaners.GZIP_LOG | typeof Cleaners.DELETE_TMP, mount: TargetRef.TargetRef, c: Safety.Candidate): Action.Action =>
  Action.make({
    kind,
    target: TargetRef.make("host.file", c.path, mount),
    params: { path: c.path, dev: c.dev, ino: c.ino, size: c.size, mtimeMs: c.mtimeMs },
    idempotencyKey: `${kind}:${c.dev}:${c.ino}:${c.mtimeMs}`,
    description: `${STEP_NAMES[kind]}: ${kind === Cleaners.GZIP_LOG ? "gzip" : "delete"} ${c.path} (${c.size} bytes)`
  })

/** `host.log.rotate` of one log over the threshold. */
export const rotateAction = (mount: TargetRef.TargetRef, c: Safety.Candidate, minBytes: number): Action.Action =>
  Action.make({
    kind: Logrotate.KIND,
    target: TargetRef.make("host.file", c.path, mount),
    params: { mount: mount.ref, path: c.path, dev: c.dev, ino: c.ino, size: c.size, mtimeMs: c.mtimeMs, minBytes },
    idempotencyKey: `${Logrotate.KIND}:${c.dev}:${c.ino}:${c.mtimeMs}`,
    description: `${STEP_NAMES[Logrotate.KIND]}: logrotate ${c.path} (${c.size} bytes)`
  })

/** `host.journal.vacuum` (`--vacuum-size` or `--vacuum-time`). */
export const journalAction = (mount: TargetRef.TargetRef, p: JournalVacuum.Params): Action.Action =>
  Action.make({
    kind: JournalVacuum.KIND,
    target: TargetRef.make("host.journal", p.directory ?? "system", mount),
    params: { mount: mount.ref, ...p },
    idempotencyKey: `${JournalVacuum.KIND}:${mount.ref}:${p.directory ?? "system"}:${p.vacuumSize ?? p.vacuumTime}`,
    description: `${STEP_NAMES[JournalVacuum.KIND]}: ${JournalVacuum.argv(p).join(" ")}`
  })

/** `host.docker.prune` or `host.crictl.prune`. */
export const imagePruneAction = (mount: TargetRef.TargetRef, runtime: ContainerRuntime, aggressive: boolean, crictl?: string): Action.Action =>
  runtime === "docker"
    ? Action.make({
      kind: Docker.KIND,
      target: TargetRef.make("host.docker", "engine", mount),
      params: { mount: mount.ref, aggressive },
      idempotencyKey: `${Docker.KIND}:${mount.ref}:${aggressive}`,
      description: `${STEP_NAMES[Docker.KIND]}: ${aggressive ? "docker system prune -af's calls (never volumes)" : "dangling images and build cache (never volumes)"}`
    })
    : Action.make({
      kind: CrictlPrune.KIND,
      target: TargetRef.make("host.cri", "images", mount),
      params: { mount: mount.ref, ...(crictl !== undefined ? { crictl } : {}) },
      idempotencyKey: `${CrictlPrune.KIND}:${mount.ref}`,
      description: `${STEP_NAMES[CrictlPrune.KIND]}: ${CrictlPrune.argv(crictl !== undefined ? { crictl } : {}).join(" ")}`
    })

/** `host.package-cache.prune` of one manager. */
export const packageAction = (mount: TargetRef.TargetRef, p: PackageCache): Action.Action =>
  Action.make({
    kind: PackageCaches.KIND,
    target: TargetRef.make("host.package-cache", p.manager, mount),
    params: { mount: mount.ref, ...p },
    idempotencyKey: `${PackageCaches.KIND}:${mount.ref}:${p.manager}:${p.cacheDir ?? "default"}`,
    description: `${STEP_NAMES[PackageCaches.KIND]}: ${PackageCaches.command(p).argv.join(" ")}`
  })

/** Each action as a skippable step (Fallback on `failed`). */
export const skippable = (actions: ReadonlyArray<Action.Action>): ReadonlyArray<Plan.Step> => actions.map(skip)

/** The default package caches (every manager, its own default cache). */
export const DEFAULT_PACKAGE_CACHES: ReadonlyArray<PackageCache> = PackageCaches.MANAGERS.map((manager) => ({ manager }))
