/**
 * `HostCatalog`: the default core `Catalog` of the `@byteport/host` runbooks, in three families:
 *
 * | family | runbooks by precedence | on by default |
 * |---|---|---|
 * | `host.memory` | `host.memory.five-class` (30), `host.memory.saturation` (40), `host.memory.runaway` (45) | five-class |
 * | `host.cpu` | `host.cpu.saturation` (50) | cpu.saturation |
 * | `host.disk` | `host.disk.cleanup` (50), `host.disk.reclaim` (60) | cleanup |
 *
 * The others join with `enable` (`enable: ["host.memory.runaway", "host.disk.reclaim"]`); when
 * several enabled runbooks own a target's signals, the best ranked handles it. The disk runbooks
 * act only under their roots: `disk` (shared by both, default {@link DEFAULT_DISK_ROOTS}), or
 * each runbook's own options. Every runbook starts in dry_run unless its options say otherwise.
 *
 * @example
 * ```ts
 * import { Catalog } from "@byteport/core"
 * import { HostCatalog } from "@byteport/host"
 * const catalog = HostCatalog.make({
 *   disk: { tmpRoots: ["/tmp"], logRoots: ["/var/log/myapp"], prefix: "/" },
 *   enable: ["host.memory.runaway"]
 * })
 * console.log(Catalog.describe(catalog))
 * yield* Catalog.run(catalog)
 * ```
 *
 * @since 0.1.0
 */
import { Catalog, type ActionHandler, type Check, type GuardrailStore, type Runbook } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import type { Duration } from "effect"
import type * as ProcessControl from "./process/ProcessControl"
import type * as ServiceManager from "./services/ServiceManager"
import * as CpuSaturation from "./runbooks/host.cpu.saturation"
import * as DiskCleanup from "./runbooks/host.disk.cleanup"
import * as DiskReclaim from "./runbooks/host.disk.reclaim"
import * as FiveClass from "./runbooks/host.memory.five-class"
import * as Runaway from "./runbooks/host.memory.runaway"
import * as MemorySaturation from "./runbooks/host.memory.saturation"

/** The services the catalog's runbooks need besides core's (runaway's restart budget store). */
export type Services = GuardrailStore.GuardrailStore

/** The families of the catalog. */
export const Family = {
  /** OOM kills, memory pressure, saturation and runaway consumers. */
  memory: "host.memory",
  /** Sustained CPU saturation. */
  cpu: "host.cpu",
  /** Disk usage over the floor. */
  disk: "host.disk"
} as const

/** The runbook ids of the catalog, in declaration order (ties of precedence keep it). */
export const ids = [FiveClass.ID, MemorySaturation.ID, Runaway.ID, CpuSaturation.ID, DiskCleanup.ID, DiskReclaim.ID] as const

/** A runbook id of the catalog. */
export type Id = typeof ids[number]

/** The ids on by default (the best ranked of each family). */
export const defaults: ReadonlyArray<Id> = [FiveClass.ID, CpuSaturation.ID, DiskCleanup.ID]

/**
 * The disk roots when none are given: stale files under `/tmp` and `/var/tmp`, old logs under
 * `/var/log` (the hard safe-list always applies), journald's own directories.
 */
export const DEFAULT_DISK_ROOTS: DiskCleanup.Roots = { tmpRoots: ["/tmp", "/var/tmp"], logRoots: ["/var/log"], journal: {} }

/** The options of each runbook, by id (the disk runbooks' roots default to `disk`). */
export interface RunbookOptions {
  readonly "host.memory.five-class"?: FiveClass.Options
  readonly "host.memory.saturation"?: MemorySaturation.Options
  readonly "host.memory.runaway"?: Runaway.Options
  readonly "host.cpu.saturation"?: CpuSaturation.Options
  readonly "host.disk.cleanup"?: Partial<DiskCleanup.Options>
  readonly "host.disk.reclaim"?: Partial<DiskReclaim.Options>
}

