/**
 * Hand-off signal types and their evidence Schemas. Domain packages never import each other, so
 * the hand-offs they exchange through the IncidentBus are declared here, in core: the runbook
 * that asks (a database runbook) and the runbook that acts (the Kubernetes Restarter) share one
 * definition of the signal type and of its evidence.
 *
 * - Emitting: `HandOffs.signal(def, …)` encodes the evidence with its Schema, and
 *   `IncidentBus.publish` checks the evidence of every known hand-off type; evidence that fails
 *   its Schema is an `InvalidHandOff` (direction `emit`) and nothing is published.
 * - Receiving: `HandOffs.decode(def, signal)` (or the `HandOffs.probe(def)` diagnoser probe)
 *   decodes the evidence; the Catalog checks every routed signal of a known hand-off type.
 *   Evidence that fails its Schema is an `InvalidHandOff` (direction `receive`).
 * - Awaited hand-offs (`Plan.handOff(signal, { await: "10 minutes" })`) end with the child's
 *   `ChildResult`, which the parent's verifier reads with `HandOffs.childResults(ctx.outcomes)`.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as Diagnoser from "./Diagnoser"
import { Status } from "./IncidentReport"
import type { IncidentReport } from "./IncidentReport"
import { JsonObject } from "./Json"
import type { Outcome } from "./Outcome"
import type { ParentLink, Signal } from "./Signal"
import { TargetRef } from "./TargetRef"
import { Verdict } from "./Verdict"

/** Evidence of a hand-off failed its Schema, when emitted (`emit`) or received (`receive`). */
export class InvalidHandOff extends Schema.TaggedError<InvalidHandOff>()("InvalidHandOff", {
  signalType: Schema.String,
  direction: Schema.Literals(["emit", "receive"]),
  message: Schema.String
}) {}

/** A hand-off definition: its signal type, the kind of target it names and its evidence Schema. */
export interface HandOff<E, I = unknown> {
  /** The signal type ("k8s.rollout-restart.requested"). */
  readonly type: string
  /** The TargetRef kind the signal names ("k8s.workload"); informative. */
  readonly targetKind: string
  readonly description: string
  /** The evidence Schema: its encoded form must be a JSON object. */
  readonly evidence: Schema.Codec<E, I>
}

/** The evidence type of a hand-off definition. */
export type Evidence<H> = H extends HandOff<infer E, infer _I> ? E : never

/** Defines a hand-off type (for hand-offs beyond the built-in ones). */
export const make = <E, I>(options: {
  readonly type: string
  readonly targetKind: string
  readonly description: string
  readonly evidence: Schema.Codec<E, I>
}): HandOff<E, I> => ({ ...options })

const NonEmpty = Schema.String.check(Schema.isNonEmpty())
const EpochMs = Schema.Finite
const Bytes = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** "Restart this workload" (`k8s.rollout-restart.requested` on a `k8s.workload`): the Restarter owns it. */
export const RolloutRestartRequested = make({
  type: "k8s.rollout-restart.requested",
  targetKind: "k8s.workload",
  description: "rollout restart of a workload, requested by another runbook",
  evidence: Schema.Struct({ reason: Schema.optionalKey(NonEmpty) })
})

/** "A dependency of the target is unavailable" (`dependency.unavailable`): a database, a cache, a DNS name. */
export const DependencyUnavailable = make({
  type: "dependency.unavailable",
  targetKind: "any",
  description: "a dependency the target needs is unavailable",
  evidence: Schema.Struct({
    dependency: NonEmpty,
    endpoint: Schema.optionalKey(Schema.String),
    since: Schema.optionalKey(EpochMs),
    detail: Schema.optionalKey(Schema.String)
  })
})

/** "Replace this node" (`k8s.node-replacement.requested` on a `k8s.node`). */
export const NodeReplacementRequested = make({
  type: "k8s.node-replacement.requested",
  targetKind: "k8s.node",
  description: "replacement of a node that cannot be repaired in place",
  evidence: Schema.Struct({
    reason: NonEmpty,
    cordoned: Schema.optionalKey(Schema.Boolean),
    drained: Schema.optionalKey(Schema.Boolean),
    /** The node's `spec.providerID` (`aws:///<az>/<instance-id>`, `gce://<project>/<zone>/<name>`): the cloud's instance. */
    providerID: Schema.optionalKey(NonEmpty)
  })
})

/** "Grow this volume" (`volume.grow.requested`): requested size above the current capacity. */
export const VolumeGrowRequested = make({
  type: "volume.grow.requested",
  targetKind: "any",
  description: "growth of a volume that is running out of space",
  evidence: Schema.Struct({
    reason: NonEmpty,
    capacityBytes: Bytes.check(Schema.isGreaterThan(0)),
    requestedBytes: Bytes.check(Schema.isGreaterThan(0)),
    usedBytes: Schema.optionalKey(Bytes)
  }).check(
    Schema.makeFilter((e) => e.requestedBytes > e.capacityBytes || `requestedBytes (${e.requestedBytes}) must exceed capacityBytes (${e.capacityBytes})`)
  )
})

/** "This deployment regressed the target" (`deployment.regression`): the suspect revision and the symptom. */
export const DeploymentRegression = make({
  type: "deployment.regression",
  targetKind: "any",
  description: "a regression that started with a deployment",
  evidence: Schema.Struct({
    revision: NonEmpty,
    previousRevision: Schema.optionalKey(NonEmpty),
    deployedAt: EpochMs,
    symptom: NonEmpty
  })
})

