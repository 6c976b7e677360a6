/**
 * `ServiceManager`: the service manager of a host (systemd), the only way BytePort restarts a
 * service or changes its memory limit. `ServiceManager.systemd` issues the real `systemctl` and
 * `journalctl` argv through core's `Shell` (local, `Ssh`, or `LocalSupervisor` in tests) and reads
 * their answers with the `@byteport/core/shell` parsers:
 *
 * - `isActive(unit)`: `systemctl is-active <unit>` (exit 0 active, 3 not);
 * - `show(unit)`: `systemctl show -p Id,LoadState,ActiveState,SubState,MainPID,NRestarts,MemoryMax,Result <unit>`;
 * - `restart(unit)`: `systemctl restart <unit>`;
 * - `setMemoryMax(unit, bytes)`: `systemctl set-property --runtime <unit> MemoryMax=<bytes>` (runtime only: gone at reboot);
 * - `vacuumJournal({ size | time, directory? })`: `journalctl [--directory=<dir>] --vacuum-size=<bytes>` / `--vacuum-time=<s>s`
 *   (journalctl removes archived journal files only; the freed bytes are what it reports).
 *
 * Without systemd (a container, a test machine) every fact is `Unknown`, never a guess, and the
 * actions fail `ServiceError` `NoSystemd`.
 *
 * @since 0.1.0
 */
import * as JournalVacuum from "../actions/JournalVacuum"
import { Context, Effect, Layer, Schema } from "effect"
import { ParseError, Shell, Systemctl } from "@byteport/core/shell"

// ---------------------------------------------------------------------------------------------
// errors

/** Why a service-manager call failed. */
export const ServiceErrorReason = Schema.Literals(["NoSystemd", "NoSuchUnit", "CommandFailed", "Unparsable", "InvalidArgument"])

/** The reason of a `ServiceError`. */
export type ServiceErrorReason = typeof ServiceErrorReason.Type

/** A service-manager call failed: names the unit and the operation, never command output beyond its first stderr line. */
export class ServiceError extends Schema.TaggedError<ServiceError>()("ServiceError", {
  reason: ServiceErrorReason,
  /** The operation (`is-active`, `show`, `restart`, `set-property`, `vacuum`). */
  operation: Schema.String,
  /** The unit, when there is one. */
  unit: Schema.optionalKey(Schema.String),
  /** The exit code of the command, when it ran. */
  exitCode: Schema.optionalKey(Schema.Number),
  message: Schema.String
}) {}

// ---------------------------------------------------------------------------------------------
// model

/** A fact the service manager answered, or Unknown (no systemd): core's `Systemctl.Check`. */
export type Check<A> = Systemctl.Check<A>

/** What `show` reads of a unit. */
export interface UnitStatus {
  /** The unit name (`Id`). */
  readonly unit: string
  /** `ActiveState`: `active`, `inactive`, `failed`, `activating` … */
  readonly activeState: string
  /** `SubState`: `running`, `dead`, `auto-restart` … */
  readonly subState: string | undefined
  /** `MainPID`; undefined when the unit has no running main process (0). */
  readonly mainPid: number | undefined
  /** `NRestarts`: automatic restarts by the manager since the unit was loaded. */
  readonly restarts: number
  /** `MemoryMax` in bytes; `undefined` for `infinity` (no limit). */
  readonly memoryMax: number | undefined
  /** `Result` (`success`, `oom-kill`, `exit-code` …). */
  readonly result: string | undefined
}

/** A journal vacuum: by total size of archived files, or by their age. */
export type Vacuum =
  | { readonly size: number; readonly directory?: string }
  | { readonly timeSeconds: number; readonly directory?: string }

/** What a journal vacuum did, as journalctl reported it. */
export interface VacuumResult {
  /** The archived journal files removed, with the size journalctl printed for each (bytes). */
  readonly deleted: ReadonlyArray<{ readonly path: string; readonly bytes: number }>
  /** The bytes journalctl says it freed. */
  readonly freedBytes: number
}

/** The operations of a service manager. */
export interface ServiceManagerShape {
  /** The manager's name (`systemd@local`, `systemd@ssh:db-1` …). */
  readonly name: string
  /** `systemctl is-active <unit>`: Known(state) or Unknown (no systemd). */
  readonly isActive: (unit: string) => Effect.Effect<Check<Systemctl.UnitState>, ServiceError>
  /** `systemctl show`: Known(status), Known(undefined) for a unit that does not exist, Unknown without systemd. */
  readonly show: (unit: string) => Effect.Effect<Check<UnitStatus | undefined>, ServiceError>
  /** `systemctl restart <unit>`: succeeds once the manager accepted it. */
  readonly restart: (unit: string) => Effect.Effect<void, ServiceError>
  /** `systemctl set-property --runtime <unit> MemoryMax=<bytes>` (`"infinity"` lifts the limit). */
  readonly setMemoryMax: (unit: string, bytes: number | "infinity") => Effect.Effect<void, ServiceError>
  /** `journalctl --vacuum-size` / `--vacuum-time`: removes archived journal files only. */
  readonly vacuumJournal: (vacuum: Vacuum) => Effect.Effect<VacuumResult, ServiceError>
}

