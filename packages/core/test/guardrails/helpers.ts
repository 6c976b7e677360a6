/**
 * Test helpers for the guardrail suites: a GuardrailContext fixture builder and a fresh
 * MemoryStore per test.
 */
import { Clock, Effect } from "effect"
import * as Action from "../../src/Action"
import * as Classification from "../../src/Classification"
import type { FactsJson } from "../../src/Fact"
import * as Guardrail from "../../src/Guardrail"
import type { GuardrailContext, GuardrailResult } from "../../src/Guardrail"
import { GuardrailStore } from "../../src/GuardrailStore"
import type { JsonObject } from "../../src/Json"
import * as Plan from "../../src/Plan"
import * as TargetRef from "../../src/TargetRef"
import * as MemoryStore from "../../src/stores/MemoryStore"

/** Runs an effect against a fresh in-memory store (one per test). */
export const withStore = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, GuardrailStore>> =>
  Effect.flatMap(MemoryStore.make(), (store) => Effect.provideService(self, GuardrailStore, store))

/** Overrides for a context fixture. */
export interface CtxOptions {
  readonly incidentId?: string
  readonly runbook?: string
  readonly kind?: string
  readonly target?: TargetRef.TargetRef
  readonly params?: JsonObject
  readonly classification?: Classification.Classification
  readonly facts?: FactsJson
  readonly baseline?: JsonObject
  readonly now?: number
  readonly planDigest?: string
  /** The step path (default: a fresh one per context, so each acquire is its own step and takes its own unit). */
  readonly stepPath?: string
}

let steps = 0

/** Builds a GuardrailContext; `now` defaults to the (Test)Clock. */
export const ctx = (o: CtxOptions = {}): Effect.Effect<GuardrailContext> =>
  Effect.gen(function*() {
    const now = o.now ?? (yield* Clock.currentTimeMillis)
    const target = o.target ?? TargetRef.make("k8s/Workload", "prod/api/Deployment/web/app")
    const action = Action.make({
      kind: o.kind ?? "k8s.patchMemoryLimit",
      target,
      params: o.params ?? {},
      description: "test action"
    })
    const plan = Plan.make(o.runbook ?? "k8s.oom.six-signal", "undersized_limit", "bump", Plan.act(action))
    return {
      incidentId: o.incidentId ?? "inc-1",
      runbook: o.runbook ?? "k8s.oom.six-signal",
      mode: "auto",
      signal: { type: "OOMKilled", target, observedAt: now, evidence: {} },
      classification: o.classification ?? Classification.classified("undersized_limit", 0.84),
      facts: o.facts ?? {},
      plan,
      planDigest: o.planDigest ?? Plan.digest(plan),
      action,
      stepPath: o.stepPath ?? `0.${++steps}`,
      now,
      baseline: o.baseline ?? {}
    }
  })

/** Runs `check` on a fresh context. */
export const check = <R>(g: Guardrail.Guardrail<R>, o?: CtxOptions) => Effect.flatMap(ctx(o), (c) => g.check(c))

/** Runs `acquire` on a fresh context. */
export const acquire = <R>(g: Guardrail.Guardrail<R>, o?: CtxOptions) => Effect.flatMap(ctx(o), (c) => g.acquire(c))

/** The tag of a result (for terse asserts). */
export const tag = (r: GuardrailResult): string => r._tag

/** The Deny reason of a result, or "" when it is not a Deny. */
export const reasonOf = (r: GuardrailResult): string => (r._tag === "Pass" ? "" : r.reason)

/** The retryAfterMs of a Deny (undefined otherwise). */
export const retryAfterOf = (r: GuardrailResult): number | undefined => (r._tag === "Deny" ? r.retryAfterMs : undefined)

/** Window count for a key in the store (as peekWindow reports it). */
export const windowCount = (key: string, windowMs: number) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const now = yield* Clock.currentTimeMillis
    return (yield* store.peekWindow(key, windowMs, now)).count
  })

export { Guardrail }
