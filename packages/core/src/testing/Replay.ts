/**
 * "What would it do?": `replay(runbook, facts)` classifies recorded facts and builds the plan,
 * with no probe, no guardrail acquire and no write. `byteport replay <module> <fixture>` loads a
 * module that exports a `ReplayModule` (a runbook and a fixture decoder) and prints the plan.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { type Classification as C, Fact, Plan as P, type Runbook, type Signal as SignalModule } from "@byteport/core"

type Signal = SignalModule.Signal
import * as Fixture from "./Fixture"

/** What a replay found: the classification and, when classified, the plan. */
export interface Replayed {
  readonly runbook: string
  readonly classification: C.Classification
  readonly plan?: P.Plan | undefined
  readonly planDigest?: string | undefined
}

/** A placeholder signal for replays whose fixture carries none. */
export const replaySignal = (runbook: { readonly id: string; readonly signals: ReadonlyArray<string> }): Signal => ({
  type: runbook.signals[0] ?? "replay",
  target: { kind: "replay", ref: runbook.id },
  observedAt: 0,
  evidence: {}
})

/** Classifies the facts and builds the plan (no writes: no probe, guardrail or handler runs). */
export const replay = <F, R>(
  runbook: Runbook.Runbook<F, R>,
  facts: Fact.Facts<F>,
  signal: Signal = replaySignal(runbook)
): Effect.Effect<Replayed, never, R> =>
  Effect.gen(function*() {
    const classification = runbook.classify(facts)
    if (classification._tag !== "Classified") return { runbook: runbook.id, classification }
    const plan = yield* runbook.remediate(classification, facts, signal)
    return { runbook: runbook.id, classification, plan, planDigest: P.digest(plan) }
  })

/**
 * What a module given to `byteport replay` exports: `runbook`, and `fixture` — a Schema of the
 * facts' values (each becomes a Known fact) or a function from the parsed file to Facts — and
 * optionally `signal`.
 */
export interface ReplayModule<F = unknown> {
  readonly runbook: Runbook.Runbook<F, never>
  readonly fixture: Schema.Codec<F, unknown> | ((raw: unknown, file: string) => Effect.Effect<Fact.Facts<F>, Fixture.FixtureError>)
  readonly signal?: Signal
}

/** The module does not export what `byteport replay` needs. */
export class InvalidReplayModule extends Schema.TaggedError<InvalidReplayModule>()("InvalidReplayModule", {
  module: Schema.String,
  message: Schema.String
}) {}

/** Replays a fixture file through a replay module's runbook. */
export const replayFile = <F>(
  mod: ReplayModule<F>,
  fixtureFile: string,
  text: string
): Effect.Effect<Replayed, Fixture.FixtureError> =>
  Effect.gen(function*() {
    const raw = yield* Fixture.parse(fixtureFile, text)
    const fixture = mod.fixture
    const facts: Fact.Facts<F> = Schema.isSchema(fixture)
      ? (Fixture.facts((yield* Fixture.decode(fixture, fixtureFile, raw)) as object) as Fact.Facts<F>)
      : yield* fixture(raw, fixtureFile)
    return yield* replay(mod.runbook, facts, mod.signal)
  })

/** Replays a fixture file (JSON or YAML) through a replay module's runbook. */
export const replayFixture = <F>(mod: ReplayModule<F>, fixtureFile: string): Effect.Effect<Replayed, Fixture.FixtureError> =>
  Effect.flatMap(
    Effect.try({
      try: () => fs.readFileSync(fixtureFile, "utf8"),
      catch: (e) => new Fixture.FixtureError({ file: fixtureFile, path: [], message: `${fixtureFile}: cannot read: ${(e as Error).message}` })
    }),
    (text) => replayFile(mod, fixtureFile, text)
  )

/** Checks that an imported module is a ReplayModule. */
export const asReplayModule = (name: string, mod: Record<string, unknown>): Effect.Effect<ReplayModule, InvalidReplayModule> => {
  const rb = mod["runbook"] as Partial<Runbook.Runbook> | undefined
  const fixture = mod["fixture"]
  if (!rb || typeof rb !== "object" || typeof rb.classify !== "function" || typeof rb.remediate !== "function") {
    return Effect.fail(new InvalidReplayModule({ module: name, message: `${name} exports no \`runbook\` (a Runbook)` }))
  }
  if (!(Schema.isSchema(fixture) || typeof fixture === "function")) {
    return Effect.fail(new InvalidReplayModule({ module: name, message: `${name} exports no \`fixture\` (a Schema or a decoder function)` }))
  }
  return Effect.succeed(mod as unknown as ReplayModule)
}

/** Renders a replay for the terminal. */
export const render = (r: Replayed): string => {
  const c = r.classification
  const head = c._tag === "Classified"
    ? `classification: ${c.class} (confidence ${c.confidence.toFixed(2)})`
    : `classification: ${c._tag}: ${c.reasons.join("; ")}`
  return r.plan ? `${head}\nplan digest: ${r.planDigest}\n${P.render(r.plan)}` : `${head}\nno plan`
}