/** The runbooks of the catalog, each built with its options, in {@link ids} order. */
export const runbooks = (o: RunbookOptions = {}, disk: DiskCleanup.Roots = DEFAULT_DISK_ROOTS): ReadonlyArray<Runbook.Any<Services>> => [
  FiveClass.make(o["host.memory.five-class"]),
  MemorySaturation.make(o["host.memory.saturation"]),
  Runaway.make(o["host.memory.runaway"]),
  CpuSaturation.make(o["host.cpu.saturation"]),
  DiskCleanup.make({ ...disk, ...o["host.disk.cleanup"] }),
  DiskReclaim.make({ ...disk, ...o["host.disk.reclaim"] })
]

/** Options of {@link make}. */
export interface Options<R = never> {
  /** Options of the built-in runbooks, by id. */
  readonly runbooks?: RunbookOptions
  /** The roots both disk runbooks act under (default {@link DEFAULT_DISK_ROOTS}). */
  readonly disk?: DiskCleanup.Roots
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
 * The catalog, with your runbooks, order and enablement. The defaults are computed after your
 * `order`; `enable` adds to them, `disable` removes, `only` replaces them. Unknown ids throw,
 * like `Catalog.make`.
 */
export const make = <R = never>(o: Options<R> = {}): Catalog.Catalog<Services | R> => {
  const all: ReadonlyArray<Runbook.Any<Services | R>> = [...runbooks(o.runbooks, o.disk), ...(o.extra ?? [])]
  const base = { ...(o.order ? { order: o.order } : {}), ...(o.settle !== undefined ? { settle: o.settle } : {}) }
  const known = new Set(all.map((rb) => rb.id))
  for (const id of [...(o.enable ?? []), ...(o.only ?? [])]) {
    if (!known.has(id)) throw new Error(`HostCatalog.make: unknown runbook id ${id}`)
  }
  const first = Catalog.make(all, { ...base, ...(o.disable ? { disable: o.disable } : {}) })
  const enabled = o.only ?? [...first.entries.filter((e) => e.enabled).map((e) => e.runbook.id), ...(o.enable ?? [])]
  return Catalog.make(all, { ...base, enable: enabled, ...(o.disable ? { disable: o.disable } : {}) })
}

/** Options of {@link handlers}. */
export interface HandlersOptions extends ProcessControl.Options {
  /** The service manager restarts and MemoryMax go through (none: no restart and no MemoryMax kind, never a kill). */
  readonly manager?: ServiceManager.ServiceManagerShape
  /** Where commands run (default `Shell.local`; `Ssh` for another host). */
  readonly shell?: Shell.ShellShape
  /** The disk runbooks' roots (default {@link DEFAULT_DISK_ROOTS}). */
  readonly disk?: DiskReclaim.Roots
  /** The logrotate and jcmd binaries (default from PATH). */
  readonly logrotate?: string
  readonly jcmd?: string
}

/**
 * Every action handler the catalog's plans use, one per kind (register them with core's
 * `ActionRegistry`): process control, restarts and MemoryMax through `manager`, the heap dump,
 * runaway's counted restart request, and the disk runbooks' measured cleaners and commands.
 */
export const handlers = (o: HandlersOptions = {}): ReadonlyArray<ActionHandler.ActionHandler> => {
  const shell = o.shell ?? Shell.local
  const { manager, disk, logrotate, jcmd, shell: _shell, ...control } = o
  const all = [
    ...CpuSaturation.handlers(manager, control),
    ...(manager !== undefined ? [...FiveClass.handlers(manager, shell, { ...control, ...(jcmd !== undefined ? { jcmd } : {}) }), ...Runaway.handlers(manager, control)] : [Runaway.restartRequestedHandler()]),
    ...DiskReclaim.handlers(disk ?? DEFAULT_DISK_ROOTS, shell, logrotate !== undefined ? { logrotate } : {})
  ]
  const seen = new Set<string>()
  return all.filter((h) => !seen.has(h.kind) && seen.add(h.kind))
}

/** Every check the catalog's plans use (the CPU re-sample, the memory and disk floors). */
export const checks = (): ReadonlyArray<Check.Check> => {
  const all = [...CpuSaturation.checks(), ...MemorySaturation.checks(), ...FiveClass.checks(), ...DiskReclaim.checks()]
  const seen = new Set<string>()
  return all.filter((c) => !seen.has(c.kind) && seen.add(c.kind))
}
