/**
 * Live annotations: where `Guardrail.requireAnnotation` reads an object's annotations at
 * acquire time, and how a client address is traced to the workload that owns it.
 *
 * The source is a service (`AnnotationSource`) so domain packages meet here without importing
 * each other: `@byteport/k8s` provides one backed by the API server (`K8sAnnotations.layer`),
 * this module provides one backed by configuration (`Annotations.configuration`, for targets
 * outside Kubernetes). Every read goes to the source — nothing is cached — and every read is
 * recorded in the audit log (event `annotations.read`, `annotations.client`) when an `Audit`
 * service is present.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Audit } from "../Audit"
import type { GuardrailContext } from "../Guardrail"

/** An object whose annotations are read: a Kubernetes object, or a named target in configuration. */
export interface ObjectRef {
  /** `StatefulSet`, `Deployment`, `Service`, `Pod`, … or `host` outside Kubernetes. */
  readonly kind: string
  /** The namespace (Kubernetes objects); absent for cluster-scoped objects and configured targets. */
  readonly namespace?: string | undefined
  readonly name: string
}

/** A client of a database, as seen in its session list. */
export interface Client {
  /** The client's address (`client_addr`, `host` without the port). */
  readonly address?: string | undefined
  /** The session's `application_name` (used by configuration's application → workload map). */
  readonly applicationName?: string | undefined
}

/** A source could not be read (API down, forbidden …): the guardrail denies. */
export class AnnotationSourceError extends Schema.TaggedError<AnnotationSourceError>()("AnnotationSourceError", {
  source: Schema.String,
  message: Schema.String
}) {}

/** What a source answers. */
export interface Shape {
  /** The source's name, recorded with each read (`kubernetes`, `configuration`). */
  readonly name: string
  /** The object's annotations now; `undefined` when the object does not exist. */
  readonly annotationsOf: (object: ObjectRef) => Effect.Effect<Readonly<Record<string, string>> | undefined, AnnotationSourceError>
  /** The workload owning a client (address → Pod → owner, or a configured map); `undefined` when unknown. */
  readonly workloadOf: (client: Client) => Effect.Effect<ObjectRef | undefined, AnnotationSourceError>
}

/** The annotation source service. */
export class AnnotationSource extends Context.Service<AnnotationSource, Shape>()("@byteport/core/AnnotationSource") {}

/** `Kind/namespace/name` (or `Kind/name`), the key of an object in configuration and in audit records. */
export const objectKey = (o: ObjectRef): string => (o.namespace !== undefined && o.namespace !== "" ? `${o.kind}/${o.namespace}/${o.name}` : `${o.kind}/${o.name}`)

/** Parses an object key back (`Kind/namespace/name` or `Kind/name`); a bare name is a `host`. */
export const parseObjectKey = (key: string): ObjectRef => {
  const parts = key.split("/")
  if (parts.length >= 3) return { kind: parts[0]!, namespace: parts[1]!, name: parts.slice(2).join("/") }
  if (parts.length === 2) return { kind: parts[0]!, name: parts[1]! }
  return { kind: "host", name: key }
}

/** Configuration for {@link configuration}. */
export interface ConfigurationOptions {
  /** Annotations by object key ({@link objectKey}): `{ "host/orders-primary": { "byteport.io/auto_remediate": "db_terminate" } }`. */
  readonly objects?: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined
  /** Client address → workload. */
  readonly addresses?: Readonly<Record<string, ObjectRef>> | undefined
  /** application_name → workload (used when the address is not mapped). */
  readonly applications?: Readonly<Record<string, ObjectRef>> | undefined
}

/**
 * A source backed by configuration (targets outside Kubernetes, place (c)). The options are
 * read on each call through `get`, so a reloaded configuration is seen at the next acquire.
 *
 * @example
 * ```ts
 * import { Annotations } from "@byteport/core"
 * const source = Annotations.configuration(() => ({
 *   objects: { "host/orders-primary": { "byteport.io/auto_remediate": "db_terminate" } }
 * }))
 * ```
 */
export const configuration = (get: () => ConfigurationOptions): Shape => ({
  name: "configuration",
  annotationsOf: (object) =>
    Effect.try({
      try: () => {
        const objects = get().objects ?? {}
        const key = objectKey(object)
        return Object.prototype.hasOwnProperty.call(objects, key) ? objects[key] : undefined
      },
      catch: (e) => new AnnotationSourceError({ source: "configuration", message: String(e) })
    }),
  workloadOf: (client) =>
    Effect.try({
      try: () => {
        const c = get()
        const own = (m: Readonly<Record<string, ObjectRef>> | undefined, k: string | undefined) =>
          m !== undefined && k !== undefined && Object.prototype.hasOwnProperty.call(m, k) ? m[k] : undefined
        return own(c.addresses, client.address) ?? own(c.applications, client.applicationName)
      },
      catch: (e) => new AnnotationSourceError({ source: "configuration", message: String(e) })
    })
})

