/**
 * Reading and raising pgbouncer pool sizes in pgbouncer.ini, then `RELOAD`.
 *
 * The editor is line based and lossless: only the one value it changes is rewritten; comments,
 * blank lines, key spelling, spacing, `%include` lines and every other setting stay byte for byte
 * (general-purpose ini libraries drop comments or normalise spacing, so none is used here).
 * pgbouncer's format: `[section]` headers, `key = value` lines, comments on lines starting with
 * `;` or `#`; a database line's value is a libpq-style `key=value ...` string that may carry
 * `pool_size=N`.
 *
 * Writing: the current file is first copied beside itself as `pgbouncer.ini.bak-<UTC timestamp>`,
 * then the new text is written to a temporary file in the same directory with the original mode
 * and owner and renamed over the original (a reader never sees a half-written file).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { DbInvalidInput } from "../DbError"
import type { DbError } from "../DbError"
import { PgBouncer } from "../PgBouncer"
import type { Postgres } from "../Postgres"
import * as PgBouncerStats from "../probes/PgBouncerStats"
import * as Utilization from "../Utilization"

/** pgbouncer's built-in default for `default_pool_size`. */
export const PGBOUNCER_DEFAULT_POOL_SIZE = 20

/** A `key = value` line inside a section. */
interface Entry {
  readonly section: string
  readonly key: string
  readonly value: string
  readonly line: number
}

const SECTION = /^\s*\[([^\]]+)\]\s*$/
const ENTRY = /^(\s*)([^=;#\s][^=]*?)(\s*=\s*)(.*?)(\s*)$/

const entriesOf = (lines: ReadonlyArray<string>): ReadonlyArray<Entry> => {
  const out: Array<Entry> = []
  let section = ""
  lines.forEach((text, line) => {
    const trimmed = text.trim()
    if (trimmed === "" || trimmed.startsWith(";") || trimmed.startsWith("#") || trimmed.startsWith("%")) return
    const s = SECTION.exec(text)
    if (s !== null) {
      section = (s[1] ?? "").trim().toLowerCase()
      return
    }
    const m = ENTRY.exec(text)
    if (m !== null) out.push({ section, key: (m[2] ?? "").trim(), value: m[4] ?? "", line })
  })
  return out
}

const splitLines = (text: string): { lines: Array<string>; eol: string } => {
  const eol = text.includes("\r\n") ? "\r\n" : "\n"
  return { lines: text.split(eol), eol }
}

/** Parses a libpq-style connection string (`host=x port=5432 dbname='a b' pool_size=5`). */
export const parseConnString = (value: string): ReadonlyArray<{ key: string; value: string; start: number; end: number }> => {
  const out: Array<{ key: string; value: string; start: number; end: number }> = []
  const re = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)/g
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    const raw = m[2] ?? ""
    const v = raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw
    out.push({ key: (m[1] ?? "").toLowerCase(), value: v, start: m.index, end: m.index + m[0].length })
  }
  return out
}

/** Pool sizes configured in a pgbouncer.ini. */
export interface PoolSizes {
  /** `default_pool_size` as written, or pgbouncer's default (20) when absent. */
  readonly defaultPoolSize: number
  /** Whether `default_pool_size` is written in the file. */
  readonly defaultPoolSizeExplicit: boolean
  /** Per database: its own `pool_size=` if any, and the effective size. */
  readonly databases: Readonly<Record<string, { readonly poolSize: number | undefined; readonly effective: number }>>
}

const toSize = (raw: string, what: string): Effect.Effect<number, DbInvalidInput> => {
  const n = Number(raw.trim())
  return Number.isSafeInteger(n) && n >= 0 && /^\s*\d+\s*$/.test(raw)
    ? Effect.succeed(n)
    : Effect.fail(new DbInvalidInput({ message: `${what} is not a non-negative integer: ${JSON.stringify(raw.slice(0, 32))}` }))
}

