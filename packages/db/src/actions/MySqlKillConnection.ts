/**
 * `mysql.killConnection`: `KILL CONNECTION` of one MySQL / MariaDB thread through
 * `MySqlKill.killConnection`, with the same rules as `pg.terminateBackend`: never a superuser
 * (SUPER or CONNECTION_ADMIN), never a protected user or application (the user stands in for
 * the application name on MySQL), `kills_per_minute_cap` (one unit per kill).
 *
 * The plan names the thread as the diagnosis saw it: id, user, state (`idle in transaction` or
 * `active`), and when its current command (or idle period) began. Right before the kill the
 * handler re-reads the thread: if the command start moved (a COMMIT, any statement since) or the
 * state differs, the thread is `skipped: session changed`; otherwise it hands the fresh
 * identity (its open `trx_id`, its statement id) to `MySqlKill`, which checks all of it once
 * more on the connection that sends the KILL.
 *
 * `observe`: the thread gone is applied; a thread with that id still there is not applied (MySQL
 * thread ids are not reused while the server runs).
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import type { DbError, DbInvalidInput } from "../DbError"
import { MySql } from "../MySql"
import type { PgSession } from "../probes/PgActivity"
import * as MySqlActivity from "../probes/MySqlActivity"
import * as MySqlKill from "../sessions/MySqlKill"
import * as SessionGuardrails from "./SessionGuardrails"
import { handlerResult } from "./SessionGuardrails"

/** The action kind. */
export const KIND = "mysql.killConnection"

/** The params (shared with `mysql.killQuery`). */
export const Params = Schema.Struct({
  id: Schema.Int,
  user: Schema.NullOr(Schema.String),
  applicationName: Schema.String,
  state: Schema.String,
  commandStartedMs: Schema.Finite,
  commandMs: Schema.Finite,
  superuser: Schema.Boolean,
  info: Schema.NullOr(Schema.String),
  /**
   * Refuse a thread whose open transaction holds row locks (`MySqlKill`'s `noRowLocks`). Absent =
   * false (`db.pool.six-class`); `db.connections.saturation` sets it.
   */
  noRowLocks: Schema.optionalKey(Schema.Boolean),
  /** The thread's client host without the port, for the per-workload annotation gate of `db.connections.saturation`. */
  clientAddr: Schema.optionalKey(Schema.NullOr(Schema.String))
})
/** The params. */
export type Params = typeof Params.Type

/** Pure: whether a MySQL thread is in the state (PostgreSQL vocabulary) it was chosen in. */
export const inState = (s: MySqlActivity.MySqlSession, state: string): boolean =>
  state === "idle in transaction"
    ? MySqlActivity.isSleepingInTransaction(s)
    : state === "active"
    ? s.command === "Query" || s.command === "Execute"
    : false

/**
 * Re-reads the planned thread: its fresh `MySqlKill.Target` (command start as planned), or why
 * it is no longer the thread that was chosen.
 */
export const recheck = (p: Params): Effect.Effect<MySqlKill.Target | "gone" | "changed", DbError, MySql> =>
  Effect.gen(function*() {
    const mariadb = yield* MySqlActivity.isMariaDb
    const now = (yield* MySqlActivity.sessions).find((s) => s.id === p.id)
    if (now === undefined) return "gone" as const
    if (now.user !== p.user || !inState(now, p.state)) return "changed" as const
    if (Math.abs(now.command_started_ms - p.commandStartedMs) > MySqlActivity.commandStartToleranceMs(mariadb, p.commandMs)) return "changed" as const
    return { ...MySqlKill.targetOf(now), commandStartedMs: p.commandStartedMs, commandMs: p.commandMs, info: p.info }
  })

/** Runs a guarded kill after {@link recheck}; a changed thread is skipped, not failed. */
export const killAfterRecheck = (
  kind: string,
  verb: string,
  p: Params,
  kill: (t: MySqlKill.Target) => Effect.Effect<MySqlKill.Result, DbError | DbInvalidInput, MySql>
): Effect.Effect<ActionHandler.HandlerResult, ActionHandler.ActionFailed, MySql> =>
  Effect.gen(function*() {
    const who = `thread ${p.id} (${JSON.stringify(p.applicationName)}, ${p.state})`
    const failed = (e: { readonly message: string }) => new ActionHandler.ActionFailed({ kind, message: `${verb} ${who}: ${e.message}` })
    const t = yield* recheck(p).pipe(Effect.mapError(failed))
    if (t === "gone" || t === "changed") {
      return handlerResult({ detail: `skipped: session changed (${t}): ${who}`, result: { id: p.id, killed: false, skipped: t } })
    }
    const r = yield* kill(t).pipe(Effect.mapError(failed))
    if (r._tag === "Killed") return handlerResult({ detail: `${verb} ${who}`, result: { id: p.id, killed: true } })
    const detail = r.reason === "gone" || r.reason === "changed" ? `skipped: session changed (${r.reason})` : `skipped: refused at kill time (${r.reason})`
    return handlerResult({ detail: `${detail}: ${who}`, result: { id: p.id, killed: false, skipped: r.reason } })
  })

/** The handler. */
export const make = (options: SessionGuardrails.SessionGuardOptions = {}): ActionHandler.ActionHandler<MySql> =>
  ActionHandler.make<Params, MySql>({
    kind: KIND,
    params: Params,
    guardrails: SessionGuardrails.terminating("mysql", options),
    apply: (p, ctx) =>
      ctx.dryRun
        ? Effect.succeed({ detail: `would kill connection ${p.id} (${JSON.stringify(p.applicationName)}) if it still matches`, result: { id: p.id } })
        : killAfterRecheck(KIND, "killed connection", p, (t) =>
          MySqlKill.killConnection(t, {
            ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {}),
            ...(p.noRowLocks === true ? { noRowLocks: true } : {})
          })),
    observe: (p) =>
      Effect.map(recheck(p), (t) =>
        t === "gone"
          ? ActionHandler.applied(`thread ${p.id} no longer exists`)
          : ActionHandler.notApplied(`thread ${p.id} still exists${t === "changed" ? " (no longer in the state it was chosen in)" : ""}`))
  })

/** Pure: the params of a MySQL session as the six-class diagnosis shows it (`undefined` without a command start). */
export const paramsOf = (s: PgSession): Params | undefined =>
  s.state === null || s.state_change === null
    ? undefined
    : {
      id: s.pid,
      user: s.usename,
      applicationName: s.application_name,
      state: s.state,
      commandStartedMs: s.state_change.getTime(),
      commandMs: s.state_age_ms ?? 0,
      superuser: s.rolsuper,
      info: s.query === null ? null : s.query
    }

/** Pure: the action killing one MySQL connection. */
export const action = (
  target: TargetRef.TargetRef,
  s: PgSession,
  why: string,
  options: { readonly noRowLocks?: boolean; readonly client?: boolean } = {}
): Action.Action | undefined => {
  const p = paramsOf(s)
  if (p === undefined) return undefined
  return Action.make({
    kind: KIND,
    target,
    params: { ...p, info: null, ...(options.noRowLocks === true ? { noRowLocks: true } : {}), ...(options.client === true ? { clientAddr: s.client_addr } : {}) },
    precondition: { id: p.id, state: p.state, commandStartedMs: p.commandStartedMs },
    timeoutMs: 15_000,
    description: `kill connection ${p.id} (${JSON.stringify(p.applicationName)}, ${p.state}): ${why}`
  })
}
