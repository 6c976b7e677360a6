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
import * as ImageIds from "../probes/imageIds"
import * as Messages from "../probes/messages"
import * as PodLogs from "../probes/podLogs"
import * as PodWire from "../probes/podWire"
import * as Scheduling from "../probes/scheduling"
import * as Wire from "../probes/wire"
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

/** The facts a pod fixture gives (for the container named in `meta.json`). */
export interface PodFixtureFacts {
  readonly pod: PodWire.Pod
  /** The container's last termination (lastState, else state), parsed. */
  readonly termination: Messages.Termination | null
  /** The container's waiting reason and message. */
  readonly waiting: { readonly reason: string; readonly message: string | null } | null
  readonly events: ReadonlyArray<PodEvents.PodEvent>
  /** The latest FailedScheduling message, parsed (null when there is none). */
  readonly scheduling: Scheduling.FailedScheduling | null
  /** Probe failures and kills of the container, from the events. */
  readonly probeFailures: ReadonlyArray<Messages.ProbeFailure>
  /** What a CreateContainerConfigError is missing (from the waiting message, else the events). */
  readonly configError: Messages.ConfigError | null
  /** What an ErrImagePull says (from the waiting message, else the events). */
  readonly imagePull: Messages.PullFailure | null
  readonly previousLog: PodLogs.PreviousLog
  readonly imageIds: ReadonlyArray<ImageIds.ImageId>
}

/** kubectl's error line for a log it could not read (`Error from server (BadRequest): …`). */
export const KUBECTL_ERROR = /^Error from server \((\w+)\): (.*)$/

/** The previous-log fact of a recorded `previous.log`: Known (redacted), or Unknown when absent or kubectl's error. */
export const previousLogFact = (text: string | undefined, container: string): Fact.Fact<PodLogs.PreviousLog> => {
  if (text === undefined) return Fact.unknown(PodLogs.PROBE, "not recorded: previous.log missing from the fixture")
  const err = KUBECTL_ERROR.exec(text.split("\n")[0]!.trim())
  if (err) return Fact.unknown(PodLogs.PROBE, `${err[1] === "NotFound" ? "the pod is gone" : "no previous instance"}: ${err[2]}`)
  return Fact.known({ ...PodLogs.redactLog(text), container })
}

const notRecorded = (probe: string, file: string) => Fact.unknown(probe, `not recorded: ${file} missing from the fixture`)

/** Decodes a fixture directory into Facts (Unknown where an optional file is missing). */
export const decode = (dir: string): Effect.Effect<Fact.Facts<PodFixtureFacts>, FixtureError> => Effect.map(load(dir), factsOf)

/** The facts of a fixture's decoded files (pure; live probes build the same from the objects they read). */
export const factsOf = (x: Loaded): Fact.Facts<PodFixtureFacts> => {
    const container = x.meta.container
    const cs = [...(x.pod.status?.containerStatuses ?? []), ...(x.pod.status?.initContainerStatuses ?? [])].find((c) => c.name === container)
    const t = cs?.lastState?.terminated ?? cs?.state?.terminated
    const w = cs?.state?.waiting
    const waiting = w?.reason !== undefined ? { reason: w.reason, message: w.message ?? null } : null
    const events = x.events
    const latest = (reason: string) => events?.filter((e) => e.reason === reason).at(-1)
    const failedScheduling = latest("FailedScheduling")
    const fromEvents = <A>(parse: (m: string) => A | undefined): A | null => {
      for (const e of [...(events ?? [])].reverse()) {
        if (e.type !== "Warning") continue
        const r = parse(e.message.replace(/^Error: /, "").replace(/^Failed to pull image "[^"]+": /, ""))
        if (r !== undefined) return r
      }
      return null
    }
    const configError = waiting?.reason === "CreateContainerConfigError" && waiting.message !== null
      ? Messages.configError(waiting.message) ?? null
      : fromEvents(Messages.configError)
    const pullEvent = events?.filter((e) => e.reason === "Failed" && e.message.startsWith("Failed to pull image")).at(-1)
    const imagePull = waiting?.reason === "ErrImagePull" && waiting.message !== null
      ? Messages.imagePull(waiting.message)
      : pullEvent !== undefined ? Messages.imagePull(pullEvent.message) : null
    return {
      pod: Fact.known(x.pod),
      termination: Fact.known(t !== undefined ? Messages.termination(t) : null),
      waiting: Fact.known(waiting),
      events: events !== undefined ? Fact.known(events) : notRecorded("pod events", "events.json"),
      scheduling: events !== undefined ? Fact.known(failedScheduling !== undefined ? Scheduling.parse(failedScheduling.message) ?? null : null) : notRecorded("scheduler message", "events.json"),
      probeFailures: events !== undefined
        ? Fact.known(events.filter((e) => e.container === null || e.container === container).flatMap((e) => {
          const p = Messages.probe(e.message)
          return p !== undefined ? [p] : []
        }))
        : notRecorded("probe failures", "events.json"),
      configError: waiting?.reason === "CreateContainerConfigError" || events !== undefined ? Fact.known(configError) : notRecorded("config error", "events.json"),
      imagePull: waiting?.reason === "ErrImagePull" || events !== undefined ? Fact.known(imagePull) : notRecorded("image pull error", "events.json"),
      previousLog: previousLogFact(x.previousLog, container),
      imageIds: Fact.known(ImageIds.imageIdsOf(x.pod))
    }
}