/** Reads `default_pool_size` and every database's `pool_size` from the ini text. */
export const readPoolSizes = (text: string): Effect.Effect<PoolSizes, DbInvalidInput> =>
  Effect.gen(function*() {
    const entries = entriesOf(splitLines(text).lines)
    const def = entries.find((e) => e.section === "pgbouncer" && e.key.toLowerCase() === "default_pool_size")
    const defaultPoolSize = def === undefined ? PGBOUNCER_DEFAULT_POOL_SIZE : yield* toSize(def.value, "default_pool_size")
    const databases: Record<string, { poolSize: number | undefined; effective: number }> = {}
    for (const e of entries.filter((x) => x.section === "databases")) {
      const ps = parseConnString(e.value).find((p) => p.key === "pool_size")
      const poolSize = ps === undefined ? undefined : yield* toSize(ps.value, `pool_size of database ${e.key}`)
      databases[e.key] = { poolSize, effective: poolSize ?? defaultPoolSize }
    }
    return { defaultPoolSize, defaultPoolSizeExplicit: def !== undefined, databases }
  })

const checkSize = (n: number): Effect.Effect<number, DbInvalidInput> =>
  Number.isSafeInteger(n) && n >= 1 && n <= 10_000
    ? Effect.succeed(n)
    : Effect.fail(new DbInvalidInput({ message: `pool size must be an integer in 1..10000, got ${String(n)}` }))

/** Pure: the ini text with `default_pool_size` set to `size` (added under [pgbouncer] if absent). */
export const setDefaultPoolSize = (text: string, size: number): Effect.Effect<string, DbInvalidInput> =>
  Effect.gen(function*() {
    yield* checkSize(size)
    const { lines, eol } = splitLines(text)
    const entries = entriesOf(lines)
    const def = entries.find((e) => e.section === "pgbouncer" && e.key.toLowerCase() === "default_pool_size")
    if (def !== undefined) {
      const m = ENTRY.exec(lines[def.line] ?? "")
      lines[def.line] = `${m?.[1] ?? ""}${m?.[2] ?? "default_pool_size"}${m?.[3] ?? " = "}${size}${m?.[5] ?? ""}`
      return lines.join(eol)
    }
    const header = lines.findIndex((l) => SECTION.exec(l)?.[1]?.trim().toLowerCase() === "pgbouncer")
    if (header < 0) return yield* new DbInvalidInput({ message: "pgbouncer.ini has no [pgbouncer] section" })
    lines.splice(header + 1, 0, `default_pool_size = ${size}`)
    return lines.join(eol)
  })

/** Pure: the ini text with database `database`'s `pool_size=` set to `size` (appended if absent). */
export const setDatabasePoolSize = (text: string, database: string, size: number): Effect.Effect<string, DbInvalidInput> =>
  Effect.gen(function*() {
    yield* checkSize(size)
    const { lines, eol } = splitLines(text)
    const entry = entriesOf(lines).find((e) => e.section === "databases" && e.key === database)
    if (entry === undefined) {
      return yield* new DbInvalidInput({ message: `pgbouncer.ini has no database ${JSON.stringify(database.slice(0, 64))}` })
    }
    const original = lines[entry.line] ?? ""
    const m = ENTRY.exec(original)
    const value = m?.[4] ?? ""
    const existing = parseConnString(value).find((p) => p.key === "pool_size")
    const newValue = existing === undefined
      ? `${value}${value === "" ? "" : " "}pool_size=${size}`
      : `${value.slice(0, existing.start)}pool_size=${size}${value.slice(existing.end)}`
    lines[entry.line] = `${m?.[1] ?? ""}${m?.[2] ?? database}${m?.[3] ?? " = "}${newValue}${m?.[5] ?? ""}`
    return lines.join(eol)
  })

