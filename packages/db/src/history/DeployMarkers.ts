/**
 * Where deploy markers come from: a pluggable `DeployMarkers` service the PoolDiagnoser asks for
 * the last deploy touching a database before it classifies leak_after_deploy. Sources:
 *
 * - {@link fromConfig}: `BYTEPORT_DEPLOY_MARKERS`, a JSON array of markers (a deploy pipeline
 *   writes it, or an operator sets it);
 * - {@link make} with {@link staticSource}: markers fixed in code;
 * - {@link webhook}: an in-memory source fed by `push` (wire it to the CI/CD webhook handler);
 * - {@link fromFunction}: any function, e.g. Kubernetes rollouts of the workload owning the
 *   sessions. Domain packages never import each other, so the Kubernetes-backed source is a
 *   function the user wires (read the Deployment's rollout history with `@byteport/k8s` and
 *   return `{ sha, at, workload: "<cluster>/<ns>/Deployment/<name>", application }`).
 *
 * A marker may name the `workload` to restart (a `k8s.workload` TargetRef ref) and the
 * `application` (application_name) whose sessions belong to it; the remediator hands the rollout
 * restart to that workload when the signal names none. Markers are matched to a signal by
 * `database` (the signal target's ref) when they name one; the latest one at or before the
 * signal wins.
 *
 * @since 0.2.0
 */
import type { Signal } from "@byteport/core"
import { Config, Context, Effect, Layer, Ref, Schema } from "effect"

/** One deploy. */
export interface Marker {
  /** The revision that went out (commit SHA, image tag). */
  readonly sha: string
  /** When (epoch ms). */
  readonly at: number
  /** The `k8s.workload` ref that was rolled out (`<cluster>/<namespace>/Deployment/<name>`). */
  readonly workload?: string | undefined
  /** The application_name its sessions carry. */
  readonly application?: string | undefined
  /** The database target ref it concerns (default: any). */
  readonly database?: string | undefined
}

/** The Schema of a marker (configuration, webhook bodies). */
export const MarkerSchema = Schema.Struct({
  sha: Schema.String,
  at: Schema.Number,
  workload: Schema.optional(Schema.String),
  application: Schema.optional(Schema.String),
  database: Schema.optional(Schema.String)
})

/** A source of deploy markers. */
export interface Shape {
  /** The last deploy before the signal that concerns its database, or null. */
  readonly last: (signal: Signal.Signal) => Effect.Effect<Marker | null, unknown>
}

/** The deploy-marker service. */
export class DeployMarkers extends Context.Service<DeployMarkers, Shape>()("@byteport/db/DeployMarkers") {}

/** Pure: the latest marker at or before `at` that concerns `database` (markers naming no database concern all). */
export const latest = (markers: ReadonlyArray<Marker>, database: string, at: number): Marker | null =>
  markers
    .filter((m) => m.at <= at && (m.database === undefined || m.database === database))
    .reduce<Marker | null>((best, m) => (best === null || m.at > best.at ? m : best), null)

/** A source over fixed markers. */
export const staticSource = (markers: ReadonlyArray<Marker>): Shape => ({
  last: (signal) => Effect.succeed(latest(markers, signal.target.ref, signal.observedAt))
})

/** A source over any function (e.g. Kubernetes rollouts, wired by the user). */
export const fromFunction = (f: (signal: Signal.Signal) => Effect.Effect<Marker | null, unknown>): Shape => ({ last: f })

/** A webhook-fed in-memory source: `push` a marker when a deploy finishes. */
export interface Webhook extends Shape {
  /** Records a deploy (decoded with {@link MarkerSchema}: a webhook body is untrusted). */
  readonly push: (body: unknown) => Effect.Effect<Marker, Schema.SchemaError>
  /** Every marker pushed, oldest first. */
  readonly markers: Effect.Effect<ReadonlyArray<Marker>>
}

/** A new webhook-fed source (keeps the last `max`, default 100, markers). */
export const webhook = (max = 100): Effect.Effect<Webhook> =>
  Effect.map(Ref.make<ReadonlyArray<Marker>>([]), (ref) => ({
    push: (body) =>
      Effect.flatMap(Schema.decodeUnknownEffect(MarkerSchema)(body), (m) =>
        Effect.as(Ref.update(ref, (xs) => [...xs, m].slice(-max)), m)),
    markers: Ref.get(ref),
    last: (signal) => Effect.map(Ref.get(ref), (xs) => latest(xs, signal.target.ref, signal.observedAt))
  }))

/** The markers of `BYTEPORT_DEPLOY_MARKERS` (a JSON array of markers; absent: none). */
export const markersConfig: Config.Config<ReadonlyArray<Marker>> = Config.schema(
  Schema.fromJsonString(Schema.Array(MarkerSchema)),
  "BYTEPORT_DEPLOY_MARKERS"
).pipe(Config.withDefault([] as ReadonlyArray<Marker>))

/** A source read from configuration (re-read at every signal, so a pipeline may update it). */
export const fromConfig: Shape = {
  last: (signal) =>
    Effect.gen(function*() {
      return latest(yield* markersConfig, signal.target.ref, signal.observedAt)
    })
}

/** A layer of the service over a source. */
export const layer = (source: Shape): Layer.Layer<DeployMarkers> => Layer.succeed(DeployMarkers, source)

/** The service over a source (to provide directly). */
export const make = (source: Shape): Shape => source
