/**
 * Recorded pod fixtures → the pod-family facts, through the same pure functions the live probes
 * use. A fixture is a directory of what `kubectl` prints:
 *
 * | file | content | command |
 * |---|---|---|
 * | `pod.json` | the Pod (required) | `kubectl get pod <p> -o json` |
 * | `meta.json` | `{ container, now }` (required; `now` in epoch ms) | |
 * | `events.json` | the pod's Events, a List of core/v1 or events.k8s.io/v1 Events | `kubectl get events --field-selector involvedObject.name=<p> -o json` |
 * | `previous.log` | the previous container's log, or kubectl's error when there is none | `kubectl logs <p> -c <c> --previous > previous.log 2>&1` |
 * | `nodes.json` | the Nodes (a List) | `kubectl get nodes -o json` |
 * | `replicasets.json` | the namespace's ReplicaSets (a List) | `kubectl get rs -o json` |
 *
 * A missing optional file makes the facts that need it Unknown; a `previous.log` holding kubectl's
 * `Error from server (BadRequest): previous terminated container "api" in pod "…" not found`
 * makes `previousLog` Unknown with that reason (the previous instance is gone), as the live probe. A malformed file fails
 * with core's `FixtureError` naming the file and the bad field's path. The fixtures shipped
 * with the package are under `fixtures/pod/<name>` (`recorded(name)`, `names()`).
 *
 * @example
 * ```ts
 * import { PodFixture } from "@byteport/k8s/testing"
 * const facts = yield* PodFixture.decode(yield* PodFixture.recorded("bad_image_or_tag"))
 * facts.imagePull // Known({ cause: "not_found", … })
 * ```
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Fact } from "@byteport/core"
import { type FixtureError, loadFixture } from "@byteport/core/testing"
import { Effect, Schema } from "effect"
import * as PodEvents from "../probes/events"
import * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"
import { factsOf, type PodFixtureFacts } from "../probes/podFixtureFacts"
import * as Recorded from "./Recorded"

/** The family directory of the pod fixtures (`fixtures/pod`). */
export const FAMILY = "pod"

/** The names of the pod fixtures shipped with `@byteport/k8s`. */
export const names = (): ReadonlyArray<string> => Recorded.names(FAMILY)

/** The directory of a shipped pod fixture; an unknown name fails with `UnknownFixture`. */
export const recorded = (name: string): Effect.Effect<string, Recorded.UnknownFixture> => Recorded.resolve(FAMILY, name)

/** `meta.json`. */
export const Meta = Schema.Struct({ container: Schema.String, now: Schema.Number })

/** The raw decoded files of a fixture (optional files `undefined` when absent). */
export interface Loaded {
  readonly pod: PodWire.Pod
  readonly meta: typeof Meta.Type
  readonly events: ReadonlyArray<PodEvents.PodEvent> | undefined
  readonly previousLog: string | undefined
  readonly nodes: ReadonlyArray<Wire.Node> | undefined
  readonly replicaSets: ReadonlyArray<Wire.ReplicaSet> | undefined
}

/** Loads and decodes a fixture directory's files. */
export const load = (dir: string): Effect.Effect<Loaded, FixtureError> =>
  Effect.gen(function*() {
    const f = (name: string) => path.join(dir, name)
    const optional = <A>(schema: Schema.Codec<A, unknown>, name: string): Effect.Effect<A | undefined, FixtureError> =>
      fs.existsSync(f(name)) ? loadFixture(schema, f(name)) : Effect.succeed(undefined)
    const pod = yield* loadFixture(PodWire.Pod as Schema.Codec<PodWire.Pod, unknown>, f("pod.json"))
    const meta = yield* loadFixture(Meta as Schema.Codec<typeof Meta.Type, unknown>, f("meta.json"))
    const events = yield* optional(Wire.List(PodEvents.AnyEvent) as unknown as Schema.Codec<{ readonly items: ReadonlyArray<typeof PodEvents.AnyEvent.Type> }, unknown>, "events.json")
    const nodes = yield* optional(Wire.List(Wire.Node) as unknown as Schema.Codec<{ readonly items: ReadonlyArray<Wire.Node> }, unknown>, "nodes.json")
    const replicaSets = yield* optional(Wire.List(Wire.ReplicaSet) as unknown as Schema.Codec<{ readonly items: ReadonlyArray<Wire.ReplicaSet> }, unknown>, "replicasets.json")
    const previousLog = fs.existsSync(f("previous.log")) ? fs.readFileSync(f("previous.log"), "utf8") : undefined
    return {
      pod,
      meta,
      events: events === undefined ? undefined : PodEvents.chronological(events.items.map(PodEvents.normalize)),
      previousLog,
      nodes: nodes?.items,
      replicaSets: replicaSets?.items
    }
  })

export { factsOf, KUBECTL_ERROR, type PodFixtureFacts, previousLogFact } from "../probes/podFixtureFacts"

/** Decodes a fixture directory into Facts (Unknown where an optional file is missing). */
export const decode = (dir: string): Effect.Effect<Fact.Facts<PodFixtureFacts>, FixtureError> => Effect.map(load(dir), factsOf)
