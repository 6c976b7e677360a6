/**
 * A small world for hand-off tests: a parent runbook whose plan hands work off, a child runbook
 * that owns the hand-off type and acts once on its target (a recording handler), both in auto.
 */
import { Effect } from "effect"
import { Action, Classifier, Diagnoser, HandOffs, Plan, Runbook, type Signal, TargetRef, type Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"

/** The parent's target. */
export const api = TargetRef.make("test.workload", "prod/api")
/** Another target (the dependency). */
export const db = TargetRef.make("test.db", "prod/pg")

/** What the test runbooks know. */
export interface Facts {
  readonly x: number
}

const diagnose = Diagnoser.make<Facts>({ x: Diagnoser.probe("x", () => Effect.succeed(1)) })
const classify = Classifier.firstMatch([Classifier.rule<Facts>()({ class: "c", confidence: 0.9, needs: ["x"], when: () => true })])

/** The parent's signal type. */
export const BROKEN = "test.broken"

/** A parent signal on a target. */
export const broken = (target: TargetRef.TargetRef = api, observedAt = 0): Signal.Signal => ({ type: BROKEN, target, observedAt, evidence: {} })

/** A `dependency.unavailable` hand-off signal (valid evidence unless given). */
export const depDown = (target: TargetRef.TargetRef, evidence: Signal.Signal["evidence"] = { dependency: "postgres primary" }): Signal.Signal => ({
  type: HandOffs.DependencyUnavailable.type,
  target,
  observedAt: 0,
  evidence
})

/** A parent runbook (auto) whose plan is `step(signal)`, with an optional verifier. */
export const parent = (
  step: (signal: Signal.Signal) => Plan.Step,
  options: { readonly verify?: Verifier.Verifier<Facts>; readonly id?: string; readonly family?: string; readonly precedence?: number } = {}
) =>
  Runbook.make<Facts>({
    id: options.id ?? "test.parent",
    family: options.family ?? "test.parent",
    ...(options.precedence !== undefined ? { precedence: options.precedence } : {}),
    signals: [BROKEN],
    diagnose,
    classify,
    remediate: (_c, _f, signal) => Effect.succeed(Plan.make(options.id ?? "test.parent", "c", "hand the work off", step(signal))),
    ...(options.verify ? { verify: options.verify } : {}),
    defaultMode: "auto"
  })

/** The child's action kind. */
export const FIX = "test.fix"

/** A child runbook (auto) owning `dependency.unavailable`: it acts once (`test.fix`) on the hand-off's target. */
export const child = (options: { readonly verify?: Verifier.Verifier<Facts>; readonly id?: string; readonly family?: string } = {}) =>
  Runbook.make<Facts>({
    id: options.id ?? "test.child",
    family: options.family ?? "test.child",
    signals: [HandOffs.DependencyUnavailable.type],
    diagnose,
    classify,
    remediate: (_c, _f, signal) =>
      Effect.succeed(Plan.make(options.id ?? "test.child", "c", "fix", Plan.act(Action.make({ kind: FIX, target: signal.target, description: `fix ${signal.target.ref}` })))),
    ...(options.verify ? { verify: options.verify } : {}),
    defaultMode: "auto"
  })

/** A recording handler for the child's action. */
export const fixHandler = () => Testing.recordingHandler(FIX)
