/** A worker pool world shared by the lease, escalation and bus tests. */
import { Effect, Schema } from "effect"
import { Action, ActionHandler, Classifier, Diagnoser, Guardrail, Plan, Runbook, TargetRef, Verifier } from "@byteport/core"

/** The pool's state and a log of every write. */
export interface Pool {
  workers: number
  queue: number
  writes: Array<string>
}

/** What the pool runbook learns. */
export interface Facts {
  readonly workers: number
  readonly queue: number
}

/** The pool's target. */
export const target = TargetRef.make("pool", "default/jobs")

/** A backlog signal on the pool. */
export const signal = (observedAt = 0) => ({ type: "pool.backlog", target, observedAt, evidence: { queue: 500 } })

/** Scales to `to`; a bump that is not enough leaves the queue as it is. */
export const scale = (pool: Pool) =>
  ActionHandler.make({
    kind: "pool.scale",
    params: Schema.Struct({ from: Schema.Number, to: Schema.Number }),
    apply: (p, ctx) =>
      Effect.sync((): ActionHandler.HandlerResult => {
        if (ctx.dryRun) return { detail: `would scale ${p.from} → ${p.to}`, result: { from: p.from } }
        pool.writes.push(`scale ${p.from}->${p.to}`)
        pool.workers = p.to
        return { detail: `scaled ${p.from} → ${p.to}`, result: { workers: p.to } }
      })
  })

/** One rule: a queue over 100 jobs means too few workers. */
export const rules = [
  Classifier.rule<Facts>()({ class: "too_few_workers", confidence: 0.9, needs: ["workers", "queue"], when: (f) => f.queue > 100 })
]

/** Doubles the workers, with a ceiling of 2× the baseline taken at lease time. */
export const runbook = (pool: Pool, overrides: Partial<Runbook.MakeOptions<Facts, never>> = {}) =>
  Runbook.make<Facts>({
    id: "test.pool.double",
    signals: ["pool.backlog"],
    diagnose: Diagnoser.make<Facts>({
      workers: Diagnoser.probe("workers", () => Effect.sync(() => pool.workers)),
      queue: Diagnoser.probe("queue", () => Effect.sync(() => pool.queue))
    }),
    classify: Classifier.firstMatch(rules),
    remediate: (_c, facts) =>
      Effect.sync(() => {
        const from = (facts.workers as any).value as number
        return Plan.make(
          "test.pool.double",
          "too_few_workers",
          `scale ${from} → ${from * 2}`,
          Plan.act(
            Action.make({
              kind: "pool.scale",
              target,
              params: { from, to: from * 2 },
              precondition: { workers: from },
              description: `scale pool to ${from * 2} workers`,
              undo: Action.make({ kind: "pool.scale", target, params: { from: from * 2, to: from }, description: `scale pool back to ${from}` })
            })
          )
        )
      }),
    guardrails: [
      Guardrail.ceiling.multipleOfBaseline({ name: "≤2× baseline workers", baselineKey: "workers", factor: 2, proposed: (ctx) => Number(ctx.action.params["to"]) })
    ],
    baseline: (facts) => ({ workers: (facts.workers as any).value }),
    verify: Verifier.fromChecks(() => Effect.sync(() => [{ name: "queue drained", ok: pool.queue === 0, detail: `queue ${pool.queue}` }])),
    nextSteps: () => ["look at the job producers"],
    defaultMode: "auto",
    cooldown: "1 millis",
    ...overrides
  })