/** "OOM kills were observed" (`oom.observed`): which container, how often, under which limit. */
export const OomObserved = make({
  type: "oom.observed",
  targetKind: "k8s.workload",
  description: "out-of-memory kills observed on the target",
  evidence: Schema.Struct({
    container: NonEmpty,
    count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
    lastAt: EpochMs,
    limitBytes: Schema.optionalKey(Bytes.check(Schema.isGreaterThan(0)))
  })
})

/** Every built-in hand-off, by signal type. The IncidentBus checks the evidence of these on publish. */
export const all: ReadonlyArray<HandOff<unknown, unknown>> = [
  RolloutRestartRequested,
  DependencyUnavailable,
  NodeReplacementRequested,
  VolumeGrowRequested,
  DeploymentRegression,
  OomObserved
]

/** The built-in (or given) hand-off definition of a signal type, if any. */
export const find = (type: string, among: ReadonlyArray<HandOff<unknown, unknown>> = all): HandOff<unknown, unknown> | undefined =>
  among.find((h) => h.type === type)

const toJsonObject = Schema.decodeUnknownEffect(JsonObject)

/**
 * Builds a hand-off Signal (emitting): the evidence is encoded with the definition's Schema and
 * must come out a JSON object; otherwise `InvalidHandOff` (direction `emit`).
 */
export const signal = <E, I>(
  def: HandOff<E, I>,
  fields: {
    readonly target: TargetRef
    readonly evidence: E
    readonly observedAt: number
    readonly source?: string
    readonly parent?: ParentLink
  }
): Effect.Effect<Signal, InvalidHandOff> =>
  Schema.encodeUnknownEffect(def.evidence)(fields.evidence).pipe(
    Effect.flatMap(toJsonObject),
    Effect.mapError((e) => new InvalidHandOff({ signalType: def.type, direction: "emit", message: e.message })),
    Effect.map((evidence): Signal => ({
      type: def.type,
      target: fields.target,
      observedAt: fields.observedAt,
      evidence,
      ...(fields.source !== undefined ? { source: fields.source } : {}),
      ...(fields.parent !== undefined ? { parent: fields.parent } : {})
    }))
  )

/** Decodes the evidence of a received hand-off Signal (receiving); a wrong type or bad evidence is `InvalidHandOff` (`receive`). */
export const decode = <E, I>(def: HandOff<E, I>, received: Signal): Effect.Effect<E, InvalidHandOff> =>
  received.type !== def.type
    ? Effect.fail(new InvalidHandOff({ signalType: received.type, direction: "receive", message: `expected a ${def.type} hand-off, got ${received.type}` }))
    : Schema.decodeUnknownEffect(def.evidence)(received.evidence).pipe(
      Effect.mapError((e) => new InvalidHandOff({ signalType: def.type, direction: "receive", message: e.message }))
    )

/**
 * Checks a Signal against the definition of its type (when it is a known hand-off type; other
 * signals pass unchanged). `direction` says which side checks.
 */
export const validate = (
  s: Signal,
  direction: "emit" | "receive",
  among: ReadonlyArray<HandOff<unknown, unknown>> = all
): Effect.Effect<Signal, InvalidHandOff> => {
  const def = find(s.type, among)
  if (!def) return Effect.succeed(s)
  return Schema.decodeUnknownEffect(def.evidence)(s.evidence).pipe(
    Effect.as(s),
    Effect.mapError((e) => new InvalidHandOff({ signalType: s.type, direction, message: e.message }))
  )
}

/** A Diagnoser probe that decodes the received hand-off's evidence: bad evidence is an Unknown fact naming `InvalidHandOff`. */
export const probe = <E, I>(def: HandOff<E, I>, name = "request"): Diagnoser.Probe<E> =>
  Diagnoser.probe(name, (s) => decode(def, s))

/** What an awaited child incident reported back to its parent. */
export const ChildResult = Schema.Struct({
  /** The hand-off id (`<parent incident id>/<step path>`). */
  handOff: Schema.String,
  signalType: Schema.String,
  target: TargetRef,
  /** The child incident (absent when no runbook took the hand-off). */
  incidentId: Schema.optionalKey(Schema.String),
  runbook: Schema.optionalKey(Schema.String),
  status: Status,
  /** The child's last verdict, when it verified. */
  verdict: Schema.optionalKey(Verdict),
  /** Why it ended that way (an escalation's reason, "unrouted" …). */
  reason: Schema.optionalKey(Schema.String),
  at: Schema.Finite
})

/** What an awaited child incident reported back to its parent. */
export type ChildResult = typeof ChildResult.Type

/** The child result of a finished incident raised by a hand-off (undefined when it was not raised by one). */
export const resultOf = (report: IncidentReport): ChildResult | undefined => {
  const id = report.parent?.handOff
  if (id === undefined) return undefined
  const verdict = report.verdicts[report.verdicts.length - 1]
  return {
    handOff: id,
    signalType: report.signal.type,
    target: report.signal.target,
    incidentId: report.incidentId,
    runbook: report.runbook,
    status: report.status,
    ...(verdict ? { verdict } : {}),
    ...(report.escalation ? { reason: report.escalation.reason } : {}),
    at: report.endedAt
  }
}

const decodeChild = Schema.decodeUnknownOption(ChildResult)

/**
 * The child results of the awaited hand-offs among a plan's outcomes, in order: what a parent's
 * verifier reads (`HandOffs.childResults(ctx.outcomes)`) to see its children's verdicts.
 */
export const childResults = (outcomes: ReadonlyArray<Outcome>): ReadonlyArray<ChildResult> =>
  outcomes.flatMap((o) => {
    if (o.kind !== "handoff" || o.result === undefined) return []
    const child = decodeChild(o.result["child"])
    return child._tag === "Some" ? [child.value] : []
  })