/** The ServiceManager service. */
export class ServiceManager extends Context.Service<ServiceManager, ServiceManagerShape>()("@byteport/host/ServiceManager") {}

/** The properties `show` asks for. */
export const SHOW_PROPERTIES = ["Id", "LoadState", "ActiveState", "SubState", "MainPID", "NRestarts", "MemoryMax", "Result"] as const

// ---------------------------------------------------------------------------------------------
// argv (exported: the contract suite and LocalSupervisor speak exactly these)

const UNIT = /^[A-Za-z0-9:_.\\@-]+$/

/** Whether a unit name is one systemd accepts (letters, digits, `:_.\@-`; no leading `-`, so never an option). */
export const isUnitName = (unit: string): boolean => unit.length > 0 && unit.length <= 256 && !unit.startsWith("-") && UNIT.test(unit)

/** `systemctl is-active <unit>`. */
export const isActiveArgv = (unit: string): ReadonlyArray<string> => ["systemctl", "is-active", unit]
/** `systemctl show -p <properties> <unit>`. */
export const showArgv = (unit: string): ReadonlyArray<string> => ["systemctl", "show", "-p", SHOW_PROPERTIES.join(","), unit]
/** `systemctl restart <unit>`. */
export const restartArgv = (unit: string): ReadonlyArray<string> => ["systemctl", "restart", unit]
/** `systemctl set-property --runtime <unit> MemoryMax=<bytes>`. */
export const setMemoryMaxArgv = (unit: string, bytes: number | "infinity"): ReadonlyArray<string> =>
  ["systemctl", "set-property", "--runtime", unit, `MemoryMax=${bytes === "infinity" ? "infinity" : String(bytes)}`]
/** `journalctl [--directory=<dir>] --vacuum-size=<bytes>` or `--vacuum-time=<seconds>s`. */
export const vacuumArgv = (vacuum: Vacuum): ReadonlyArray<string> =>
  JournalVacuum.argv({
    ...("size" in vacuum ? { vacuumSize: String(vacuum.size) } : { vacuumTime: `${vacuum.timeSeconds}s` }),
    ...(vacuum.directory !== undefined ? { directory: vacuum.directory } : {})
  })

// ---------------------------------------------------------------------------------------------
// parsing

const SIZE_UNITS: Readonly<Record<string, number>> = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5, E: 1024 ** 6 }

/** Reads a size as systemd formats it (`0B`, `8.0M`, `1.5G`, plain bytes) into bytes; undefined when it is not one. */
export const parseSize = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)([BKMGTPE]?)$/.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2] === "" ? "B" : m[2]!]!)
}

/** Reads a `MemoryMax` value: bytes, or undefined for `infinity`. */
export const parseMemoryMax = (text: string | undefined): number | undefined | "malformed" => {
  if (text === undefined || text === "" || text === "infinity") return undefined
  return /^\d+$/.test(text) ? Number(text) : "malformed"
}

/**
 * Parses journalctl's vacuum report (it prints on stderr): `Deleted archived journal <path> (<size>).`
 * per removed file and `Vacuuming done, freed <size> of archived journals from <dir>.`
 */
export const parseVacuum = (text: string): VacuumResult | undefined => {
  const deleted: Array<{ path: string; bytes: number }> = []
  let freed: number | undefined
  for (const line of text.split("\n")) {
    const d = /^Deleted archived journal (.+) \(([^)]+)\)\.$/.exec(line.trim())
    if (d !== null) {
      const bytes = parseSize(d[2]!)
      if (bytes !== undefined) deleted.push({ path: d[1]!, bytes })
      continue
    }
    const v = JournalVacuum.FREED.exec(line.trim())
    if (v !== null) freed = (freed ?? 0) + (parseSize(v[1]!) ?? 0)
  }
  return freed === undefined ? undefined : { deleted, freedBytes: freed }
}

const firstLine = (s: string): string => s.trim().split("\n")[0] ?? ""

// ---------------------------------------------------------------------------------------------
// systemd

/** Options of the systemd manager. */
export interface SystemdOptions {
  /** Timeout of each systemctl / journalctl command (default 30 seconds; a restart waits for the unit's stop and start). */
  readonly timeoutMillis?: number
}

