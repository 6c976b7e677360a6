/**
 * `pgbouncer.raisePoolSize`: raise `default_pool_size` in pgbouncer.ini and `RELOAD`
 * (missing_pgbouncer / undersized_pool), through `PgBouncerIni.applyAndReload`: the ini is
 * backed up first (`pgbouncer.ini.bak-<UTC timestamp>`), only that value is rewritten, and the
 * live `SHOW DATABASES` must show the new size afterwards (else the action fails).
 *
 * Action-kind guardrails:
 * - `ceiling` "pgbouncer pools within PostgreSQL capacity": Σ (pool_size + reserve_pool) over the
 *   pools at the proposed size (`params.projectedTotal`) never above `max_connections −
 *   superuser_reserved_connections` (the Known `utilization` fact's `available`, else
 *   `params.available`); a limit that cannot be told denies.
 * - `never` lower a pool: the proposed size must be above the size it was planned from.
 *
 * In auto the handler re-checks capacity live (`PgBouncerIni.checkCapacity`) right before
 * writing and fails rather than overcommit; in dry_run it only runs that check.
 *
 * `observe`: the ini's `default_pool_size` at the proposed size with every pool live at its
 * effective size (`SHOW DATABASES`) is applied; the ini still at the planned-from size, or
 * written but not reloaded yet, is not applied (running it again is safe); anything else is
 * unknown.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { PgBouncer } from "../PgBouncer"
import * as PgBouncerStats from "../probes/PgBouncerStats"
import * as PgBouncerIni from "../pgbouncer/PgBouncerIni"
import type { Postgres } from "../Postgres"
import { handlerResult } from "./SessionGuardrails"

/** The action kind. */
export const KIND = "pgbouncer.raisePoolSize"

/** The params. */
export const Params = Schema.Struct({
  defaultPoolSize: Schema.Int.check(Schema.isGreaterThan(0)),
  from: Schema.Int,
  /** Σ (pool_size + reserve_pool) over the live pools at the proposed size, as planned. */
  projectedTotal: Schema.Int,
  /** `max_connections − superuser_reserved_connections` as planned. */
  available: Schema.Int,
  /** The ini to edit (default: the PgBouncer service's `BYTEPORT_PGBOUNCER_INI`). */
  iniPath: Schema.optionalKey(Schema.String)
})
/** The params. */
export type Params = typeof Params.Type

/** The capacity ceiling (see module docs). */
export const capacityCeiling: Guardrail.Guardrail<never> = Guardrail.ceiling({
  name: "ceiling: pgbouncer pools ≤ max_connections − superuser_reserved_connections",
  proposed: (ctx) => Guardrail.numberFromJson(ctx.action.params["projectedTotal"]),
  limit: (ctx) => {
    const f = ctx.facts["utilization"]
    if (f !== undefined && f._tag === "Known" && f.value !== null && typeof f.value === "object" && !Array.isArray(f.value)) {
      const a = Guardrail.numberFromJson((f.value as { readonly [k: string]: any })["available"])
      if (a !== undefined) return a
    }
    return Guardrail.numberFromJson(ctx.action.params["available"])
  },
  describe: (n) => `${n} connections`
})

/** `never` lower (or keep) a pool size. */
export const neverLower: Guardrail.Guardrail<never> = Guardrail.never(
  (ctx) => !(Number(ctx.action.params["defaultPoolSize"]) > Number(ctx.action.params["from"])),
  "never lower a pgbouncer pool size (raise only)",
  { name: "never: lower a pool size" }
)

/** The handler. */
export const make = (): ActionHandler.ActionHandler<PgBouncer | Postgres> =>
  ActionHandler.make<Params, PgBouncer | Postgres>({
    kind: KIND,
    params: Params,
    guardrails: [neverLower, capacityCeiling],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const failed = (message: string) => new ActionHandler.ActionFailed({ kind: KIND, message })
        const iniOpt = p.iniPath !== undefined ? { iniPath: p.iniPath } : {}
        const change = { defaultPoolSize: p.defaultPoolSize }
        const cap = yield* PgBouncerIni.checkCapacity(change, iniOpt).pipe(Effect.mapError((e) => failed(`capacity check: ${e.message}`)))
        if (!cap.fits) {
          return yield* failed(`default_pool_size ${p.defaultPoolSize} would need ${cap.total} server connections; PostgreSQL allows ${cap.available}`)
        }
        if (ctx.dryRun) {
          return handlerResult({
            detail: `would raise default_pool_size ${p.from} → ${p.defaultPoolSize} and RELOAD (${cap.total}/${cap.available} connections)`,
            result: { total: cap.total, available: cap.available }
          })
        }
        const a = yield* PgBouncerIni.applyAndReload(change, { ...iniOpt, raiseOnly: true }).pipe(Effect.mapError((e) => failed(e.message)))
        if (!a.verified) return yield* failed(`RELOAD did not take: SHOW DATABASES shows ${JSON.stringify(a.live)}`)
        return handlerResult({
          detail: `raised default_pool_size ${a.before.defaultPoolSize} → ${a.after.defaultPoolSize} and RELOADed (backup ${a.backupPath})`,
          result: {
            iniPath: a.iniPath,
            backupPath: a.backupPath,
            before: a.before.defaultPoolSize,
            after: a.after.defaultPoolSize,
            live: { ...a.live },
            total: cap.total,
            available: cap.available
          }
        })
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const bouncer = yield* PgBouncer
        const iniPath = p.iniPath ?? (bouncer.iniPath._tag === "Some" ? bouncer.iniPath.value : undefined)
        if (iniPath === undefined) return ActionHandler.unknown("no pgbouncer.ini path (set BYTEPORT_PGBOUNCER_INI)")
        const sizes = yield* PgBouncerIni.readPoolSizes(yield* PgBouncerIni.readFile(iniPath))
        const live = Object.fromEntries((yield* PgBouncerStats.databases).map((d) => [d.name, d.pool_size]))
        const reloaded = Object.entries(sizes.databases).every(([db, v]) => live[db] === undefined || live[db] === v.effective)
        const what = `default_pool_size is ${sizes.defaultPoolSize} in ${iniPath}`
        if (sizes.defaultPoolSize === p.defaultPoolSize) {
          return reloaded ? ActionHandler.applied(`${what} and live`) : ActionHandler.notApplied(`${what} but not live yet (not reloaded)`)
        }
        if (sizes.defaultPoolSize === p.from) return ActionHandler.notApplied(what)
        return ActionHandler.unknown(`${what}: neither the planned ${p.from} nor ${p.defaultPoolSize}`)
      })
  })

/** Pure: the action raising `default_pool_size` from `from` to `to`. */
export const action = (
  target: TargetRef.TargetRef,
  p: { readonly from: number; readonly to: number; readonly projectedTotal: number; readonly available: number; readonly iniPath?: string },
  why: string
): Action.Action =>
  Action.make({
    kind: KIND,
    target,
    params: {
      defaultPoolSize: p.to,
      from: p.from,
      projectedTotal: p.projectedTotal,
      available: p.available,
      ...(p.iniPath !== undefined ? { iniPath: p.iniPath } : {})
    },
    precondition: { defaultPoolSize: p.from },
    timeoutMs: 20_000,
    description: `raise pgbouncer default_pool_size ${p.from} → ${p.to} and RELOAD: ${why}`
  })
