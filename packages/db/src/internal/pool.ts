/**
 * A scoped `pg` pool whose every error — on the pool and on each of its clients — goes to one
 * handler, so a terminated backend never crashes the process; the pool is ended with the scope.
 */
import { Effect, type Scope } from "effect"
import pg from "pg"

/** Builds the pool in the current scope; `onError` receives every background connection error. */
export const scopedPool = (
  config: pg.PoolConfig,
  onError: (err: unknown) => void
): Effect.Effect<pg.Pool, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const p = new pg.Pool(config)
      p.on("error", onError)
      p.on("connect", (client) => {
        client.on("error", onError)
      })
      return p
    }),
    (p) => Effect.promise(() => p.end().catch(() => undefined))
  )
