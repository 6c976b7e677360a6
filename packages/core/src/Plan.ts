/**
 * A Plan is a tree of steps, and it is data: it round-trips through JSON, prints, diffs and is
 * golden-tested. The executor interprets it; action kinds and check kinds are resolved through
 * the registered ActionHandlers and Checks.
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Schema } from "effect"
import * as A from "./Action"
import { ChangeProposal } from "./ChangeProposal"
import * as Json from "./Json"
import { Signal } from "./Signal"
import { TargetRef } from "./TargetRef"

/** A reference to a registered Check (by kind) with its params: "disk usage below 80%", "dependency healthy". */
export interface CheckRef {
  readonly kind: string
  readonly target: TargetRef
  readonly params: Json.JsonObject
  readonly description: string
}

/** Schema of a CheckRef. */
export const CheckRef: Schema.Codec<CheckRef> = Schema.Struct({
  kind: Schema.String,
  target: TargetRef,
  params: Json.JsonObject,
  description: Schema.String
})

/** What makes a Fallback take its `otherwise` branch. */
export type FallbackOn = "failed" | "denied" | "check"

/** A plan step. */
export type Step =
  | { readonly _tag: "Act"; readonly action: A.Action }
  | { readonly _tag: "Seq"; readonly steps: ReadonlyArray<Step> }
  | {
    readonly _tag: "Fallback"
    readonly primary: Step
    readonly otherwise: Step
    readonly on: ReadonlyArray<FallbackOn>
    /** With `on: ["check"]`: the check that must pass after `primary`, else `otherwise` runs. */
    readonly check?: CheckRef | undefined
  }
  | { readonly _tag: "Until"; readonly check: CheckRef; readonly steps: ReadonlyArray<Step> }
  | { readonly _tag: "WaitFor"; readonly check: CheckRef; readonly timeout: number; readonly interval: number }
  | {
    readonly _tag: "HandOff"
    readonly signal: Signal
    readonly reason: string
    /** When set, the parent waits up to this many ms for the child's report (else fire-and-forget). */
    readonly await?: number | undefined
  }
  | { readonly _tag: "Propose"; readonly proposal: ChangeProposal }
  | { readonly _tag: "Escalate"; readonly reason: string; readonly nextSteps: ReadonlyArray<string> }

/** Schema of a Step (recursive). */
export const Step: Schema.Codec<Step> = Schema.Union([
  Schema.TaggedStruct("Act", { action: A.Action }),
  Schema.TaggedStruct("Seq", { steps: Schema.Array(Schema.suspend((): Schema.Codec<Step> => Step)) }),
  Schema.TaggedStruct("Fallback", {
    primary: Schema.suspend((): Schema.Codec<Step> => Step),
    otherwise: Schema.suspend((): Schema.Codec<Step> => Step),
    on: Schema.Array(Schema.Literals(["failed", "denied", "check"])),
    check: Schema.optionalKey(CheckRef)
  }),
  Schema.TaggedStruct("Until", { check: CheckRef, steps: Schema.Array(Schema.suspend((): Schema.Codec<Step> => Step)) }),
  Schema.TaggedStruct("WaitFor", {
    check: CheckRef,
    timeout: Schema.Finite.check(Schema.isGreaterThan(0)),
    interval: Schema.Finite.check(Schema.isGreaterThan(0))
  }),
  Schema.TaggedStruct("HandOff", { signal: Signal, reason: Schema.String, await: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))) }),
  Schema.TaggedStruct("Propose", { proposal: ChangeProposal }),
  Schema.TaggedStruct("Escalate", { reason: Schema.String, nextSteps: Schema.Array(Schema.String) })
])

/** A Plan: the runbook that made it, the class it answers, a one-line summary and the root step. */
export interface Plan {
  readonly runbook: string
  readonly class: string
  readonly summary: string
  readonly root: Step
}

/** Schema of a Plan. */
export const Plan: Schema.Codec<Plan> = Schema.Struct({
  runbook: Schema.String,
  class: Schema.String,
  summary: Schema.String,
  root: Step
})

/** Step constructors. */
export const act = (action: A.Action): Step => ({ _tag: "Act", action })
/** Runs steps in order; stops at the first failed or denied step. */
export const seq = (...steps: ReadonlyArray<Step>): Step => ({ _tag: "Seq", steps })
/** Runs `primary`; when it ends in one of `on` (default failed or denied), runs `otherwise`. */
export const fallback = (
  primary: Step,
  otherwise: Step,
  options: { readonly on?: ReadonlyArray<FallbackOn>; readonly check?: CheckRef } = {}
): Step => ({
  _tag: "Fallback",
  primary,
  otherwise,
  on: options.on ?? ["failed", "denied"],
  ...(options.check ? { check: options.check } : {})
})
/** Runs steps in order and stops as soon as `check` passes (checked before each step and at the end). */
export const until = (check: CheckRef, ...steps: ReadonlyArray<Step>): Step => ({ _tag: "Until", check, steps })
/** Waits until `check` passes, polling every `interval` ms; fails the step after `timeout` ms. */
export const waitFor = (check: CheckRef, options: { readonly timeoutMs: number; readonly intervalMs: number }): Step => ({
  _tag: "WaitFor",
  check,
  timeout: options.timeoutMs,
  interval: options.intervalMs
})
/** Options of `handOff`. */
export interface HandOffOptions {
  /** Why the work is handed off (shown in the plan and the child's parent link). */
  readonly reason?: string
  /**
   * Wait for the child incident's report, at most this long: the wait is journaled and
   * resumable, the parent's verifier sees the child's verdict (`HandOffs.childResults`), and a
   * timeout escalates. Without it the hand-off is fire-and-forget.
   */
  readonly await?: Duration.Input
}

