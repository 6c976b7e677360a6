/**
 * Application connection-pool settings read from an environment record (a container's env, a
 * `.env` file, a Kubernetes Deployment's env mapped to a record). A pure function: nothing is
 * read from the process, and no value of a URL ever appears in the output (DSNs hold passwords).
 *
 * - HikariCP: `HIKARI_MAXIMUM_POOL_SIZE`, `SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE`
 *   (also Spring's relaxed `SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE`).
 * - SQLAlchemy: `SQLALCHEMY_POOL_SIZE`, `SQLALCHEMY_MAX_OVERFLOW` (SQLAlchemy's defaults 5 and
 *   10 fill in whichever is missing when the other is set).
 * - pgx: `pool_max_conns` in the query string of `DATABASE_URL` (or any `*_DATABASE_URL`), or
 *   in a keyword/value DSN (`host=... pool_max_conns=20`).
 *
 * @since 0.1.0
 */

/** The pool frameworks recognised. */
export type Framework = "hikari" | "sqlalchemy" | "pgx"

/** One recognised setting. */
export interface PoolSetting {
  readonly framework: Framework
  /** The environment variable it came from. */
  readonly variable: string
  readonly setting: "maximumPoolSize" | "pool_size" | "max_overflow" | "pool_max_conns"
  readonly value: number
}

/** A recognised variable whose value is not a usable number (the value itself is not echoed). */
export interface InvalidSetting {
  readonly framework: Framework
  readonly variable: string
  readonly reason: string
}

/** Everything found, and the most connections one process may open per framework. */
export interface PoolSettings {
  readonly settings: ReadonlyArray<PoolSetting>
  readonly invalid: ReadonlyArray<InvalidSetting>
  /** Hikari: maximumPoolSize; SQLAlchemy: pool_size + max_overflow; pgx: pool_max_conns. */
  readonly maxConnectionsPerProcess: Readonly<Partial<Record<Framework, number>>>
}

const HIKARI = ["HIKARI_MAXIMUM_POOL_SIZE", "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE", "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"]
/** SQLAlchemy's own defaults. */
export const SQLALCHEMY_DEFAULTS = { pool_size: 5, max_overflow: 10 } as const

const parseCount = (raw: string, allowNegative: boolean): number | undefined => {
  const t = raw.trim()
  if (!(allowNegative ? /^-?\d+$/ : /^\d+$/).test(t)) return undefined
  const n = Number(t)
  return Number.isSafeInteger(n) ? n : undefined
}

const pgxPoolMaxConns = (value: string): { found: false } | { found: true; raw: string } => {
  const trimmed = value.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    try {
      const raw = new URL(trimmed).searchParams.get("pool_max_conns")
      return raw === null ? { found: false } : { found: true, raw }
    } catch {
      return { found: false }
    }
  }
  const m = /(?:^|\s)pool_max_conns\s*=\s*'?([^'\s]*)'?/.exec(trimmed)
  return m === null ? { found: false } : { found: true, raw: m[1] ?? "" }
}

/** Reads the pool settings of an environment record. */
export const fromEnv = (env: Readonly<Record<string, string | undefined>>): PoolSettings => {
  const settings: Array<PoolSetting> = []
  const invalid: Array<InvalidSetting> = []
  const max: Partial<Record<Framework, number>> = {}

  for (const variable of HIKARI) {
    const raw = env[variable]
    if (raw === undefined) continue
    const n = parseCount(raw, false)
    if (n === undefined || n < 1) invalid.push({ framework: "hikari", variable, reason: "not a positive integer" })
    else {
      settings.push({ framework: "hikari", variable, setting: "maximumPoolSize", value: n })
      max.hikari = Math.max(max.hikari ?? 0, n)
    }
  }

  const sa: Partial<Record<"pool_size" | "max_overflow", number>> = {}
  for (const [variable, setting] of [["SQLALCHEMY_POOL_SIZE", "pool_size"], ["SQLALCHEMY_MAX_OVERFLOW", "max_overflow"]] as const) {
    const raw = env[variable]
    if (raw === undefined) continue
    // max_overflow = -1 means "no limit" in SQLAlchemy
    const n = parseCount(raw, setting === "max_overflow")
    if (n === undefined || (setting === "pool_size" && n < 0) || (setting === "max_overflow" && n < -1)) {
      invalid.push({ framework: "sqlalchemy", variable, reason: "not a valid integer" })
    } else {
      settings.push({ framework: "sqlalchemy", variable, setting, value: n })
      sa[setting] = n
    }
  }
  if (sa.pool_size !== undefined || sa.max_overflow !== undefined) {
    const overflow = sa.max_overflow ?? SQLALCHEMY_DEFAULTS.max_overflow
    if (overflow >= 0) max.sqlalchemy = (sa.pool_size ?? SQLALCHEMY_DEFAULTS.pool_size) + overflow
  }

  for (const variable of Object.keys(env).sort()) {
    if (variable !== "DATABASE_URL" && !variable.endsWith("_DATABASE_URL")) continue
    const value = env[variable]
    if (value === undefined) continue
    const found = pgxPoolMaxConns(value)
    if (!found.found) continue
    const n = parseCount(found.raw, false)
    if (n === undefined || n < 1) invalid.push({ framework: "pgx", variable, reason: "pool_max_conns is not a positive integer" })
    else {
      settings.push({ framework: "pgx", variable, setting: "pool_max_conns", value: n })
      max.pgx = Math.max(max.pgx ?? 0, n)
    }
  }
  return { settings, invalid, maxConnectionsPerProcess: max }
}