/** The capacity check: do the pools fit into what PostgreSQL lets ordinary roles open? */
export interface Capacity {
  /** Σ (pool_size + reserve_pool) over the pools. */
  readonly total: number
  /** `max_connections - superuser_reserved_connections` */
  readonly available: number
  readonly fits: boolean
}

/** Pure: Σ pool sizes against `max_connections - superuser_reserved_connections`. */
export const capacityOf = (
  pools: ReadonlyArray<{ readonly poolSize: number; readonly reservePool?: number }>,
  maxConnections: number,
  superuserReservedConnections: number
): Capacity => {
  const total = pools.reduce((n, p) => n + p.poolSize + (p.reservePool ?? 0), 0)
  const available = Math.max(0, maxConnections - superuserReservedConnections)
  return { total, available, fits: total <= available }
}

/** Pure: the live pools (`SHOW POOLS` × `SHOW DATABASES`) with sizes as they would be after an edit. */
export const projectedPools = (
  pools: ReadonlyArray<PgBouncerStats.PoolRow>,
  databases: ReadonlyArray<PgBouncerStats.DatabaseRow>,
  newSizes: PoolSizes
): ReadonlyArray<{ readonly database: string; readonly user: string; readonly poolSize: number; readonly reservePool: number }> => {
  const dbs = new Map(databases.map((d) => [d.name, d]))
  return pools.map((p) => ({
    database: p.database,
    user: p.user,
    poolSize: newSizes.databases[p.database]?.effective ?? newSizes.defaultPoolSize,
    reservePool: dbs.get(p.database)?.reserve_pool ?? 0
  }))
}

const ioError = (what: string, file: string) => (cause: unknown) =>
  new DbInvalidInput({
    message: `${what} ${file}: ${cause instanceof Error && "code" in cause ? String((cause as { code?: unknown }).code) : "failed"}`
  })

/** Reads the ini file. */
export const readFile = (iniPath: string): Effect.Effect<string, DbInvalidInput> =>
  Effect.tryPromise({ try: () => fs.readFile(iniPath, "utf8"), catch: ioError("cannot read", iniPath) })

const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, "").replace(/\.(\d{3})Z$/, "$1Z")

/**
 * Backs the file up (`<file>.bak-<UTC timestamp>`, same mode) and replaces it with `text`,
 * keeping its mode and owner. Returns the backup's path.
 */
export const writeWithBackup = (iniPath: string, text: string, now: Date = new Date()): Effect.Effect<string, DbInvalidInput> =>
  Effect.tryPromise({
    try: async () => {
      const st = await fs.stat(iniPath)
      let backup = `${iniPath}.bak-${stamp(now)}`
      for (let i = 1; await fs.access(backup).then(() => true, () => false); i++) backup = `${iniPath}.bak-${stamp(now)}-${i}`
      await fs.copyFile(iniPath, backup, fs.constants.COPYFILE_EXCL)
      await fs.chmod(backup, st.mode & 0o777)
      await fs.chown(backup, st.uid, st.gid).catch(() => undefined)
      const tmp = path.join(path.dirname(iniPath), `.${path.basename(iniPath)}.tmp-${process.pid}-${Date.now()}`)
      try {
        await fs.writeFile(tmp, text, { mode: st.mode & 0o777, flag: "wx" })
        await fs.chmod(tmp, st.mode & 0o777)
        await fs.chown(tmp, st.uid, st.gid).catch(() => undefined)
        await fs.rename(tmp, iniPath)
      } catch (e) {
        await fs.rm(tmp, { force: true })
        throw e
      }
      return backup
    },
    catch: ioError("cannot write", iniPath)
  })

/** What to change: the default, and/or databases' own `pool_size`. */
export interface PoolSizeChange {
  readonly defaultPoolSize?: number
  readonly databases?: Readonly<Record<string, number>>
}