/**
 * Emits a Signal on the IncidentBus for the runbook that owns its target:
 * `handOff(signal, "why")` (fire-and-forget) or `handOff(signal, { await: "10 minutes", reason })`.
 * A hand-off on the parent's own target passes the parent's lease to the child.
 */
export const handOff = (signal: Signal, reasonOrOptions: string | HandOffOptions = {}): Step => {
  const o: HandOffOptions = typeof reasonOrOptions === "string" ? { reason: reasonOrOptions } : reasonOrOptions
  const reason = o.reason ?? `hand off ${signal.type}`
  if (o.await === undefined) return { _tag: "HandOff", signal, reason }
  const ms = Duration.toMillis(Duration.fromInputUnsafe(o.await))
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`Plan.handOff: await must be a positive, finite duration (got ${String(o.await)})`)
  return { _tag: "HandOff", signal, reason, await: ms }
}
/** Records a ChangeProposal (never applied). */
export const propose = (proposal: ChangeProposal): Step => ({ _tag: "Propose", proposal })
/** Ends the plan with an escalation. */
export const escalate = (reason: string, nextSteps: ReadonlyArray<string> = []): Step => ({ _tag: "Escalate", reason, nextSteps })
/** Builds a CheckRef. */
export const check = (kind: string, target: TargetRef, params: Json.JsonObject, description: string): CheckRef => ({
  kind,
  target,
  params,
  description
})

/** A Plan that cannot be encoded (so could never be journaled, approved, digested or resumed). */
export class InvalidPlan extends Schema.TaggedError<InvalidPlan>()("InvalidPlan", {
  /** Where the problem is: `root`, `step 0.1.p.action.timeout`, `step 0.3.check.params.x` … */
  path: Schema.String,
  message: Schema.String
}) {}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const stepProblem = (step: unknown, path: string): InvalidPlan | undefined => {
  const bad = (where: string, message: string) => new InvalidPlan({ path: where, message: `${where}: ${message}` })
  const at = `step ${path}`
  if (!isRecord(step)) return bad(at, "is not a step object")
  const children = (key: string, steps: unknown): InvalidPlan | undefined => {
    if (!Array.isArray(steps)) return bad(`${at}.${key}`, "must be an array of steps")
    for (let i = 0; i < steps.length; i++) {
      const p = stepProblem(steps[i], `${path}.${i}`)
      if (p) return p
    }
    return undefined
  }
  const positive = (key: string): InvalidPlan | undefined => {
    const v = step[key]
    return typeof v === "number" && Number.isFinite(v) && v > 0
      ? undefined
      : bad(`${at}.${key}`, `must be a positive finite number of milliseconds, got ${typeof v === "number" ? String(v) : typeof v}`)
  }
  switch (step._tag) {
    case "Act": {
      const p = A.problem(step.action, `${at}.action`)
      return p ? new InvalidPlan({ path: p.path, message: p.message }) : undefined
    }
    case "Seq":
      return children("steps", step.steps)
    case "Until":
      return children("steps", step.steps)
    case "Fallback":
      if ("check" in step && step.check === undefined) return bad(`${at}.check`, "is undefined: omit the key instead (undefined cannot be encoded)")
      return stepProblem(step.primary, `${path}.p`) ?? stepProblem(step.otherwise, `${path}.o`)
    case "WaitFor":
      return positive("timeout") ?? positive("interval")
    case "HandOff":
      return "await" in step && step.await !== undefined ? positive("await") : undefined
    case "Propose":
    case "Escalate":
      return undefined
    default:
      return bad(`${at}._tag`, `is not a step tag (Act, Seq, Fallback, Until, WaitFor, HandOff, Propose, Escalate)`)
  }
}

/**
 * The first reason `plan` cannot be encoded, or `undefined` when it round-trips through the
 * `Plan` Schema unchanged (and so has one digest, one JSON form and one journaled form). Checks
 * every action (see `Action.problem`), positive finite WaitFor timeouts and intervals, no own
 * `undefined` optional keys, JSON everywhere (see `Json.check`), then the Schema round trip.
 */
