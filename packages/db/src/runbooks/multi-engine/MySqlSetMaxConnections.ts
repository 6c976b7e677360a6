/**
 * Action `mysql.setMaxConnections`: `SET GLOBAL max_connections = <to>` on MySQL / MariaDB
 * (never `SET PERSIST`: the lasting change is the config-file ChangeProposal that goes with it),
 * only while the server still has the value the plan saw (`from`), never lower. `observe` reads
 * `@@GLOBAL.max_connections`: at or above `to` → applied.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail } from "@byteport/core"
import type { TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { handlerResult } from "../../actions/SessionGuardrails"
import { MySql } from "../../MySql"

/** The kind. */
export const KIND = "mysql.setMaxConnections"

/** Parameters. */
export const Params = Schema.Struct({ from: Schema.Int, to: Schema.Int })
/** Parameters. */
export type Params = typeof Params.Type

const current = Effect.flatMap(Effect.service(MySql), (db) => db.query("SELECT @@GLOBAL.max_connections AS v")).pipe(Effect.map((rows) => Number(rows[0]?.["v"])))

/** Never lowers max_connections. */
export const neverLower: Guardrail.Guardrail<never> = Guardrail.never(
  (ctx) => ctx.action.kind === KIND && !(Number(ctx.action.params["to"]) > Number(ctx.action.params["from"])),
  "never lower max_connections",
  { name: "never: lower max_connections" }
)

/** The handler. */
export const make = (): ActionHandler.ActionHandler<MySql> =>
  ActionHandler.make<Params, MySql>({
    kind: KIND,
    params: Params,
    guardrails: [neverLower],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const failed = (message: string) => new ActionHandler.ActionFailed({ kind: KIND, message })
        if (ctx.dryRun) return handlerResult({ detail: `would SET GLOBAL max_connections = ${p.to} (from ${p.from})`, result: { from: p.from, to: p.to } })
        const now = yield* current.pipe(Effect.mapError((e) => failed(e.message)))
        if (now >= p.to) return handlerResult({ detail: `skipped: max_connections is already ${now}`, result: { from: now, to: p.to, skipped: "already_raised" } })
        if (now !== p.from) return yield* failed(`max_connections is ${now}, not the ${p.from} the plan saw`)
        const db = yield* MySql
        yield* db.query(`SET GLOBAL max_connections = ${Math.trunc(p.to)}`).pipe(Effect.mapError((e) => failed(e.message)))
        return handlerResult({ detail: `SET GLOBAL max_connections = ${p.to} (was ${p.from})`, result: { from: p.from, to: p.to } })
      }),
    observe: (p) =>
      Effect.map(current, (v) => (v >= p.to ? ActionHandler.applied(`max_connections is ${v}`) : ActionHandler.notApplied(`max_connections is ${v}`)))
  })

/** The action. */
export const action = (target: TargetRef.TargetRef, from: number, to: number, why: string): Action.Action =>
  Action.make({
    kind: KIND,
    target,
    params: { from, to },
    precondition: { max_connections: from },
    timeoutMs: 20_000,
    description: `SET GLOBAL max_connections ${from} → ${to}: ${why}`
  })
