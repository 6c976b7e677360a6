/**
 * `byteport replay <runbook> <fixture-dir> [--json]`: "what would it do?" from a recorded fixture
 * directory. Decodes the directory into the facts the runbook's diagnoser would have produced,
 * classifies them (with the rule's reasons), builds the plan, and checks every action of the plan
 * against the runbook's guardrails read-only, over an in-memory store. It opens no socket and
 * writes nothing.
 *
 * Exit codes: 0 a plan with at least one action and no guardrail denial; 1 no action (an
 * escalation, an observe-only plan, unclassified or indeterminate); 2 usage, unknown runbook or a
 * bad fixture (the message names the file and the field); 3 a guardrail denies an action of the
 * plan; 4 any other error.
 *
 * @since 0.1.0
 */
import { type Classification, type Fact, type Guardrail, GuardrailStore, MemoryStore, Plan } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as Sources from "./Sources"

/** One guardrail's read-only answer for one action of the plan. */
export interface GuardrailCheck {
  readonly stepPath: string
  readonly actionKind: string
  readonly guardrail: string
  readonly result: "pass" | "deny" | "needs_approval"
  readonly reason?: string | undefined
}

/** What `byteport replay` found. */
export interface Result {
  readonly runbook: string
  readonly fixture: string
  readonly signal: { readonly type: string; readonly target: { readonly kind: string; readonly ref: string } }
  readonly classification: Classification.Classification
  readonly plan?: Plan.Plan | undefined
  readonly planDigest?: string | undefined
  readonly guardrails: ReadonlyArray<GuardrailCheck>
  /** The exit code this result maps to (0 plan, 1 no action, 3 denied). */
  readonly exitCode: 0 | 1 | 3
}

/** The runbook id is not one that can be replayed. */
export class UnknownRunbook extends Error {
  /** Always `UnknownRunbook`. */
  readonly _tag = "UnknownRunbook"
}

/** The message naming the replayable runbook ids (and the pending ones). */
export const unknownRunbookMessage = (id: string): string =>
  `no replay source for runbook ${JSON.stringify(id)}${Sources.pendingIds.includes(id) ? " (it has fixtures but no replay source yet)" : ""}; replayable: ${
    Sources.all.map((s) => s.id).join(", ")
  }`

const checkGuardrails = (
  runbookId: string,
  guardrails: ReadonlyArray<Guardrail.Guardrail<unknown>>,
  signal: Sources.Loaded<unknown>["signal"],
  facts: Fact.Facts<unknown>,
  classification: Classification.Classification,
  plan: Plan.Plan,
  planDigest: string
): Effect.Effect<ReadonlyArray<GuardrailCheck>> =>
  Effect.gen(function*() {
    const out: Array<GuardrailCheck> = []
    for (const { path, action } of Plan.actions(plan.root)) {
      for (const g of guardrails as ReadonlyArray<Guardrail.Guardrail<never>>) {
        const r = yield* g.check({
          incidentId: "replay",
          runbook: runbookId,
          mode: "dry_run",
          signal,
          classification,
          facts: facts as unknown as Fact.FactsJson,
          plan,
          planDigest,
          action,
          stepPath: path,
          now: signal.observedAt,
          baseline: {}
        }).pipe(
          Effect.catchCause((cause) => Effect.succeed<Guardrail.GuardrailResult>({ _tag: "Deny", reason: `guardrail could not decide: ${String(cause).split("\n")[0]}` }))
        )
        out.push({
          stepPath: path,
          actionKind: action.kind,
          guardrail: g.name,
          result: r._tag === "Pass" ? "pass" : r._tag === "Deny" ? "deny" : "needs_approval",
          ...(r._tag === "Pass" ? {} : { reason: r.reason })
        })
      }
    }
    return out
  }).pipe(Effect.provide(Layer.effect(GuardrailStore.GuardrailStore, MemoryStore.make())))

/** Replays one fixture directory through a runbook (by id). */
export const replay = (runbookId: string, dir: string): Effect.Effect<Result, Sources.AnyFixtureError | UnknownRunbook> =>
  Effect.gen(function*() {
    const source = Sources.get(runbookId)
    if (!source) return yield* Effect.fail(new UnknownRunbook(unknownRunbookMessage(runbookId)))
    const { facts, signal } = yield* source.load(dir)
    const runbook = source.runbook()
    const classification = runbook.classify(facts)
    const base = { runbook: runbook.id, fixture: dir, signal: { type: signal.type, target: { kind: signal.target.kind, ref: signal.target.ref } }, classification }
    if (classification._tag !== "Classified") return { ...base, guardrails: [], exitCode: 1 as const }
    // every remediator of the tree builds its plan from the facts alone: no service is read
    const plan = yield* (runbook.remediate(classification, facts, signal) as Effect.Effect<Plan.Plan>)
    const planDigest = Plan.digest(plan)
    const guardrails = yield* checkGuardrails(runbook.id, runbook.guardrails, signal, facts, classification, plan, planDigest)
    const actions = Plan.actions(plan.root)
    const exitCode = guardrails.some((g) => g.result === "deny") ? 3 as const : actions.length === 0 ? 1 as const : 0 as const
    return { ...base, plan, planDigest, guardrails, exitCode }
  })

/** Renders a replay for the terminal. */
export const render = (r: Result): string => {
  const c = r.classification
  const lines = [`runbook: ${r.runbook}`, `fixture: ${r.fixture}`, `signal: ${r.signal.type} on ${r.signal.target.kind} ${r.signal.target.ref}`]
  if (c._tag === "Classified") lines.push(`classification: ${c.class} (confidence ${c.confidence.toFixed(2)})`)
  else if (c._tag === "Indeterminate") lines.push(`classification: Indeterminate (rule ${c.rule} needs ${c.missing.join(", ")})`)
  else lines.push("classification: Unclassified")
  lines.push("reasons:", ...(c.reasons.length === 0 ? ["  (none)"] : c.reasons.map((x) => `  - ${x}`)))
  if (!r.plan) {
    lines.push("no plan: nothing to do but escalate")
    return lines.join("\n")
  }
  lines.push("guardrails (read-only checks):")
  if (r.guardrails.length === 0) lines.push(Plan.actions(r.plan.root).length === 0 ? "  (the plan has no action)" : "  (the runbook declares none; the action kinds' own guardrails run at execution)")
  for (const g of r.guardrails) lines.push(`  ${g.stepPath} ${g.actionKind} ${g.guardrail}: ${g.result}${g.reason ? ` (${g.reason})` : ""}`)
  lines.push(`plan digest: ${r.planDigest}`, Plan.render(r.plan))
  return lines.join("\n")
}

/** The JSON form (`--json`): the result with the plan encoded as `Plan.toJson` encodes it. */
export const toJson = (r: Result): string =>
  JSON.stringify({ ...r, plan: r.plan ? JSON.parse(Plan.toJson(r.plan)) : undefined }, null, 2)
