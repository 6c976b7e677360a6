/**
 * `mysql.killQuery`: `KILL QUERY` of one MySQL / MariaDB statement (MariaDB: `KILL QUERY ID`,
 * which names the statement itself) through `MySqlKill.killQuery`, after the same re-read as
 * `mysql.killConnection`. The graceful step for long_running_query on MySQL; the plan falls back
 * to `mysql.killConnection` when it fails. Guardrails: never a superuser (SUPER /
 * CONNECTION_ADMIN), never a protected user; not counted against `kills_per_minute_cap` (it
 * ends a statement, not a connection). The statement text is kept in the outcome.
 *
 * `observe`: the planned statement (thread, command start, state) no longer running is applied;
 * still running is not applied.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Effect } from "effect"
import { MySql } from "../MySql"
import type { PgSession } from "../probes/PgActivity"
import * as MySqlKill from "../sessions/MySqlKill"
import { MAX_QUERY_TEXT } from "./PgCancelBackend"
import { killAfterRecheck, Params, paramsOf, recheck } from "./MySqlKillConnection"
import * as SessionGuardrails from "./SessionGuardrails"
import { handlerResult } from "./SessionGuardrails"

/** The action kind. */
export const KIND = "mysql.killQuery"

/** The handler. */
export const make = (options: SessionGuardrails.SessionGuardOptions = {}): ActionHandler.ActionHandler<MySql> =>
  ActionHandler.make<Params, MySql>({
    kind: KIND,
    params: Params,
    guardrails: SessionGuardrails.cancelling("mysql", options),
    apply: (p, ctx) =>
      Effect.map(
        ctx.dryRun
          ? Effect.succeed(handlerResult({ detail: `would kill the statement of thread ${p.id} if it still runs`, result: { id: p.id } }))
          : killAfterRecheck(KIND, "killed the statement of", p, (t) =>
            MySqlKill.killQuery(t, options.protectedUsers ? { protectedUsers: options.protectedUsers } : {})),
        (r) => handlerResult({ detail: r.detail, result: { ...r.result, query: p.info === null ? null : p.info.slice(0, MAX_QUERY_TEXT) } })
      ),
    observe: (p) =>
      Effect.map(recheck(p), (t) =>
        t === "gone" || t === "changed"
          ? ActionHandler.applied(`the statement of thread ${p.id} no longer runs (${t === "gone" ? "the thread ended" : "the thread moved on"})`)
          : ActionHandler.notApplied(`the statement of thread ${p.id} still runs`))
  })

/** Pure: the action killing one MySQL session's statement. */
export const action = (target: TargetRef.TargetRef, s: PgSession, why: string): Action.Action | undefined => {
  const p = paramsOf(s)
  if (p === undefined) return undefined
  return Action.make({
    kind: KIND,
    target,
    params: { ...p, info: p.info === null ? null : p.info.slice(0, MAX_QUERY_TEXT) },
    precondition: { id: p.id, state: p.state, commandStartedMs: p.commandStartedMs },
    timeoutMs: 15_000,
    description: `kill the statement of thread ${p.id} (${JSON.stringify(p.applicationName)}): ${why}`
  })
}
