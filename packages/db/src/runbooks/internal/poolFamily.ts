/**
 * The wiring the `db.pool` runbooks share (`db.pool.six-class`, `db.pool.multi-engine`): the
 * family, the signal they own, the minimum confidence, the kill cap their session-killing kinds
 * read at run time (validated at agent startup) and the mode when configuration says nothing.
 * Each runbook adds its id, precedence, parts and own guardrails.
 *
 * @since 0.1.0
 */
import { Guardrail } from "@byteport/core"
import type { Detector, Verifier } from "@byteport/core"
import { killsPerMinuteCapConfig } from "../../actions/SessionGuardrails"
import * as PoolExhaustion from "../../detectors/PoolExhaustion"

/** The family of the pool runbooks (the Catalog picks one per target). */
export const FAMILY = "db.pool"

/** Options every `db.pool` runbook takes. */
export interface BaseOptions {
  /** The detector; omitted: signals come from elsewhere. */
  readonly detector?: Detector.Detector<never, any>
  /** The recovery bar (default 0.70). */
  readonly verifyMaxRatio?: number
  /** When to verify (each runbook has its default). */
  readonly verifySchedule?: Verifier.VerifySchedule
  /** The mode when configuration says nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The shared fields of a `db.pool` runbook definition, `extra` guardrails after the 0.70 confidence floor. */
export const wiring = (options: BaseOptions, extra: ReadonlyArray<Guardrail.Guardrail<never>> = []) => ({
  family: FAMILY,
  signals: [PoolExhaustion.SIGNAL_TYPE],
  guardrails: [Guardrail.minConfidence(0.7), ...extra],
  // the kill cap the session-killing kinds read at run time: validated at agent startup
  config: [killsPerMinuteCapConfig],
  defaultMode: options.defaultMode ?? ("dry_run" as const)
})
