/**
 * Settings of the OOM action kinds' guardrails, from configuration (every number in the seed is
 * a default): `BYTEPORT_OOM_BUMP_FACTOR` (1.5, used by the planner), `BYTEPORT_OOM_MAX_FACTOR`
 * (2: ≤2× the baseline limit), `BYTEPORT_OOM_NODE_ALLOCATABLE_RATIO` (0.8: ≤80% of the node's
 * allocatable memory), `BYTEPORT_OOM_BUMPS_PER_DAY` (1 bump per workload container per 24 h),
 * `BYTEPORT_OOM_DRAIN_TIMEOUT_SECONDS` (300) and `BYTEPORT_OOM_EVICTION_RETRY_SECONDS` (5).
 *
 * @since 0.1.0
 */
import { Settings } from "@byteport/core"
import { Config, Effect } from "effect"

/** The settings. */
export interface ActionSettings {
  readonly bumpFactor: number
  readonly maxFactor: number
  readonly nodeAllocatableRatio: number
  readonly bumpsPerDay: number
  readonly drainTimeoutSeconds: number
  readonly evictionRetrySeconds: number
}

/** The seed's defaults. */
export const defaults: ActionSettings = {
  bumpFactor: 1.5,
  maxFactor: 2,
  nodeAllocatableRatio: 0.8,
  bumpsPerDay: 1,
  drainTimeoutSeconds: 300,
  evictionRetrySeconds: 5
}

const withDefault = (config: Config.Config<number>, dflt: number) => config.pipe(Config.withDefault(dflt))

/**
 * The settings from configuration. A value that cannot work is a `ConfigError` naming its key
 * (read at startup): factors must be > 1, the allocatable ratio in (0, 1], bumps per day a
 * positive integer, the drain timeout and eviction retry > 0 seconds.
 */
export const fromConfig: Effect.Effect<ActionSettings, Config.ConfigError> = Effect.gen(function*() {
  return {
    bumpFactor: yield* withDefault(Settings.factor("BYTEPORT_OOM_BUMP_FACTOR"), defaults.bumpFactor),
    maxFactor: yield* withDefault(Settings.factor("BYTEPORT_OOM_MAX_FACTOR"), defaults.maxFactor),
    nodeAllocatableRatio: yield* withDefault(Settings.ratio("BYTEPORT_OOM_NODE_ALLOCATABLE_RATIO"), defaults.nodeAllocatableRatio),
    bumpsPerDay: yield* withDefault(Settings.positiveInt("BYTEPORT_OOM_BUMPS_PER_DAY"), defaults.bumpsPerDay),
    drainTimeoutSeconds: yield* withDefault(Settings.positiveNumber("BYTEPORT_OOM_DRAIN_TIMEOUT_SECONDS"), defaults.drainTimeoutSeconds),
    evictionRetrySeconds: yield* withDefault(Settings.positiveNumber("BYTEPORT_OOM_EVICTION_RETRY_SECONDS"), defaults.evictionRetrySeconds)
  }
})
