/**
 * Leadership: what the executor needs from a leader election (one is in @byteport/k8s,
 * `LeaderElection.leadership`) to run as one of several agent replicas. Without this service an
 * agent acts alone and nothing changes.
 *
 * With it, in `auto`:
 * - a step starts only while `epoch` is `Some` (this agent leads now); otherwise the run stops
 *   before the step, writing nothing (the incident stays open for the leader to resume);
 * - every guardrail acquire carries the term's epoch (`GuardrailContext.epoch`), so a store
 *   refuses it once a newer leader has written ({@link GuardrailStore.StaleEpoch});
 * - a refused acquire calls `stepDown` (this agent stops leading and starts no more steps) and the
 *   run stops at that step: its units are given back, nothing applied, the journal left open.
 *
 * ```ts
 * import { Leadership } from "@byteport/core"
 * const single = Leadership.fixed({ scope: "byteport/agents", value: 7 })
 * ```
 *
 * @since 0.4.0
 */
import { Context, Effect, Option, Ref } from "effect"
import type { Epoch } from "./GuardrailStore"

/** The leadership service. */
export interface LeadershipShape {
  /** The fencing epoch of this agent's current term; none when it does not lead now. */
  readonly epoch: Effect.Effect<Option.Option<Epoch>>
  /** A store refused this term's epoch (a newer leader exists): end the term now. */
  readonly stepDown: (reason: string) => Effect.Effect<void>
}

/** The Leadership service (optional: absent, the agent acts alone). */
export class Leadership extends Context.Service<Leadership, LeadershipShape>()("@byteport/core/Leadership") {}

/** A fixed term with `epoch` until stepped down (tests, single-term tools); `stepDowns` lists the reasons given. */
export const fixed = (epoch: Epoch): Effect.Effect<LeadershipShape & { readonly stepDowns: Effect.Effect<ReadonlyArray<string>> }> =>
  Effect.map(Ref.make<ReadonlyArray<string>>([]), (reasons) => ({
    epoch: Effect.map(Ref.get(reasons), (r) => (r.length === 0 ? Option.some(epoch) : Option.none())),
    stepDown: (reason) => Ref.update(reasons, (r) => [...r, reason]),
    stepDowns: Ref.get(reasons)
  }))

