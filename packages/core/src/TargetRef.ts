/**
 * What an incident is about. Core keeps it open — `{ kind, ref }` — and each domain package
 * owns the schema of its targets (a Kubernetes workload, a node, a database, a certificate …)
 * and how `ref` is built from and parsed into them.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A reference to the thing an incident is about: `kind` names the domain type, `ref` identifies one. */
export const TargetRef = Schema.Struct({
  kind: Schema.String.check(Schema.isNonEmpty()),
  ref: Schema.String.check(Schema.isNonEmpty())
})

/** A reference to the thing an incident is about. */
export type TargetRef = typeof TargetRef.Type

/** Builds a TargetRef. */
export const make = (kind: string, ref: string): TargetRef => ({ kind, ref })

/** The canonical string key of a target (used for leases, de-duplication and guardrail keys). */
export const key = (target: TargetRef): string => `${target.kind}:${target.ref}`

/** Whether two references name the same target. */
export const equals = (a: TargetRef, b: TargetRef): boolean => a.kind === b.kind && a.ref === b.ref
