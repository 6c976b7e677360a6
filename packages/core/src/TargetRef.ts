/**
 * What an incident is about. Core keeps it open — `{ kind, ref }` — and each domain package
 * owns the schema of its targets (a Kubernetes workload, a node, a database, a certificate …)
 * and how `ref` is built from and parsed into them.
 *
 * A target may declare a `parent` (a container's workload, a database's cluster): the per-target
 * lease of an incident on a target then excludes incidents on its ancestors and descendants
 * (hierarchical leases, see `GuardrailStore.LeaseRequest`). The parent is not part of the
 * target's identity: `key` and `equals` read only `cluster`, `kind` and `ref`.
 *
 * Fleets: a target may name the `cluster` it lives in, so agents of several clusters can share
 * one store (one PostgreSQL `PgStore`) without their per-target budgets, leases and journals
 * colliding. Without a cluster the key is `kind:ref` exactly as before (single-cluster stores and
 * journals keep working); with one it is `@<cluster>/kind:ref`. An agent stamps its cluster on
 * every signal's target that names none (`Cluster` reference) and actions inherit the cluster
 * of their incident's target in guardrail keys (`inCluster`).
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option, Schema } from "effect"

/** A reference to the thing an incident is about, optionally nested under a parent target. */
export interface TargetRef {
  readonly kind: string
  readonly ref: string
  readonly parent?: TargetRef
  /** The cluster the target lives in (fleets: several clusters share one store); absent for single-cluster use. */
  readonly cluster?: string
}

/** A cluster name: a DNS-1123 subdomain (lower-case letters, digits, `-` and `.`, at most 253). */
export const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/

/** At most this many ancestors (parent, grandparent …) a target may declare. */
export const MAX_DEPTH = 8

const depthOk = (t: TargetRef): boolean => {
  const seen = new Set<string>([key(t)])
  let p = t.parent
  for (let depth = 1; p !== undefined; depth++, p = p.parent) {
    if (depth > MAX_DEPTH || seen.has(key(p))) return false
    seen.add(key(p))
  }
  return true
}

/** A reference to the thing an incident is about: `kind` names the domain type, `ref` identifies one, `parent` (optional) contains it. */
export const TargetRef: Schema.Codec<TargetRef> = Schema.Struct({
  kind: Schema.String.check(Schema.isNonEmpty()),
  ref: Schema.String.check(Schema.isNonEmpty()),
  parent: Schema.optionalKey(Schema.suspend((): Schema.Codec<TargetRef> => TargetRef)),
  cluster: Schema.optionalKey(Schema.String.check(Schema.isPattern(CLUSTER_NAME)))
}).check(Schema.makeFilter((t) => depthOk(t) || `at most ${MAX_DEPTH} ancestors, none the target itself`))

/** Builds a TargetRef, with its parent when given. */
export const make = (kind: string, ref: string, parent?: TargetRef): TargetRef =>
  parent === undefined ? { kind, ref } : { kind, ref, parent }

/**
 * The canonical string key of a target (used for leases, de-duplication and guardrail keys):
 * `kind:ref`, or `@<cluster>/kind:ref` when the target names its cluster. The parent is not part of it.
 */
export const key = (target: TargetRef): string =>
  target.cluster === undefined ? `${target.kind}:${target.ref}` : `@${target.cluster}/${target.kind}:${target.ref}`

/** Whether two references name the same target (same cluster, kind and ref; parents are not compared). */
export const equals = (a: TargetRef, b: TargetRef): boolean => a.kind === b.kind && a.ref === b.ref && a.cluster === b.cluster

/**
 * The target placed in `cluster`: a target (and each ancestor) that names no cluster gets this
 * one; a target that names its own keeps it. `undefined` returns the target unchanged.
 */
export const inCluster = (target: TargetRef, cluster: string | undefined): TargetRef => {
  if (cluster === undefined || target.cluster !== undefined) return target
  const parent = target.parent === undefined ? undefined : inCluster(target.parent, cluster)
  return { ...target, ...(parent === undefined ? {} : { parent }), cluster }
}

/**
 * The cluster this agent works on (a reference: none unless provided). `Runbook.handle` places
 * every signal's target that names no cluster in it, so one store serves agents of many clusters.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TargetRef } from "@byteport/core"
 * declare const agent: Effect.Effect<void>
 * agent.pipe(Effect.provideService(TargetRef.Cluster, "eu-west-1"))
 * ```
 */
export const Cluster: Context.Reference<string | undefined> = Context.Reference<string | undefined>("@byteport/core/TargetRef/Cluster", {
  defaultValue: () => undefined
})

/** The agent's cluster from `BYTEPORT_CLUSTER` (absent: none, single-cluster keys); a value that is not a DNS-1123 name is a ConfigError at startup. */
export const clusterConfig: Config.Config<string | undefined> = Config.option(
  Config.schema(Schema.String.check(Schema.isPattern(CLUSTER_NAME)), "BYTEPORT_CLUSTER")
).pipe(Config.map(Option.getOrUndefined))

/** A layer naming the agent's cluster from `BYTEPORT_CLUSTER` (see {@link Cluster}). */
export const layerConfig: Layer.Layer<never, Config.ConfigError> = Layer.unwrap(
  Effect.map(clusterConfig, (cluster) => Layer.succeed(Cluster, cluster))
)

const isRef = (u: unknown): u is TargetRef =>
  u !== null && typeof u === "object" && typeof (u as TargetRef).kind === "string" && (u as TargetRef).kind !== "" &&
  typeof (u as TargetRef).ref === "string" && (u as TargetRef).ref !== ""

/**
 * The target's ancestors, nearest first (parent, grandparent …): at most `MAX_DEPTH`, stopping at
 * a repeat or at a parent that is not a well-formed TargetRef (a target that bypassed decoding
 * never makes this throw).
 */
export const ancestors = (target: TargetRef): ReadonlyArray<TargetRef> => {
  const out: Array<TargetRef> = []
  if (!isRef(target)) return out
  const seen = new Set<string>([key(target)])
  for (let p: unknown = target.parent; isRef(p) && out.length < MAX_DEPTH && !seen.has(key(p)); p = p.parent) {
    seen.add(key(p))
    out.push(p)
  }
  return out
}

/** Whether `ancestor` is among the ancestors of `target`. */
export const isWithin = (target: TargetRef, ancestor: TargetRef): boolean => ancestors(target).some((a) => equals(a, ancestor))
