/**
 * The pod-family facts of a pod and what was read about it (its Events, its previous log), as
 * pure functions: `PodFixture.decode` (recorded `kubectl` output, `@byteport/k8s/testing`) and
 * the live diagnosers build the same facts through them. Kept out of the testing entry so a
 * runbook uses them without test-only dependencies.
 *
 * @since 0.4.0
 */
import { Fact } from "@byteport/core"
import type * as PodEvents from "./events"
import * as ImageIds from "./imageIds"
import * as Messages from "./messages"
import * as PodLogs from "./podLogs"
import type * as PodWire from "./podWire"
import * as Scheduling from "./scheduling"
import type * as Wire from "./wire"

/** What the facts are built from (a fixture's decoded files, or the live reads; absent → Unknown). */
export interface Loaded {
  readonly pod: PodWire.Pod
  readonly meta: { readonly container: string; readonly now: number }
  readonly events: ReadonlyArray<PodEvents.PodEvent> | undefined
  readonly previousLog: string | undefined
  readonly nodes: ReadonlyArray<Wire.Node> | undefined
  readonly replicaSets: ReadonlyArray<Wire.ReplicaSet> | undefined
}

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
