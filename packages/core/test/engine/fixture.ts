/**
 * A tiny in-memory "service" and a runbook over it, used by the engine tests: a worker pool
 * whose queue backs up when it has too few workers.
 */
import { Effect, Layer, Schema } from "effect"
import {
  Action,
  ActionHandler,
  ActionRegistry,
  Check,
  Classifier,
  Diagnoser,
  Guardrail,
  IncidentBus,
  MemoryStore,
  Notifier,
  Plan,
  Runbook,
  type Signal,
  TargetRef,
  Verifier
} from "@byteport/core"

/** The service's mutable state, and a log of every write. */
export interface Pool {
  workers: number
  queue: number
  writes: Array<string>
}

/** A fresh pool. */
export const makePool = (workers = 2, queue = 500): Pool => ({ workers, queue, writes: [] })

/** What the runbook learns. */
export interface PoolFacts {
  readonly workers: number
  readonly queue: number
}

/** The pool's target. */
export const target = TargetRef.make("pool", "default/jobs")

/** A backlog signal on the pool. */
export const signal = (observedAt = 0): Signal.Signal => ({
  type: "pool.backlog",
  target,
  observedAt,
  evidence: { queue: 500 }
})

/** Scales the pool (1 per hour per target). */
export const scaleHandler = (pool: Pool) =>
  ActionHandler.make({
    kind: "pool.scale",
    params: Schema.Struct({ from: Schema.Number, to: Schema.Number }),
    guardrails: [
      Guardrail.rateLimit({ name: "pool.scale 1/hour", key: Guardrail.keys.perTarget("pool.scale"), max: 1, window: "1 hour" })
    ],
    apply: (p, ctx) =>
      Effect.sync(() => {
        if (ctx.dryRun) return { detail: `would scale ${p.from} → ${p.to}`, result: { workers: p.from } }
        pool.writes.push(`scale ${p.from}->${p.to}`)
        pool.workers = p.to
        pool.queue = p.to >= 4 ? 0 : pool.queue
        return { detail: `scaled ${p.from} → ${p.to}`, result: { workers: p.to } }
      })
  })

/** A check: the queue is empty. */
export const queueEmpty = (pool: Pool) =>
  Check.make("pool.queueEmpty", (_ref) => Effect.sync(() => ({ name: "queue empty", ok: pool.queue === 0, detail: `queue ${pool.queue}` })))

/** Probes workers and queue. */
export const diagnose = (pool: Pool) =>
  Diagnoser.make<PoolFacts>({
    workers: Diagnoser.probe("workers", () => Effect.sync(() => pool.workers)),
    queue: Diagnoser.probe("queue", () => Effect.sync(() => pool.queue))
  })

/** One rule: a long queue with few workers. */
export const rules = [
  Classifier.rule<PoolFacts>()({
    class: "too_few_workers",
    confidence: 0.9,
    needs: ["workers", "queue"],
    when: (f) => f.queue > 100 && f.workers < 4
  })
]

/** The runbook: scale to 4 workers, verify the queue drained. */
export const runbook = (pool: Pool, overrides: Partial<Runbook.MakeOptions<PoolFacts, never>> = {}) =>
  Runbook.make<PoolFacts>({
    id: "test.pool.backlog",
    signals: ["pool.backlog"],
    diagnose: diagnose(pool),
    classify: Classifier.firstMatch(rules, { minConfidence: 0.7 }),
    remediate: (_c, facts) =>
      Effect.succeed(
        Plan.make(
          "test.pool.backlog",
          "too_few_workers",
          "scale the pool to 4 workers",
          Plan.act(
            Action.make({
              kind: "pool.scale",
              target,
              params: { from: (facts.workers as any).value, to: 4 },
              precondition: { workers: (facts.workers as any).value },
              description: "scale pool default/jobs to 4 workers"
            })
          )
        )
      ),
    verify: Verifier.fromChecks(() => Effect.sync(() => [{ name: "queue drained", ok: pool.queue === 0, detail: `queue ${pool.queue}` }])),
    defaultMode: "auto",
    ...overrides
  })

/** The services for these tests. */
export const layer = (pool: Pool) =>
  Layer.mergeAll(
    MemoryStore.layer,
    ActionRegistry.layer({ handlers: [scaleHandler(pool)], checks: [queueEmpty(pool)] }),
    IncidentBus.layer(),
    Notifier.memory
  )
