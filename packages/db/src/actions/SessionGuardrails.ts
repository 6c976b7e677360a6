/**
 * The action-kind guardrails shared by the session-killing actions (`pg.terminateBackend`,
 * `pg.cancelBackend`, `mysql.killConnection`, `mysql.killQuery`): the seed's "Safety
 * guardrails" of `db.pool.six-class`, attached to the action kinds so every runbook and every
 * hand-off that kills a session gets them.
 *
 * - `kills_per_minute_cap` (default 20, Config key `kills_per_minute_cap`, else
 *   `BYTEPORT_KILLS_PER_MINUTE_CAP`): a `Guardrail.perMinuteCap` of one unit per termination,
 *   one budget per database target (`db.kills:<target>`), shared by PostgreSQL terminations and
 *   MySQL connection kills. A termination that follows a failed cancel is an action of its own
 *   and takes its own unit. Cancels (`pg_cancel_backend`, `KILL QUERY`) end a statement, not a
 *   backend, and are not counted.
 * - `never` a protected session: application_name matching a protected prefix (case-insensitive;
 *   default `pgbouncer`, `admin-proxy`, `pgadmin` — so "pgAdmin 4 - DB:appdb" too) or a protected
 *   user. Never by client address.
 * - `never` a superuser (`rolsuper`; MySQL: SUPER or CONNECTION_ADMIN). A session whose
 *   superuser flag is not known counts as a superuser. The kill primitives re-check this in the
 *   statement that sends the signal (PostgreSQL) or right before the KILL (MySQL).
 *
 * @since 0.1.0
 */
import { Guardrail, Settings } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Config } from "effect"
import * as MySqlKill from "../sessions/MySqlKill"
import * as PgKill from "../sessions/PgKill"

/** The seed's default cap of backend terminations per minute. */
export const DEFAULT_KILLS_PER_MINUTE_CAP = 20

/** `kills_per_minute_cap` (the seed's name), else `BYTEPORT_KILLS_PER_MINUTE_CAP`, else 20; a value that is not a positive integer is a `ConfigError` naming its key. */
export const killsPerMinuteCapConfig: Config.Config<number> = Config.option(Settings.positiveInt("kills_per_minute_cap")).pipe(
  Config.flatMap((o) =>
    o._tag === "Some" ? Config.succeed(o.value) : Settings.positiveInt("BYTEPORT_KILLS_PER_MINUTE_CAP").pipe(Config.withDefault(DEFAULT_KILLS_PER_MINUTE_CAP))
  )
)

/** Options of the session guardrails (every action handler of this folder takes them). */
export interface SessionGuardOptions {
  /** Case-insensitive application_name prefixes never killed (default `pgbouncer`, `admin-proxy`, `pgadmin`). */
  readonly protectedApplications?: ReadonlyArray<string>
  /** Users never killed (PostgreSQL default `pgbouncer`; MySQL default `root`, `mysql.sys` …). */
  readonly protectedUsers?: ReadonlyArray<string>
  /** Terminations per minute per database (default: {@link killsPerMinuteCapConfig}). */
  readonly killsPerMinuteCap?: number | Config.Config<number>
}

/** Pure: the protected applications and users of the options, only those given (for `PgKill` / `MySqlKill`'s re-check). */
export const protectedOf = (
  options: Pick<SessionGuardOptions, "protectedApplications" | "protectedUsers">
): Pick<SessionGuardOptions, "protectedApplications" | "protectedUsers"> => ({
  ...(options.protectedApplications ? { protectedApplications: options.protectedApplications } : {}),
  ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {})
})

/** The budget key of the cap: one per database target. */
export const capKey = Guardrail.keys.perTarget("db.kills")

/** The kill cap: one unit per termination, rejected excess escalated. */
export const killsPerMinuteCap = (options: SessionGuardOptions = {}): Guardrail.Guardrail<never> =>
  Guardrail.perMinuteCap({ name: "kills_per_minute_cap", key: capKey, max: options.killsPerMinuteCap ?? killsPerMinuteCapConfig })

const str = (v: Json.Json | undefined): string | undefined => (typeof v === "string" ? v : undefined)

/** Pure: whether an application name is protected (case-insensitive prefix). */
export const isProtectedApplication = (name: string, prefixes: ReadonlyArray<string>): boolean => {
  const n = name.toLowerCase()
  return prefixes.some((p) => p !== "" && n.startsWith(p.toLowerCase()))
}

/** `never` a protected application or user (read from the action's `applicationName` / `user` params; missing = protected). */
export const neverProtected = (engine: "postgres" | "mysql", options: SessionGuardOptions = {}): Guardrail.Guardrail<never> => {
  const apps = options.protectedApplications ?? PgKill.DEFAULT_PROTECTED_APPLICATIONS
  const users = options.protectedUsers ?? (engine === "postgres" ? PgKill.DEFAULT_PROTECTED_USERS : MySqlKill.DEFAULT_PROTECTED_USERS)
  const why = (params: Json.JsonObject): string | undefined => {
    const app = str(params["applicationName"])
    const user = params["user"] === null ? "" : str(params["user"])
    if (app === undefined || user === undefined) return "the session's application_name or user is not known"
    if (isProtectedApplication(app, apps)) return `application ${JSON.stringify(app)} is protected`
    if (users.includes(user)) return `user ${JSON.stringify(user)} is protected`
    return undefined
  }
  return Guardrail.never((ctx) => why(ctx.action.params) !== undefined, (ctx) => `never kill a protected session: ${why(ctx.action.params)}`, {
    name: "never: protected session (pgbouncer, admin-proxy, pgadmin, protected users)"
  })
}

/** `never` a superuser (the action's `superuser` param must be exactly `false`). */
export const neverSuperuser: Guardrail.Guardrail<never> = Guardrail.never(
  (ctx) => ctx.action.params["superuser"] !== false,
  (ctx) => ctx.action.params["superuser"] === true ? "never kill a superuser session" : "never kill a session whose superuser status is not known",
  { name: "never: superuser" }
)

/** Every guardrail of a terminating action kind. */
export const terminating = (engine: "postgres" | "mysql", options: SessionGuardOptions = {}): ReadonlyArray<Guardrail.Guardrail<never>> => [
  neverSuperuser,
  neverProtected(engine, options),
  killsPerMinuteCap(options)
]

/** Every guardrail of a cancelling action kind (no cap: a cancel ends a statement, not a backend). */
export const cancelling = (engine: "postgres" | "mysql", options: SessionGuardOptions = {}): ReadonlyArray<Guardrail.Guardrail<never>> => [
  neverSuperuser,
  neverProtected(engine, options)
]

/** Types a handler's result (its `result` must be JSON). */
export const handlerResult = (r: { readonly detail: string; readonly result: Json.JsonObject }): { readonly detail: string; readonly result: Json.JsonObject } => r
