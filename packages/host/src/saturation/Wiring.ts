/**
 * What `host.cpu.saturation` and `host.memory.saturation` share past detection: how a consumer is
 * named, the guarded restart of its unit, the sample filter options, the verifier built on a
 * check, and the runbook wiring (detector only when asked, verify once after a delay, dry_run by
 * default).
 *
 * @since 0.1.0
 */
import { Action, Plan, Runbook, TargetRef, Verdict, Verifier as VerifierApi } from "@byteport/core"
import type { Check, Classifier, Detector, Diagnoser, Verifier } from "@byteport/core"
import { Clock, type Config, Effect } from "effect"
import * as ProcessControl from "../process/ProcessControl"
import type * as ProcessGuard from "../process/ProcessGuard"
import type * as ProcSample from "./ProcSample"

/** A consumer as plans and escalations name it (a pod's process by the pod's uid). */
export const who = (c: ProcSample.Consumer): string =>
  c.verdict === "Container" ? `${c.comm} (pid ${c.pid}) in Kubernetes pod ${c.podUid ?? "(uid unknown)"}` : `${c.comm} (pid ${c.pid}${c.unit ? `, ${c.unit}` : ""})`

/** The never-touched additions and filter of a sample, as `ProcSample.finish` takes them. */
export const finishOptions = (by: "cpu" | "rss", s: {
  readonly filter?: (p: ProcessGuard.Proc) => boolean
  readonly operatorList?: ReadonlyArray<string>
  readonly statefulAllowlist?: ReadonlyArray<string>
}): ProcSample.FinishOptions => ({
  by,
  ...(s.filter ? { filter: s.filter } : {}),
  ...(s.operatorList ? { operatorList: s.operatorList } : {}),
  ...(s.statefulAllowlist ? { statefulAllowlist: s.statefulAllowlist } : {})
})

/** The `host.service.restart` step of a consumer's unit, conditional on its pid + starttime. */
export const restartStep = (top: ProcSample.Consumer & { readonly unit: string }, host: TargetRef.TargetRef, description: string): Plan.Step =>
  Plan.act(Action.make({
    kind: ProcessControl.RESTART,
    target: TargetRef.make("host.unit", top.unit, host),
    params: { unit: top.unit, pid: top.pid, starttime: top.starttime, comm: top.comm },
    idempotencyKey: `${ProcessControl.RESTART}:${top.unit}:${top.pid}:${top.starttime}`,
    description
  }))

/** A verifier that runs one check: ok → Recovered. */
export const verifyBy = <F>(check: Check.Check, ref: (signal: { readonly target: TargetRef.TargetRef }) => Plan.CheckRef, name: string): Verifier.Verifier<F> => (ctx) =>
  Effect.gen(function*() {
    const r = yield* check.run(ref(ctx.signal), { incidentId: "verify", since: 0 })
    const at = yield* Clock.currentTimeMillis
    return Verdict.fromChecks([{ name, ok: r.ok, detail: r.detail, ...(r.observed ? { observed: r.observed } : {}) }], at)
  })

/** The parts of a saturation runbook. */
export interface Parts<F> {
  readonly id: string
  readonly family: string
  readonly description: string
  readonly signal: string
  readonly precedence: number
  readonly detector: () => Detector.Detector<never>
  readonly diagnose: Diagnoser.Diagnoser<F>
  readonly classify: Classifier.Classifier<F>
  readonly remediate: Runbook.Remediator<F>
  readonly verify: Verifier.Verifier<F>
  readonly config: Config.Config<unknown>
}

/** The runbook options both share. */
export interface RunbookOptions {
  /** Run the detector (default false: signals come from elsewhere). */
  readonly detect?: boolean
  /** Delay before verifying, seconds (default 30). */
  readonly verifyAfterSeconds?: number
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** A saturation runbook from its parts. */
export const runbook = <F>(parts: Parts<F>, options: RunbookOptions): Runbook.Runbook<F> =>
  Runbook.make<F>({
    id: parts.id,
    family: parts.family,
    description: parts.description,
    signals: [parts.signal],
    precedence: parts.precedence,
    ...(options.detect ? { detector: parts.detector() } : {}),
    diagnose: parts.diagnose,
    classify: parts.classify,
    remediate: parts.remediate,
    verify: parts.verify,
    verifySchedule: VerifierApi.once(`${options.verifyAfterSeconds ?? 30} seconds`),
    config: [parts.config],
    defaultMode: options.defaultMode ?? "dry_run"
  })