/** The outcome of {@link applyAndReload}. */
export interface Applied {
  readonly iniPath: string
  readonly backupPath: string
  readonly before: PoolSizes
  readonly after: PoolSizes
  /** `SHOW DATABASES` pool_size per database after the RELOAD. */
  readonly live: Readonly<Record<string, number>>
  /** Every database's live pool_size equals its new effective size. */
  readonly verified: boolean
}

/** Pure: applies a change to the ini text. */
export const applyChange = (text: string, change: PoolSizeChange): Effect.Effect<string, DbInvalidInput> =>
  Effect.gen(function*() {
    let out = text
    if (change.defaultPoolSize !== undefined) out = yield* setDefaultPoolSize(out, change.defaultPoolSize)
    for (const [db, size] of Object.entries(change.databases ?? {})) out = yield* setDatabasePoolSize(out, db, size)
    return out
  })

/**
 * Edits pgbouncer.ini (backup first), sends `RELOAD` on the admin console and reads `SHOW
 * DATABASES` back. `iniPath` defaults to the service's configured `BYTEPORT_PGBOUNCER_INI`.
 * With `raiseOnly`, a change that would lower any size is refused before anything is written.
 */
export const applyAndReload = (
  change: PoolSizeChange,
  options: { readonly iniPath?: string; readonly raiseOnly?: boolean } = {}
): Effect.Effect<Applied, DbError | DbInvalidInput, PgBouncer> =>
  Effect.gen(function*() {
    const bouncer = yield* PgBouncer
    const iniPath = options.iniPath ?? (bouncer.iniPath._tag === "Some" ? bouncer.iniPath.value : undefined)
    if (iniPath === undefined) return yield* new DbInvalidInput({ message: "no pgbouncer.ini path (set BYTEPORT_PGBOUNCER_INI)" })
    const text = yield* readFile(iniPath)
    const before = yield* readPoolSizes(text)
    const next = yield* applyChange(text, change)
    const after = yield* readPoolSizes(next)
    if (options.raiseOnly === true) {
      const lowered = Object.entries(after.databases).filter(([db, v]) => v.effective < (before.databases[db]?.effective ?? 0))
      if (after.defaultPoolSize < before.defaultPoolSize || lowered.length > 0) {
        return yield* new DbInvalidInput({ message: "refusing to lower a pool size (raiseOnly)" })
      }
    }
    const backupPath = yield* writeWithBackup(iniPath, next)
    yield* bouncer.reload
    const dbs = yield* PgBouncerStats.databases
    const live = Object.fromEntries(dbs.map((d) => [d.name, d.pool_size]))
    const verified = Object.entries(after.databases).every(([db, v]) => live[db] === undefined || live[db] === v.effective)
    return { iniPath, backupPath, before, after, live, verified }
  })

/**
 * The capacity check of a proposed change, live: the current pools (`SHOW POOLS`) at their
 * projected sizes against PostgreSQL's `max_connections - superuser_reserved_connections`.
 */
export const checkCapacity = (
  change: PoolSizeChange,
  options: { readonly iniPath?: string } = {}
): Effect.Effect<Capacity & { readonly pools: ReturnType<typeof projectedPools> }, DbError | DbInvalidInput, PgBouncer | Postgres> =>
  Effect.gen(function*() {
    const bouncer = yield* PgBouncer
    const iniPath = options.iniPath ?? (bouncer.iniPath._tag === "Some" ? bouncer.iniPath.value : undefined)
    if (iniPath === undefined) return yield* new DbInvalidInput({ message: "no pgbouncer.ini path (set BYTEPORT_PGBOUNCER_INI)" })
    const next = yield* readPoolSizes(yield* applyChange(yield* readFile(iniPath), change))
    const [pools, dbs] = yield* Effect.all([PgBouncerStats.pools, PgBouncerStats.databases])
    const projected = projectedPools(pools, dbs, next)
    const pg = yield* Utilization.postgres
    return { ...capacityOf(projected, pg.maxConnections, pg.superuserReservedConnections), pools: projected }
  })
