/**
 * `pg.terminateBackend`: `pg_terminate_backend` on one PostgreSQL session, conditional on the
 * session it was chosen as (pid **and** backend_start **and** state, and the transaction's
 * xact_start), through `PgKill.terminate` — the superuser and protected checks are repeated in
 * the statement that sends the signal.
 *
 * With the param `noRowLocks` (set by `db.connections.saturation`), a session whose open
 * transaction may hold row locks (a `backend_xid`, or a blocker of another backend) is refused in
 * the same statement: `skipped: refused at signal time (holds_row_locks)`, `result.skipped =
 * "holds_row_locks"`, nothing signalled.
 *
 * Action-kind guardrails (see `SessionGuardrails`): never a superuser, never a protected
 * application or user, `kills_per_minute_cap` (one unit per termination).
 *
 * A session that changed between plan and kill (it committed, its pid was reused, it ended) is
 * not terminated and is not a failure: the handler succeeds with a detail starting
 * `skipped: session changed`, so the plan goes on and verification decides whether the
 * incident recovered. Only a signal the server could not deliver fails the action.
 *
 * The statement runs on the connection `PgTargets` routes the action's target to (a replica's
 * sessions on the replica), else on `Postgres`.
 *
 * `observe` (an interrupted incident resuming): the backend (pid **and** backend_start) gone is
 * applied — the session no longer exists, whoever ended it; still there is not applied.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, type Json, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import type { DbError } from "../DbError"
import { Postgres } from "../Postgres"
import { type PgSession, US } from "../probes/PgActivity"
import * as PgKill from "../sessions/PgKill"
import * as PgTargets from "../sessions/PgTargets"
import * as SessionGuardrails from "./SessionGuardrails"
import { handlerResult } from "./SessionGuardrails"

/** The action kind. */
export const KIND = "pg.terminateBackend"

/** The params: the session's identity and what it was chosen as. */
export const Params = Schema.Struct({
  pid: Schema.Int,
  backendStartUs: Schema.String,
  state: Schema.String,
  xactStartUs: Schema.NullOr(Schema.String),
  queryStartUs: Schema.optionalKey(Schema.NullOr(Schema.String)),
  applicationName: Schema.String,
  user: Schema.NullOr(Schema.String),
  superuser: Schema.Boolean,
  /**
   * Refuse, in the kill's own statement, a session whose open transaction may hold row locks
   * (`PgKill`'s `noRowLocks`). Absent = false (`db.pool.six-class`); `db.connections.saturation` sets it.
   */
  noRowLocks: Schema.optionalKey(Schema.Boolean),
  /**
   * The session's client address (`client_addr`), named so that the per-workload annotation gate
   * of `db.connections.saturation` can trace it to its workload. Absent in other runbooks' plans.
   */
  clientAddr: Schema.optionalKey(Schema.NullOr(Schema.String))
})
/** The params. */
export type Params = typeof Params.Type

/** Handler options (the session guardrails' options, and how long the server waits for the backend to exit). */
export interface Options extends SessionGuardrails.SessionGuardOptions {
  /** Passed to `pg_terminate_backend(pid, timeout)` (ms, default 5 000). */
  readonly waitMillis?: number
}

/** Pure: the skip detail of a refusal (`skipped: session changed (…)` for gone/changed). */
export const skipDetail = (reason: PgKill.Refusal): string =>
  reason === "gone" || reason === "changed"
    ? `skipped: session changed (${reason === "gone" ? "the session ended or its pid was reused" : "it is no longer in the state it was chosen for"})`
    : `skipped: refused at signal time (${reason})`

/** Pure: the handler result of a refusal other than `signal_failed`: nothing signalled, `result` plus `signalled: false` and `skipped`. */
export const skipped = (reason: PgKill.Refusal, who: string, result: Json.JsonObject): { readonly detail: string; readonly result: Json.JsonObject } =>
  handlerResult({ detail: `${skipDetail(reason)}: ${who}`, result: { ...result, signalled: false, skipped: reason } })

