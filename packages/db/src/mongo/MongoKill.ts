/**
 * MongoDB kills as action kinds, under the same session guardrails as the SQL kills
 * (`SessionGuardrails.terminating`: never a superuser or protected session, and
 * `kills_per_minute_cap` per database target — shared with `pg.terminateBackend` and
 * `mysql.killConnection` on the same target):
 *
 * - `mongo.killOp` — `killOp` of a long-running operation, re-checked first: the operation must
 *   still run on the same connection (`opid`, `connectionId`), else the step is skipped;
 * - `mongo.killSessions` — `killSessions` of a session idle inside a transaction, re-checked
 *   first: the session must still be idle in the same transaction (`txnNumber`), else skipped.
 *
 * Both declare `observe` (was the operation / the idle transaction gone?), so observe and
 * dry_run modes can read what happened without acting.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { Binary } from "mongodb"
import * as SessionGuardrails from "../actions/SessionGuardrails"
import { handlerResult } from "../actions/SessionGuardrails"
import { Mongo } from "./Mongo"
import * as MongoActivity from "./MongoActivity"

/** The kill-operation kind. */
export const KILL_OP = "mongo.killOp"
/** The kill-sessions kind. */
export const KILL_SESSIONS = "mongo.killSessions"

/** Parameters of `mongo.killOp`. */
export const KillOpParams = Schema.Struct({
  opid: Schema.Number,
  connectionId: Schema.NullOr(Schema.Number),
  applicationName: Schema.String,
  user: Schema.NullOr(Schema.String),
  superuser: Schema.Boolean,
  ns: Schema.NullOr(Schema.String),
  command: Schema.NullOr(Schema.String),
  secsRunning: Schema.Number
})
/** Parameters of `mongo.killOp`. */
export type KillOpParams = typeof KillOpParams.Type

/** Parameters of `mongo.killSessions`. */
export const KillSessionsParams = Schema.Struct({
  lsid: Schema.String,
  txnNumber: Schema.NullOr(Schema.Number),
  applicationName: Schema.String,
  user: Schema.NullOr(Schema.String),
  superuser: Schema.Boolean,
  idleSecs: Schema.Number
})
/** Parameters of `mongo.killSessions`. */
export type KillSessionsParams = typeof KillSessionsParams.Type

const failed = (kind: string) => (e: { readonly message: string }) => new ActionHandler.ActionFailed({ kind, message: e.message })

const running = (p: KillOpParams) =>
  Effect.map(MongoActivity.currentOp, (ops) => ops.some((o) => o.opid === p.opid && o.active && (p.connectionId === null || o.connectionId === p.connectionId)))

const idleIn = (p: KillSessionsParams) =>
  Effect.map(MongoActivity.currentOp, (ops) => ops.some((o) => o.type === "idleSession" && o.lsid === p.lsid))

/** The `mongo.killOp` handler. */
export const killOp = (options: SessionGuardrails.SessionGuardOptions = {}): ActionHandler.ActionHandler<Mongo> =>
  ActionHandler.make<KillOpParams, Mongo>({
    kind: KILL_OP,
    params: KillOpParams,
    guardrails: SessionGuardrails.terminating("postgres", { protectedUsers: [], ...options }),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const who = `operation ${p.opid} (${JSON.stringify(p.applicationName)}, ${p.ns ?? "?"})`
        const kept = { opid: p.opid, ns: p.ns, command: p.command }
        if (ctx.dryRun) return handlerResult({ detail: `would killOp ${who} if it still runs`, result: kept })
        const still = yield* running(p).pipe(Effect.mapError(failed(KILL_OP)))
        if (!still) return handlerResult({ detail: `skipped: session changed: ${who} no longer runs`, result: { ...kept, killed: false, skipped: "session_changed" } })
        const mongo = yield* Mongo
        yield* mongo.command({ killOp: 1, op: p.opid }).pipe(Effect.mapError(failed(KILL_OP)))
        return handlerResult({ detail: `killOp ${who}`, result: { ...kept, killed: true } })
      }),
    observe: (p) =>
      Effect.map(running(p), (r) => (r ? ActionHandler.notApplied(`operation ${p.opid} still runs`) : ActionHandler.applied(`operation ${p.opid} no longer runs`)))
  })

