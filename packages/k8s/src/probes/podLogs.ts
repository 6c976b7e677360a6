/**
 * The previous container's log (`kubectl logs --previous`), redacted by core's Redactor before
 * anything keeps it: a crash's last lines (a panic, a stack trace, "connection refused") are
 * facts, the secrets printed next to them are not. When the previous instance is gone (the pod
 * was deleted or replaced, the container never terminated, or the runtime rotated the log) the
 * fact is Unknown with the API's reason, never an empty log.
 *
 * @example
 * ```ts
 * import { PodLogs } from "@byteport/k8s"
 * const log = yield* PodLogs.previous("shop", "web-7d9f-abcde", "app")   // Fact<PreviousLog>
 * ```
 *
 * @since 0.1.0
 */
import { Fact, Redactor } from "@byteport/core"
import { Effect, Option } from "effect"
import { Kube } from "../Kube"

/** A redacted previous log. */
export interface PreviousLog {
  readonly container: string
  /** The last lines, redacted (each secret replaced by the Redactor's marker). */
  readonly lines: ReadonlyArray<string>
  /** Whether the log was cut to `tailLines`. */
  readonly truncated: boolean
  /** How many secrets were replaced. */
  readonly redactions: number
}

/** Options of `previous`. */
export interface Options {
  /** Lines kept from the end (default 200). */
  readonly tailLines?: number | undefined
  /** Bytes read at most (default 256 KiB). */
  readonly limitBytes?: number | undefined
}

/** The probe's name in Unknown facts. */
export const PROBE = "previous container log"

/** Redacts log text line by line (pure): the lines and how many secrets were replaced. */
export const redactLog = (text: string, redactor: Redactor.Shape = Redactor.defaultRedactor, tailLines = 200): PreviousLog & { readonly container: "" } => {
  const all = text.split("\n")
  if (all.length > 0 && all[all.length - 1] === "") all.pop()
  const kept = all.slice(-tailLines)
  let redactions = 0
  const lines = kept.map((l) => {
    const r = redactor.redactString(l)
    if (r !== l) redactions += r.split(redactor.marker).length - 1 - (l.split(redactor.marker).length - 1)
    return r
  })
  return { container: "", lines, truncated: all.length > kept.length, redactions }
}

/**
 * The previous instance's log of a container, redacted (core's `Redactor` service when provided,
 * else its default). Unknown when there is no previous instance or the pod is gone.
 */
export const previous = (namespace: string, pod: string, container: string, options: Options = {}): Effect.Effect<Fact.Fact<PreviousLog>, never, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const service = yield* Effect.serviceOption(Redactor.Redactor)
    const redactor = Option.getOrElse(service, () => Redactor.defaultRedactor)
    const tailLines = options.tailLines ?? 200
    return yield* kube.podLogs(namespace, pod, { container, previous: true, tailLines, limitBytes: options.limitBytes ?? 256 * 1024 }).pipe(
      Effect.map((text): Fact.Fact<PreviousLog> => Fact.known({ ...redactLog(text, redactor, tailLines), container })),
      Effect.catch((e) =>
        Effect.succeed(Fact.unknown(PROBE, `${namespace}/${pod}/${container}: ${e._tag === "KubeNotFound" ? "the pod is gone" : e._tag === "KubeBadRequest" ? "no previous instance" : e._tag}: ${redactor.redactString(e.message)}`))
      )
    )
  })
