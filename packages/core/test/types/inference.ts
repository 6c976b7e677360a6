/**
 * Type-level checks (compiled by `npm run typecheck` and by `inference.test.ts`): the facts type
 * of classifier rules is inferred from the runbook's Diagnoser, rules see exactly their needed
 * facts, and the public signatures that used to take `any` reject what they should.
 */
import { Effect } from "effect"
import { expectTypeOf } from "vitest"
import { Catalog, Classifier, Diagnoser, type Fact, Plan, Runbook, Sink, type SinkMessage } from "@byteport/core"

interface Usage {
  readonly ratio: number
}

// A Diagnoser built from probes: its facts type is inferred from the probes, never written.
const diagnose = Diagnoser.make({
  usage: Diagnoser.probe("usage", () => Effect.succeed<Usage>({ ratio: 0.9 })),
  restarts: Diagnoser.probe("restarts", () => Effect.succeed(3)),
  node: Diagnoser.probe("node", () => Effect.succeed("node-1"))
})

// `rules` infers F from the Diagnoser; each rule's `when` sees exactly its needed keys, typed.
export const rules = Classifier.rules(diagnose, (rule) => [
  rule({
    class: "undersized",
    confidence: (f) => {
      expectTypeOf(f).toEqualTypeOf<{ readonly usage: Usage }>()
      return f.usage.ratio
    },
    needs: ["usage"],
    when: (f) => {
      expectTypeOf(f).toEqualTypeOf<{ readonly usage: Usage }>()
      return f.usage.ratio >= 0.85
    }
  }),
  rule({
    class: "crashloop",
    confidence: 0.8,
    needs: ["restarts", "node"],
    when: (f) => {
      expectTypeOf(f.restarts).toEqualTypeOf<number>()
      expectTypeOf(f.node).toEqualTypeOf<string>()
      // @ts-expect-error: `usage` is not among the needed facts
      void f.usage
      return f.restarts > 2
    }
  }),
  // @ts-expect-error: `memory` is not a fact of this Diagnoser
  rule({ class: "bad", confidence: 0.5, needs: ["memory"], when: () => true })
])

type F = { readonly usage: Usage; readonly restarts: number; readonly node: string }
expectTypeOf(rules).toEqualTypeOf<ReadonlyArray<Classifier.Rule<F>>>()

// `ruleFor` gives the same builder for one rule at a time.
const rule = Classifier.ruleFor(diagnose)
export const one = rule({ class: "x", confidence: 0.9, needs: ["node"], when: (f) => f.node === "node-1" })
expectTypeOf(one).toEqualTypeOf<Classifier.Rule<F>>()
// @ts-expect-error: `when` returns a RuleResult, not a string
rule({ class: "x", confidence: 0.9, needs: ["node"], when: (f) => f.node })

// The old form keeps working.
export const old = Classifier.rule<F>()({ class: "y", confidence: 0.7, needs: ["usage"], when: (f) => f.usage.ratio > 0.5 })
expectTypeOf(old).toEqualTypeOf<Classifier.Rule<F>>()

// A runbook built from them has the inferred facts type.
export const runbook = Runbook.make({
  id: "types.inferred",
  signals: ["svc.down"],
  diagnose,
  classify: Classifier.firstMatch(rules),
  remediate: (_c, facts) =>
    Effect.sync(() => {
      expectTypeOf(facts.usage).toEqualTypeOf<Fact.Fact<Usage>>()
      return Plan.make("types.inferred", "undersized", "escalate", Plan.escalate("look"))
    })
})
expectTypeOf(runbook).toEqualTypeOf<Runbook.Runbook<F, never>>()

// Any runbook fits a Catalog, whatever its facts; the routed runbook needs no `any`.
const other = Runbook.make({
  id: "types.other",
  signals: ["svc.slow"],
  diagnose: Diagnoser.make({ latency: Diagnoser.probe("latency", () => Effect.succeed(120)) }),
  classify: Classifier.firstMatch([]),
  remediate: () => Effect.succeed(Plan.make("types.other", "x", "escalate", Plan.escalate("look")))
})
export const catalog = Catalog.make([runbook, other])
expectTypeOf(catalog).toEqualTypeOf<Catalog.Catalog<never>>()
expectTypeOf(Catalog.owners(catalog, "svc.down")).toEqualTypeOf<ReadonlyArray<Runbook.Any<never>>>()

// Sinks: the pager takes escalations only, by type.
declare const opsSink: Sink.Sink<SinkMessage.SinkMessage>
declare const planOnly: Sink.Sink<SinkMessage.PlanMessage>
export const pager = Sink.guardPager(opsSink)
expectTypeOf(pager).toEqualTypeOf<Sink.Sink<SinkMessage.EscalationMessage>>()
// @ts-expect-error: a sink that only takes plans cannot be the pager
Sink.guardPager(planOnly)