/** The `mongo.killSessions` handler. */
export const killSessions = (options: SessionGuardrails.SessionGuardOptions = {}): ActionHandler.ActionHandler<Mongo> =>
  ActionHandler.make<KillSessionsParams, Mongo>({
    kind: KILL_SESSIONS,
    params: KillSessionsParams,
    guardrails: SessionGuardrails.terminating("postgres", { protectedUsers: [], ...options }),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const who = `session ${p.lsid.slice(0, 8)}… (${JSON.stringify(p.applicationName)}, transaction ${p.txnNumber ?? "?"})`
        const kept = { lsid: p.lsid, txnNumber: p.txnNumber }
        if (ctx.dryRun) return handlerResult({ detail: `would killSessions ${who} if still idle in its transaction`, result: kept })
        const still = yield* idleIn(p).pipe(Effect.mapError(failed(KILL_SESSIONS)))
        if (!still) return handlerResult({ detail: `skipped: session changed: ${who} is no longer idle in a transaction`, result: { ...kept, killed: false, skipped: "session_changed" } })
        const mongo = yield* Mongo
        yield* mongo.command({ killSessions: [{ id: new Binary(Buffer.from(p.lsid, "hex"), Binary.SUBTYPE_UUID) }] }).pipe(Effect.mapError(failed(KILL_SESSIONS)))
        return handlerResult({ detail: `killSessions ${who}`, result: { ...kept, killed: true } })
      }),
    observe: (p) =>
      Effect.map(idleIn(p), (r) => (r ? ActionHandler.notApplied(`session ${p.lsid} is still idle in a transaction`) : ActionHandler.applied(`session ${p.lsid} no longer idle in a transaction`)))
  })

/** The action killing a long-running operation. */
export const killOpAction = (target: TargetRef.TargetRef, op: MongoActivity.MongoOp, why: string): Action.Action | undefined =>
  op.opid === undefined ? undefined : Action.make({
    kind: KILL_OP,
    target,
    params: {
      opid: op.opid,
      connectionId: op.connectionId ?? null,
      applicationName: op.appName ?? "",
      user: op.user ?? null,
      superuser: false,
      ns: op.ns ?? null,
      command: op.commandShape ?? null,
      secsRunning: Math.round(op.secsRunning)
    },
    precondition: { opid: op.opid, connectionId: op.connectionId ?? null },
    timeoutMs: 30_000,
    description: `killOp ${op.opid} (${JSON.stringify(op.appName ?? "")}, ${op.ns ?? "?"}): ${why}`
  })

/** The action killing a session idle inside a transaction. */
export const killSessionsAction = (target: TargetRef.TargetRef, op: MongoActivity.MongoOp, why: string): Action.Action | undefined =>
  op.lsid === undefined ? undefined : Action.make({
    kind: KILL_SESSIONS,
    target,
    params: {
      lsid: op.lsid,
      txnNumber: op.txnNumber ?? null,
      applicationName: op.appName ?? "",
      user: op.user ?? null,
      superuser: false,
      idleSecs: Math.round(op.txnIdleSecs)
    },
    precondition: { lsid: op.lsid, txnNumber: op.txnNumber ?? null },
    timeoutMs: 30_000,
    description: `killSessions ${op.lsid.slice(0, 8)}… (${JSON.stringify(op.appName ?? "")}): ${why}`
  })

/** Both handlers, to register (`ActionRegistry.layer({ handlers })`). */
export const handlers = (options: SessionGuardrails.SessionGuardOptions = {}): ReadonlyArray<ActionHandler.ActionHandler<Mongo>> => [killOp(options), killSessions(options)]
