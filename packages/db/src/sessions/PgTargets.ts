/**
 * Which PostgreSQL connection acts on which database target. A runbook that watches more than
 * one server (`db.replica.lag`: the primary and its replica) plans session kills against the
 * target the session lives on; the kill handlers (`pg.terminateBackend`, `pg.cancelBackend`)
 * look the action's target up here and run their conditional statement on that target's
 * connection. A target not listed uses the handler's `Postgres` service, as before.
 *
 * ```ts
 * // the replica's sessions are killed on the replica, everything else on Postgres
 * const registry = ActionRegistry.layer({ handlers: [PgTerminateBackend.make()] }).pipe(
 *   Layer.provide(PgTargets.layerFrom(replicaTarget, PgReplica)), Layer.provide(primaryLayer))
 * ```
 *
 * @since 0.1.0
 */
import { TargetRef } from "@byteport/core"
import { Context, Effect, Layer } from "effect"
import { Postgres, type PostgresApi } from "../Postgres"

/** Connections by `TargetRef.key(target)` (default: none, every target uses `Postgres`). */
export const PgTargets: Context.Reference<ReadonlyMap<string, PostgresApi>> = Context.Reference<ReadonlyMap<string, PostgresApi>>(
  "@byteport/db/PgTargets",
  { defaultValue: () => new Map() }
)

/** A layer routing `target` to the connection of the service `service` (e.g. `PgReplica`), keeping routes already provided. */
export const layerFrom = <I>(target: TargetRef.TargetRef, service: Context.Key<I, PostgresApi>): Layer.Layer<never, never, I> =>
  Layer.effectContext(Effect.gen(function*() {
    const db = yield* service
    const current = yield* PgTargets
    return Context.make(PgTargets, new Map([...current, [TargetRef.key(target), db]]))
  }))

/** A layer routing each target to its connection. */
export const layer = (routes: ReadonlyArray<readonly [TargetRef.TargetRef, PostgresApi]>): Layer.Layer<never> =>
  Layer.succeedContext(Context.make(PgTargets, new Map(routes.map(([t, db]) => [TargetRef.key(t), db]))))

/** Runs `effect` with `Postgres` bound to `target`'s connection when one is routed, else as it is. */
export const routed = <A, E, R>(target: TargetRef.TargetRef, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  PgTargets.use((routes) => {
    const db = routes.get(TargetRef.key(target))
    return db === undefined ? effect : Effect.provideService(effect, Postgres, db) as Effect.Effect<A, E, R>
  })
