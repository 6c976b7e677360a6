/** The runbook of the crash/resume tests: one rate-limited restart, then verification. */
import { Effect } from "effect"
import { Classifier, Diagnoser, Guardrail, Plan, Runbook, type Signal, type Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"

/** The facts: whether the service is down. */
export interface Facts {
  readonly down: boolean
}

/** The signal of every incident of these tests. */
export const signal = (): Signal.Signal => W.signal()

/** The runbook, with the given verifier. */
export const runbook = (verify: Verifier.Verifier<Facts>) =>
  Runbook.make<Facts>({
    id: "test.world.resume",
    signals: ["svc.down"],
    diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () => Effect.succeed(Plan.make("test.world.resume", "w.down", "restart once", Plan.act(W.action("w.restart", { n: 1 })))),
    verify,
    defaultMode: "auto"
  })

/** One restart per target per hour: a second acquire after the restart would be denied and escalated. */
export const restartHandler = (onApply: Effect.Effect<void>) =>
  Testing.recordingHandler("w.restart", {
    guardrails: [Guardrail.rateLimit({ name: "restarts per hour", key: Guardrail.keys.perTarget("w.restart"), max: 1, window: "1 hour" })],
    apply: () => onApply
  })

/** A verifier that says Recovered. */
export const recovered: Verifier.Verifier<Facts> = (ctx) =>
  Effect.succeed({ _tag: "Recovered" as const, checks: [{ name: "up", ok: true, detail: `since ${ctx.since}` }], at: ctx.since })
