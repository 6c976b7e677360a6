/**
 * Where `byteport.io/auto_remediate: "db_terminate"` allows a termination — the three places of
 * `db.connections.saturation`, and only those:
 *
 * - **(a) the database object** named in the target's configuration (`database.object`: a
 *   StatefulSet, Service, CloudNativePG `Cluster` …), read live from core's `AnnotationSource`
 *   → any eligible session of that database;
 * - **(b) a client workload** → its own sessions only: the session's client address → Pod →
 *   owner (`AnnotationSource.workloadOf`), else — when the address belongs to no known workload —
 *   the configured application_name → workload map (`clients.applications`, then the source's
 *   own map). A pooler's address is **never** used: sessions arriving through pgbouncer carry
 *   pgbouncer's address, and pgbouncer's workload would otherwise open every session to
 *   termination. Pooler addresses are configured (`clients.poolerAddresses`), and a workload an
 *   address resolves to whose name matches `clients.poolerWorkloads` (default
 *   `pgbouncer|pgcat|odyssey|pooler`) is treated as one;
 * - **(c) outside Kubernetes**, the annotations configured on the target (`database.annotations`).
 *
 * Every read happens now (never cached). The gate reads at each acquire, auditing each read
 * (`annotations.read`, `annotations.client`); the remediator reads the same places once at plan
 * time so that its plan names only sessions in an allowing scope. A failed read allows nothing.
 *
 * @since 0.1.0
 */
import { Annotations, Guardrail } from "@byteport/core"
import { Effect, Option } from "effect"

type GuardrailContext = Guardrail.GuardrailContext

/** The opt-in annotation. */
export const ANNOTATION = "byteport.io/auto_remediate"
/** The value that allows terminations. */
export const ANNOTATION_VALUE = "db_terminate"

/** Default pattern of pooler workload names (never a client's owner). */
export const DEFAULT_POOLER_WORKLOADS = /pgbouncer|pgcat|odyssey|pooler/i

/**
 * The object representing the database: place (a) when only `object` is given (read from the
 * `AnnotationSource`, e.g. `"StatefulSet/db/orders-pg"`), place (c) when `annotations` are
 * configured (e.g. `"host/orders-primary"` outside Kubernetes).
 */
export interface DatabaseObject {
  /** What represents the database (`Kind/namespace/name`, `Kind/name`, or a bare host name). */
  readonly object: string
  /** Its annotations as configured (place (c)); absent → read live from the `AnnotationSource` (place (a)). */
  readonly annotations?: Readonly<Record<string, string>> | undefined
}

/** Place (b): how a session's client is traced to the workload whose annotations decide. */
export interface ClientScope {
  /** application_name → workload (`Kind/namespace/name`), used when the client address resolves to no workload (or is a pooler's). */
  readonly applications?: Readonly<Record<string, string>> | undefined
  /** Addresses of poolers (pgbouncer, PgCat …): never traced to a workload. */
  readonly poolerAddresses?: ReadonlyArray<string> | undefined
  /** Workloads that are poolers: an address resolving to one is not used (default {@link DEFAULT_POOLER_WORKLOADS} over the name). */
  readonly poolerWorkloads?: RegExp | ReadonlyArray<string> | undefined
}

/** The places a runbook reads. */
export interface Places {
  readonly database?: DatabaseObject | undefined
  /** Per-workload opt-in (place (b)); absent → only the database object decides. */
  readonly clients?: ClientScope | undefined
}

/** A session's client as the plan names it. */
export interface SessionClient {
  readonly address: string | null
  readonly applicationName: string
}

/** Pure: whether an annotation map allows `db_terminate` (alone or in a comma list). */
export const allows = (annotations: Readonly<Record<string, string>> | undefined): boolean => {
  if (annotations === undefined || !Object.prototype.hasOwnProperty.call(annotations, ANNOTATION)) return false
  return annotations[ANNOTATION]!.split(",").map((s) => s.trim()).includes(ANNOTATION_VALUE)
}

const configured = (database: DatabaseObject): Annotations.Shape =>
  Annotations.configuration(() => ({ objects: { [Annotations.objectKey(Annotations.parseObjectKey(database.object))]: database.annotations ?? {} } }))

const isPoolerWorkload = (clients: ClientScope, w: Annotations.ObjectRef): boolean => {
  const p = clients.poolerWorkloads ?? DEFAULT_POOLER_WORKLOADS
  return p instanceof RegExp ? p.test(w.name) : p.includes(Annotations.objectKey(w))
}

/**
 * The source that answers place (b) in the order above: the address (unless a pooler's) through
 * `live`, then the configured application map, then `live`'s own application map.
 */