/** A service manager speaking to systemd through the given Shell. */
export const systemd = (shell: Shell.ShellShape, options: SystemdOptions = {}): ServiceManagerShape => {
  const timeout = options.timeoutMillis ?? 30_000
  const fail = (operation: string, reason: ServiceErrorReason, message: string, unit?: string, exitCode?: number) =>
    new ServiceError({ reason, operation, message, ...(unit !== undefined ? { unit } : {}), ...(exitCode !== undefined ? { exitCode } : {}) })
  const run = (operation: string, argv: ReadonlyArray<string>, unit?: string) =>
    shell.run(argv, { timeout }).pipe(
      Effect.mapError((e: Shell.ShellError) => fail(operation, "CommandFailed", `${operation}${unit ? ` ${unit}` : ""}: ${e.message}`, unit))
    )
  const checkUnit = (operation: string, unit: string) =>
    isUnitName(unit) ? Effect.void : Effect.fail(fail(operation, "InvalidArgument", `${operation}: not a unit name: ${JSON.stringify(unit)}`))
  const parsed = (operation: string, unit: string | undefined) => (e: ParseError): ServiceError =>
    fail(operation, "Unparsable", `${operation}: ${e.message}`, unit)
  const act = (operation: string, argv: ReadonlyArray<string>, unit: string) =>
    Effect.flatMap(run(operation, argv, unit), (r) => {
      if (r.exitCode === 0) return Effect.void
      const why = Systemctl.noSystemd(r)
      if (why !== undefined) return Effect.fail(fail(operation, "NoSystemd", `${operation} ${unit}: ${why}`, unit, r.exitCode))
      if (/not (be )?found|not loaded|No such file/i.test(r.stderr)) {
        return Effect.fail(fail(operation, "NoSuchUnit", `${operation} ${unit}: ${firstLine(r.stderr)}`, unit, r.exitCode))
      }
      return Effect.fail(fail(operation, "CommandFailed", `${operation} ${unit}: exited ${r.exitCode}: ${firstLine(r.stderr)}`, unit, r.exitCode))
    })
  return {
    name: `systemd@${shell.name}`,
    isActive: (unit) =>
      Effect.gen(function*() {
        yield* checkUnit("is-active", unit)
        const r = yield* run("is-active", isActiveArgv(unit), unit)
        return yield* Systemctl.parseIsActive(r).pipe(Effect.mapError(parsed("is-active", unit)))
      }),
    show: (unit) =>
      Effect.gen(function*() {
        yield* checkUnit("show", unit)
        const r = yield* run("show", showArgv(unit), unit)
        const c = yield* Systemctl.parseUnit(r).pipe(Effect.mapError(parsed("show", unit)))
        if (c._tag === "Unknown" || c.value === undefined) return c as Check<undefined>
        const u = c.value
        const memoryMax = parseMemoryMax(u.properties["MemoryMax"])
        if (memoryMax === "malformed") return yield* Effect.fail(fail("show", "Unparsable", `show ${unit}: MemoryMax=${u.properties["MemoryMax"]} is not bytes or infinity`, unit))
        if (u.activeState === undefined) return yield* Effect.fail(fail("show", "Unparsable", `show ${unit}: no ActiveState`, unit))
        const status: UnitStatus = {
          unit: u.id ?? unit,
          activeState: u.activeState,
          subState: u.subState,
          mainPid: u.mainPid,
          restarts: u.restarts ?? 0,
          memoryMax,
          result: u.result
        }
        return Systemctl.known(status)
      }),
    restart: (unit) => Effect.flatMap(checkUnit("restart", unit), () => act("restart", restartArgv(unit), unit)),
    setMemoryMax: (unit, bytes) =>
      Effect.gen(function*() {
        yield* checkUnit("set-property", unit)
        if (bytes !== "infinity" && (!Number.isSafeInteger(bytes) || bytes <= 0)) {
          return yield* Effect.fail(fail("set-property", "InvalidArgument", `set-property ${unit}: MemoryMax must be a positive whole number of bytes`, unit))
        }
        yield* act("set-property", setMemoryMaxArgv(unit, bytes), unit)
      }),
    vacuumJournal: (vacuum) =>
      Effect.gen(function*() {
        const n = "size" in vacuum ? vacuum.size : vacuum.timeSeconds
        if (!Number.isSafeInteger(n) || n < 1) return yield* Effect.fail(fail("vacuum", "InvalidArgument", "vacuum: size / time must be a positive whole number"))
        if (vacuum.directory !== undefined && !vacuum.directory.startsWith("/")) {
          return yield* Effect.fail(fail("vacuum", "InvalidArgument", "vacuum: directory must be absolute"))
        }
        const r = yield* run("vacuum", vacuumArgv(vacuum))
        if (r.exitCode !== 0) return yield* Effect.fail(fail("vacuum", "CommandFailed", `vacuum: journalctl exited ${r.exitCode}: ${firstLine(r.stderr)}`, undefined, r.exitCode))
        const result = parseVacuum(`${r.stderr}\n${r.stdout}`)
        if (result === undefined) return yield* Effect.fail(fail("vacuum", "Unparsable", "vacuum: journalctl printed no `Vacuuming done` line"))
        return result
      })
  }
}

/** A layer: the systemd manager over the `Shell` in context. */
export const layerSystemd = (options: SystemdOptions = {}): Layer.Layer<ServiceManager, never, Shell.Shell> =>
  Layer.effect(ServiceManager, Effect.map(Effect.service(Shell.Shell), (shell) => ServiceManager.of(systemd(shell, options))))