/** A layer of {@link configuration} over fixed options. */
export const layerConfiguration = (options: ConfigurationOptions): Layer.Layer<AnnotationSource> =>
  Layer.succeed(AnnotationSource, configuration(() => options))

/**
 * Sources tried in order: the first that knows the object (or the client) answers. A failing
 * source fails the read (it is never skipped: "unknown" must deny, not fall through).
 */
export const firstOf = (...sources: ReadonlyArray<Shape>): Shape => ({
  name: sources.map((s) => s.name).join("+"),
  annotationsOf: (object) =>
    Effect.gen(function*() {
      for (const s of sources) {
        const a = yield* s.annotationsOf(object)
        if (a !== undefined) return a
      }
      return undefined
    }),
  workloadOf: (client) =>
    Effect.gen(function*() {
      for (const s of sources) {
        const w = yield* s.workloadOf(client)
        if (w !== undefined) return w
      }
      return undefined
    })
})

const audit = (ctx: GuardrailContext, event: string, data: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Audit), (a) =>
    a._tag === "Some" ? a.value.record({ incidentId: ctx.incidentId, runbook: ctx.runbook, event, data: { ...data, action: ctx.action.kind, target: `${ctx.action.target.kind}:${ctx.action.target.ref}`, step: ctx.stepPath } }) : Effect.void)

/** Reads an object's annotations from `source` now, auditing the read (`annotations.read`). */
export const readObject = (source: Shape, ctx: GuardrailContext, object: ObjectRef): Effect.Effect<Readonly<Record<string, string>> | undefined, AnnotationSourceError> =>
  source.annotationsOf(object).pipe(
    Effect.tap((a) => audit(ctx, "annotations.read", { source: source.name, object: objectKey(object), found: a !== undefined, annotations: a ?? null })),
    Effect.tapError((e) => audit(ctx, "annotations.read", { source: source.name, object: objectKey(object), error: e.message }))
  )

/**
 * Reads the annotations of the workload owning a client, now: the workload is resolved first
 * (audited as `annotations.client`), then its annotations are read (audited as `annotations.read`).
 * `undefined` when the client's workload is unknown or gone.
 */
export const readClient = (source: Shape, ctx: GuardrailContext, client: Client): Effect.Effect<{ readonly workload: ObjectRef; readonly annotations: Readonly<Record<string, string>> | undefined } | undefined, AnnotationSourceError> =>
  Effect.gen(function*() {
    const workload = yield* source.workloadOf(client).pipe(
      Effect.tap((w) => audit(ctx, "annotations.client", { source: source.name, address: client.address ?? null, application_name: client.applicationName ?? null, workload: w === undefined ? null : objectKey(w) }))
    )
    if (workload === undefined) return undefined
    return { workload, annotations: yield* readObject(source, ctx, workload) }
  })

/**
 * The `annotations` reader of `Guardrail.requireAnnotation` for an object, from the
 * `AnnotationSource` service (or `source` when given): read at each check and acquire.
 *
 * @example
 * ```ts
 * import { Annotations, Guardrail } from "@byteport/core"
 * const gate = Guardrail.requireAnnotation("byteport.io/auto_remediate", "db_terminate", {
 *   live: Annotations.ofObject({ kind: "StatefulSet", namespace: "db", name: "orders-pg" })
 * })
 * ```
 */
export const ofObject = (object: ObjectRef | ((ctx: GuardrailContext) => ObjectRef | undefined)) =>
(ctx: GuardrailContext): Effect.Effect<Readonly<Record<string, string>> | undefined, AnnotationSourceError, AnnotationSource> =>
  Effect.flatMap(Effect.service(AnnotationSource), (source) => ofObjectIn(source, object)(ctx))

/** {@link ofObject} over a given source (no service needed). */
export const ofObjectIn = (source: Shape, object: ObjectRef | ((ctx: GuardrailContext) => ObjectRef | undefined)) =>
(ctx: GuardrailContext): Effect.Effect<Readonly<Record<string, string>> | undefined, AnnotationSourceError> => {
  const o = typeof object === "function" ? object(ctx) : object
  return o === undefined ? Effect.succeed(undefined) : readObject(source, ctx, o)
}

/**
 * The `annotations` reader for the workload owning the client the action acts on (place (b)):
 * `client(ctx)` names it (typically from the action's params), the source resolves its workload
 * and reads that workload's annotations now. Unknown client or workload → `undefined` (denied).
 */
export const ofClient = (client: (ctx: GuardrailContext) => Client | undefined) =>
(ctx: GuardrailContext): Effect.Effect<Readonly<Record<string, string>> | undefined, AnnotationSourceError, AnnotationSource> =>
  Effect.flatMap(Effect.service(AnnotationSource), (source) => {
    const c = client(ctx)
    return c === undefined ? Effect.succeed(undefined) : Effect.map(readClient(source, ctx, c), (r) => r?.annotations)
  })