export const problem = (plan: unknown): InvalidPlan | undefined => {
  if (!isRecord(plan)) return new InvalidPlan({ path: "plan", message: "plan: is not an object" })
  for (const k of ["runbook", "class", "summary"] as const) {
    if (typeof plan[k] !== "string") return new InvalidPlan({ path: `plan.${k}`, message: `plan.${k}: must be a string` })
  }
  const p = stepProblem(plan.root, "0")
  if (p) return p
  const nonJson = Json.check(plan, "plan")
  if (nonJson) return new InvalidPlan({ path: nonJson.path, message: nonJson.message })
  const encoded = Schema.encodeUnknownExit(Plan)(plan)
  if (encoded._tag === "Failure") return new InvalidPlan({ path: "plan", message: `plan: cannot be encoded: ${String(Cause.squash(encoded.cause))}` })
  const decoded = Schema.decodeUnknownExit(Plan)(JSON.parse(JSON.stringify(encoded.value)))
  if (decoded._tag === "Failure") {
    return new InvalidPlan({ path: "plan", message: `plan: does not decode after encoding: ${String(Cause.squash(decoded.cause))}` })
  }
  if (Json.canonical(decoded.value) !== Json.canonical(plan)) {
    return new InvalidPlan({ path: "plan", message: "plan: does not survive encoding unchanged (a key the Schema does not know?)" })
  }
  return undefined
}

/** Validates a Plan: succeeds with it when it round-trips through its Schema, else fails with `InvalidPlan`. */
export const validate = (plan: Plan): Effect.Effect<Plan, InvalidPlan> => {
  const p = problem(plan)
  return p ? Effect.fail(p) : Effect.succeed(plan)
}

/**
 * Builds a Plan. The plan is validated (see `problem`): one that could not be encoded throws
 * `InvalidPlan` naming the step and field, so every plan that can run can be encoded, journaled
 * and digested. Use `validate` for a typed failure instead.
 */
export const make = (runbook: string, cls: string, summary: string, root: Step): Plan => {
  const plan: Plan = { runbook, class: cls, summary, root }
  const p = problem(plan)
  if (p) throw p
  return plan
}

/** The plan's digest: SHA-256 of its canonical JSON. Approvals are bound to it. Throws `Json.NonJsonValue` for a plan that is not JSON. */
export const digest = (plan: Plan): string => Json.digest(plan)

/** Encodes a Plan to JSON text. */
export const toJson = (plan: Plan): string => JSON.stringify(Schema.encodeSync(Plan)(plan), null, 2)

/** Decodes a Plan from JSON text (throws a SchemaError naming the bad path). */
export const fromJson = (text: string): Plan => Schema.decodeUnknownSync(Plan)(JSON.parse(text))

/** A step's path in the tree ("0", "0.1", "0.1.primary" …): the journal's key for it. */
export type StepPath = string

/** Every Act step of the tree with its path, in execution order of the tree (depth first). */
export const actions = (step: Step, path: StepPath = "0"): Array<{ readonly path: StepPath; readonly action: A.Action }> => {
  switch (step._tag) {
    case "Act":
      return [{ path, action: step.action }]
    case "Seq":
    case "Until":
      return step.steps.flatMap((s, i) => actions(s, `${path}.${i}`))
    case "Fallback":
      return [...actions(step.primary, `${path}.p`), ...actions(step.otherwise, `${path}.o`)]
    default:
      return []
  }
}

/** Renders a plan as an indented, human-readable outline (used by dry_run posts and the CLI). */
export const render = (plan: Plan): string => {
  const lines: Array<string> = [`Plan (${plan.runbook} / ${plan.class}): ${plan.summary}`]
  const go = (s: Step, depth: number): void => {
    const pad = "  ".repeat(depth)
    switch (s._tag) {
      case "Act":
        lines.push(`${pad}- [${s.action.kind}] ${s.action.description}`)
        if (s.action.undo) lines.push(`${pad}    undo: [${s.action.undo.kind}] ${s.action.undo.description}`)
        return
      case "Seq":
        lines.push(`${pad}- in order:`)
        s.steps.forEach((c) => go(c, depth + 1))
        return
      case "Fallback":
        lines.push(`${pad}- try:`)
        go(s.primary, depth + 1)
        lines.push(`${pad}  if ${s.on.join(" or ")}${s.check ? ` (check: ${s.check.description})` : ""}, instead:`)
        go(s.otherwise, depth + 1)
        return
      case "Until":
        lines.push(`${pad}- until ${s.check.description}:`)
        s.steps.forEach((c) => go(c, depth + 1))
        return
      case "WaitFor":
        lines.push(`${pad}- wait for ${s.check.description} (timeout ${Math.round(s.timeout / 1000)}s)`)
        return
      case "HandOff":
        lines.push(
          `${pad}- hand off ${s.signal.type} on ${s.signal.target.kind} ${s.signal.target.ref}: ${s.reason}` +
            (s.await !== undefined ? ` (await the child's report up to ${Duration.format(Duration.millis(s.await))})` : "")
        )
        return
      case "Propose":
        lines.push(`${pad}- propose: ${s.proposal.title}`)
        return
      case "Escalate":
        lines.push(`${pad}- escalate: ${s.reason}`)
        return
    }
  }
  go(plan.root, 1)
  return lines.join("\n")
}
