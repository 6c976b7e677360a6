/**
 * `pg.cancelBackend`: `pg_cancel_backend` on one PostgreSQL statement (the graceful step for
 * long_running_query), conditional on pid, backend_start, state `active` and the statement's
 * query_start, through `PgKill.cancel`.
 *
 * A cancel *fails* when the signal was sent but the same statement is still running after
 * `graceMillis` (default 5 s) — e.g. a function that swallows `query_canceled` — or when the
 * server could not deliver the signal. The plan then falls back to `pg.terminateBackend`
 * (`Plan.fallback(act(cancel), act(terminate), { on: ["failed"] })`). A statement that ended
 * before the cancel is `skipped: session changed`, not a failure (nothing to fall back to).
 * The statement runs on the connection `PgTargets` routes the action's target to, else on `Postgres`.
 *
 * The query text is kept in the outcome (`result.query`, at most 4 000 characters) for the
 * EXPLAIN postmortem. Guardrails: never a superuser, never a protected session (a cancel ends a
 * statement, not a backend, so it does not count against `kills_per_minute_cap`).
 *
 * `observe`: the statement (pid, backend_start, query_start, active) no longer running is
 * applied; still running is not applied.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Duration, Effect, Schema } from "effect"
import { Postgres } from "../Postgres"
import { type PgSession, US } from "../probes/PgActivity"
import * as PgKill from "../sessions/PgKill"
import * as PgTargets from "../sessions/PgTargets"
import { skipped } from "./PgTerminateBackend"
import * as SessionGuardrails from "./SessionGuardrails"
import { handlerResult } from "./SessionGuardrails"

/** The action kind. */
export const KIND = "pg.cancelBackend"

/** Longest query text kept in an outcome. */
export const MAX_QUERY_TEXT = 4_000

/** The params. */
export const Params = Schema.Struct({
  pid: Schema.Int,
  backendStartUs: Schema.String,
  state: Schema.String,
  queryStartUs: Schema.String,
  applicationName: Schema.String,
  user: Schema.NullOr(Schema.String),
  superuser: Schema.Boolean,
  query: Schema.NullOr(Schema.String),
  queryId: Schema.NullOr(Schema.String)
})
/** The params. */
export type Params = typeof Params.Type

/** Handler options. */
export interface Options extends SessionGuardrails.SessionGuardOptions {
  /** How long the statement may keep running after the cancel before the cancel counts as failed (default 5 s). */
  readonly graceMillis?: number
}

const stillRunning = (p: Params) =>
  Postgres.use((db) =>
    db.query(
      `SELECT 1 FROM pg_stat_activity a
        WHERE a.pid = $1 AND ${US("a.backend_start")} = $2::text AND a.state = 'active' AND ${US("a.query_start")} = $3::text`,
      [p.pid, p.backendStartUs, p.queryStartUs]
    )
  ).pipe(Effect.map((rows) => rows.length > 0))

/** The handler. */
export const make = (options: Options = {}): ActionHandler.ActionHandler<Postgres> =>
  ActionHandler.make<Params, Postgres>({
    kind: KIND,
    params: Params,
    guardrails: SessionGuardrails.cancelling("postgres", options),
    apply: (p, ctx) =>
      PgTargets.routed(ctx.action.target, Effect.gen(function*() {
        const who = `backend ${p.pid} (${JSON.stringify(p.applicationName)})`
        const query = p.query === null ? null : p.query.slice(0, MAX_QUERY_TEXT)
        const kept = { pid: p.pid, query, queryId: p.queryId }
        if (ctx.dryRun) return handlerResult({ detail: `would cancel the statement of ${who} if it still runs`, result: kept })
        const failed = (message: string) => new ActionHandler.ActionFailed({ kind: KIND, message })
        const r = yield* PgKill.cancel(
          { pid: p.pid, backendStartUs: p.backendStartUs, state: p.state, queryStartUs: p.queryStartUs },
          SessionGuardrails.protectedOf(options)
        ).pipe(Effect.mapError((e) => failed(`cancel ${who}: ${e.message}`)))
        if (r._tag === "Refused") {
          if (r.reason === "signal_failed") return yield* failed(`the server did not cancel the statement of ${who}`)
          return skipped(r.reason, who, kept)
        }
        const grace = Math.max(0, options.graceMillis ?? 5_000)
        const deadline = Date.now() + grace
        for (;;) {
          const running = yield* stillRunning(p).pipe(Effect.mapError((e) => failed(`after cancelling ${who}: ${e.message}`)))
          if (!running) return handlerResult({ detail: `cancelled the statement of ${who}`, result: { ...kept, signalled: true } })
          if (Date.now() >= deadline) break
          yield* Effect.sleep(Duration.millis(Math.min(100, Math.max(1, deadline - Date.now()))))
        }
        return yield* failed(`the statement of ${who} still runs ${grace} ms after the cancel`)
      })),
    observe: (p, ctx) =>
      PgTargets.routed(ctx.action.target, Effect.map(stillRunning(p), (running) =>
        running
          ? ActionHandler.notApplied(`the statement of backend ${p.pid} (started ${p.queryStartUs} µs) still runs`)
          : ActionHandler.applied(`the statement of backend ${p.pid} (started ${p.queryStartUs} µs) no longer runs`)))
  })

/** Pure: the action cancelling one probed session's statement (`undefined` without an identity or a statement). */
export const action = (target: TargetRef.TargetRef, s: PgSession, why: string): Action.Action | undefined => {
  const t = PgKill.targetOf(s)
  if (t === undefined || t.queryStartUs === null || t.queryStartUs === undefined) return undefined
  return Action.make({
    kind: KIND,
    target,
    params: {
      pid: t.pid,
      backendStartUs: t.backendStartUs,
      state: t.state,
      queryStartUs: t.queryStartUs,
      applicationName: s.application_name,
      user: s.usename,
      superuser: s.rolsuper,
      query: s.query === null ? null : s.query.slice(0, MAX_QUERY_TEXT),
      queryId: s.query_id
    },
    precondition: { pid: t.pid, backendStartUs: t.backendStartUs, state: t.state, queryStartUs: t.queryStartUs },
    timeoutMs: 30_000,
    description: `cancel the statement of backend ${t.pid} (${JSON.stringify(s.application_name)}): ${why}`
  })
}