/** The handler. */
export const make = (options: Options = {}): ActionHandler.ActionHandler<Postgres> =>
  ActionHandler.make<Params, Postgres>({
    kind: KIND,
    params: Params,
    guardrails: SessionGuardrails.terminating("postgres", options),
    apply: (p, ctx) =>
      PgTargets.routed(ctx.action.target, Effect.gen(function*() {
        const who = `backend ${p.pid} (${JSON.stringify(p.applicationName)}, ${p.state})`
        if (ctx.dryRun) return handlerResult({ detail: `would terminate ${who} if it still matches`, result: { pid: p.pid } })
        const r = yield* PgKill.terminate(
          { pid: p.pid, backendStartUs: p.backendStartUs, state: p.state, xactStartUs: p.xactStartUs, queryStartUs: p.queryStartUs ?? null },
          {
            ...SessionGuardrails.protectedOf(options),
            ...(options.waitMillis !== undefined ? { waitMillis: options.waitMillis } : {}),
            ...(p.noRowLocks === true ? { noRowLocks: true } : {})
          }
        ).pipe(Effect.mapError((e) => new ActionHandler.ActionFailed({ kind: KIND, message: `terminate ${who}: ${e.message}` })))
        if (r._tag === "Signalled") return handlerResult({ detail: `terminated ${who}`, result: { pid: p.pid, signalled: true } })
        if (r.reason === "signal_failed") {
          return yield* new ActionHandler.ActionFailed({ kind: KIND, message: `the server did not terminate ${who}` })
        }
        return skipped(r.reason, who, { pid: p.pid })
      })),
    observe: (p, ctx) =>
      PgTargets.routed(ctx.action.target, Effect.map(backendAlive(p), (alive) =>
        alive
          ? ActionHandler.notApplied(`backend ${p.pid} (started ${p.backendStartUs} µs) still exists`)
          : ActionHandler.applied(`backend ${p.pid} (started ${p.backendStartUs} µs) no longer exists`)))
  })

/** Whether the backend (pid and backend_start) still exists. */
export const backendAlive = (p: { readonly pid: number; readonly backendStartUs: string }): Effect.Effect<boolean, DbError, Postgres> =>
  Postgres.use((db) => db.query(`SELECT 1 FROM pg_stat_activity a WHERE a.pid = $1 AND ${US("a.backend_start")} = $2::text`, [p.pid, p.backendStartUs])).pipe(
    Effect.map((rows) => rows.length > 0)
  )

/**
 * Pure: the action terminating one probed session (`undefined` for a session without an
 * identity). With `statement`, it is also conditional on the statement (`query_start`): the
 * termination that follows a failed cancel.
 */
export const action = (
  target: TargetRef.TargetRef,
  s: PgSession,
  why: string,
  options: { readonly statement?: boolean; readonly noRowLocks?: boolean; readonly client?: boolean } = {}
): Action.Action | undefined => {
  const t = PgKill.targetOf(s)
  if (t === undefined) return undefined
  return Action.make({
    kind: KIND,
    target,
    params: {
      pid: t.pid,
      backendStartUs: t.backendStartUs,
      state: t.state,
      xactStartUs: t.xactStartUs ?? null,
      ...(options.statement === true ? { queryStartUs: t.queryStartUs ?? null } : {}),
      applicationName: s.application_name,
      user: s.usename,
      superuser: s.rolsuper,
      ...(options.noRowLocks === true ? { noRowLocks: true } : {}),
      ...(options.client === true ? { clientAddr: s.client_addr } : {})
    },
    precondition: {
      pid: t.pid,
      backendStartUs: t.backendStartUs,
      state: t.state,
      xactStartUs: t.xactStartUs ?? null,
      ...(options.statement === true ? { queryStartUs: t.queryStartUs ?? null } : {})
    },
    timeoutMs: 15_000,
    description: `terminate backend ${t.pid} (${JSON.stringify(s.application_name)}, ${t.state}): ${why}`
  })
}