export const clientSource = (clients: ClientScope, live: Annotations.Shape | undefined): Annotations.Shape => ({
  name: live === undefined ? "configuration" : `${live.name}+configuration`,
  annotationsOf: (object) => (live === undefined ? Effect.succeed(undefined) : live.annotationsOf(object)),
  workloadOf: (client) =>
    Effect.gen(function*() {
      const address = client.address !== undefined && client.address !== "" && !(clients.poolerAddresses ?? []).includes(client.address)
        ? client.address
        : undefined
      if (address !== undefined && live !== undefined) {
        const w = yield* live.workloadOf({ address })
        // an address that belongs to a workload decides (never the application name it claims), unless a pooler's
        if (w !== undefined && !isPoolerWorkload(clients, w)) return w
      }
      const app = client.applicationName
      if (app !== undefined && clients.applications !== undefined && Object.prototype.hasOwnProperty.call(clients.applications, app)) {
        return Annotations.parseObjectKey(clients.applications[app]!)
      }
      if (app !== undefined && live !== undefined) {
        const w = yield* live.workloadOf({ applicationName: app })
        if (w !== undefined && !isPoolerWorkload(clients, w)) return w
      }
      return undefined
    })
})

const liveSource = Effect.map(Effect.serviceOption(Annotations.AnnotationSource), Option.getOrUndefined)

/** The database object's annotations now (configured, else from the `AnnotationSource`); `undefined` when unknown. */
export const databaseAnnotations = (
  database: DatabaseObject | undefined,
  ctx?: GuardrailContext
): Effect.Effect<Readonly<Record<string, string>> | undefined, Annotations.AnnotationSourceError> =>
  Effect.gen(function*() {
    if (database === undefined) return undefined
    const source = database.annotations !== undefined ? configured(database) : yield* liveSource
    if (source === undefined) return undefined
    const object = Annotations.parseObjectKey(database.object)
    return yield* (ctx === undefined ? source.annotationsOf(object) : Annotations.readObject(source, ctx, object))
  })

/** The annotations of the workload owning a session's client now; `undefined` when unknown. */
export const clientAnnotations = (
  clients: ClientScope,
  client: SessionClient,
  ctx?: GuardrailContext
): Effect.Effect<{ readonly workload: string; readonly annotations: Readonly<Record<string, string>> | undefined } | undefined, Annotations.AnnotationSourceError> =>
  Effect.gen(function*() {
    const source = clientSource(clients, yield* liveSource)
    const c: Annotations.Client = { ...(client.address !== null ? { address: client.address } : {}), applicationName: client.applicationName }
    if (ctx !== undefined) {
      const r = yield* Annotations.readClient(source, ctx, c)
      return r === undefined ? undefined : { workload: Annotations.objectKey(r.workload), annotations: r.annotations }
    }
    const w = yield* source.workloadOf(c)
    if (w === undefined) return undefined
    return { workload: Annotations.objectKey(w), annotations: yield* source.annotationsOf(w) }
  })

/**
 * Plan time: whether the database object allows terminations now (then every eligible session
 * is in scope). A failed read allows nothing.
 */
export const databaseAllows = (places: Places): Effect.Effect<boolean> =>
  databaseAnnotations(places.database).pipe(Effect.map(allows), Effect.orElseSucceed(() => false))

/** Plan time: whether a session's own workload allows its termination (place (b)). A failed read allows nothing. */
export const clientAllows = (places: Places, client: SessionClient): Effect.Effect<boolean> =>
  places.clients === undefined
    ? Effect.succeed(false)
    : clientAnnotations(places.clients, client).pipe(Effect.map((r) => allows(r?.annotations)), Effect.orElseSucceed(() => false))

/** Pure: the client an action of `pg.terminateBackend` / `mysql.killConnection` names (`clientAddr`, `applicationName` params). */
export const clientOfAction = (ctx: GuardrailContext): SessionClient | undefined => {
  const p = ctx.action.params
  const app = p["applicationName"]
  if (typeof app !== "string" || !Object.prototype.hasOwnProperty.call(p, "clientAddr")) return undefined
  const addr = p["clientAddr"]
  return { address: typeof addr === "string" ? addr : null, applicationName: app }
}

/**
 * The gate: `Guardrail.requireAnnotation(byteport.io/auto_remediate, db_terminate)` over the
 * three places, read (and audited) at each check and acquire: the database object first; when it
 * does not allow and the action names its session's client, that client's workload.
 */
export const gate = (places: Places): Guardrail.Guardrail<never> => {
  const where = [
    places.database === undefined ? "the database object (not configured)" : places.database.object,
    ...(places.clients === undefined ? [] : ["the client's workload"])
  ].join(" or ")
  return Guardrail.requireAnnotation(ANNOTATION, ANNOTATION_VALUE, {
    name: `require_annotation(${ANNOTATION}=${ANNOTATION_VALUE}) on ${where}`,
    live: (ctx) =>
      Effect.gen(function*() {
        const db = yield* databaseAnnotations(places.database, ctx).pipe(
          // the database object unreadable: place (b) may still allow; nothing known → denied
          Effect.catch((e) => (places.clients === undefined ? Effect.fail(e) : Effect.succeed(undefined)))
        )
        if (allows(db) || places.clients === undefined) return db
        const client = clientOfAction(ctx)
        if (client === undefined) return db
        const c = yield* clientAnnotations(places.clients, client, ctx)
        return c?.annotations ?? db
      })
  })
}
