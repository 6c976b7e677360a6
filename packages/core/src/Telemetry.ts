/**
 * OpenTelemetry for BytePort through Effect's own OTLP exporters (`effect/observability`): traces,
 * metrics and (optionally) logs over OTLP/HTTP, JSON or protobuf, configured by the standard
 * `OTEL_*` variables — no OpenTelemetry SDK.
 *
 * - **Traces.** Every closed incident becomes a span `byteport.incident` (from the signal's
 *   `observedAt` to the close; runbook id, incident id, mode, status, class, confidence, target)
 *   with a child per step of its timeline (`byteport.step.<phase>`, with the role that ran it) and
 *   one per guardrail decision (`byteport.guardrail`), action outcome (`byteport.action`) and
 *   verification verdict (`byteport.verify`). The incident span is a child of the span that ran
 *   the incident (`byteport.runbook.handle`), when there is one.
 * - **Metrics.** `byteport.incidents` (by runbook, status, class), `byteport.actions` (by kind and
 *   outcome status), `byteport.denials` (by guardrail and action kind), `byteport.mttr` (seconds
 *   from the signal to a verified recovery, a histogram) and `byteport.detection_lag` (seconds from
 *   the signal's `observedAt` to the incident's start, a histogram).
 * - **Redaction.** The exporting tracer and logger are wrapped by the {@link Redactor} (span names,
 *   attributes, events and failure causes; log messages, causes and annotations), so no secret
 *   reaches a collector; attributes carry ids, kinds and names only, never evidence or facts.
 *
 * Without one of these layers, the spans go to whatever tracer is installed (Effect's no-op
 * default) and the metrics stay in Effect's in-process registry.
 *
 * @since 0.2.0
 */
import { Config, Context, Duration, Effect, Exit, Layer, Logger, Metric, Option, Schema, Tracer } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import { OtlpExporter, OtlpLogger, OtlpMetrics, OtlpSerialization, OtlpTracer } from "effect/observability"
import type { IncidentReport } from "./IncidentReport"
import * as Redactor from "./Redactor"

/** The OTLP/HTTP encodings BytePort exports (`OTEL_EXPORTER_OTLP_PROTOCOL`; gRPC is not offered). */
export type Protocol = "http/protobuf" | "http/json"

/** Options of {@link layer}. */
export interface Options {
  /** The collector's base URL (`http://127.0.0.1:4318`): `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended. */
  readonly endpoint: string
  /** Per-signal URLs used as given (the `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` variables); each defaults to endpoint + path. */
  readonly tracesEndpoint?: string | undefined
  /** See `tracesEndpoint`. */
  readonly metricsEndpoint?: string | undefined
  /** See `tracesEndpoint`. */
  readonly logsEndpoint?: string | undefined
  /** The encoding (default `http/protobuf`, the OTLP default). */
  readonly protocol?: Protocol | undefined
  /** `service.name`; default `OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else `byteport-agent`. */
  readonly serviceName?: string | undefined
  /** `service.version`. */
  readonly serviceVersion?: string | undefined
  /** Further resource attributes (`OTEL_RESOURCE_ATTRIBUTES` is merged by Effect's exporter). */
  readonly resourceAttributes?: Readonly<Record<string, string>> | undefined
  /** Request headers (an API key of the collector): sent, never logged. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Which signals to export (default all three; logs are the agent's Effect logs, redacted). */
  readonly signals?: { readonly traces?: boolean; readonly metrics?: boolean; readonly logs?: boolean } | undefined
  /** How often batches are sent (default 5 seconds; everything pending is flushed when the layer closes). */
  readonly exportInterval?: Duration.Input | undefined
  /** The redactor (default: the `Redactor` defaults). */
  readonly redactor?: Redactor.Shape | undefined
}

const joinUrl = (base: string, path: string): string => `${base.replace(/\/+$/, "")}${path}`

/**
 * Exports BytePort's traces, metrics and logs to an OTLP/HTTP collector, redacted. Provide it
 * to the agent (`Agent.run(…).pipe(Effect.provide(Telemetry.layer({ endpoint })))`); everything
 * pending is sent when the layer's scope closes.
 */
export const layer = (options: Options): Layer.Layer<never> =>
  Layer.unwrap(Effect.map(serviceNameFromEnv, (fromEnv) => layerWith(options, options.serviceName ?? fromEnv ?? "byteport-agent")))

/** `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES` (unreadable values count as unset). */
const serviceNameFromEnv: Effect.Effect<string | undefined> = Effect.gen(function*() {
  const name = yield* Config.option(Config.String("OTEL_SERVICE_NAME"))
  if (Option.isSome(name) && name.value.trim() !== "") return name.value.trim()
  const attrs = yield* Config.option(Config.String("OTEL_RESOURCE_ATTRIBUTES"))
  if (Option.isNone(attrs)) return undefined
  for (const part of attrs.value.split(",")) {
    const i = part.indexOf("=")
    if (i > 0 && part.slice(0, i).trim() === "service.name") return decodeURIComponent(part.slice(i + 1).trim())
  }
  return undefined
}).pipe(Effect.orElseSucceed(() => undefined))

const layerWith = (options: Options, serviceName: string): Layer.Layer<never> => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const resource = {
    serviceName,
    ...(options.serviceVersion ? { serviceVersion: options.serviceVersion } : {}),
    ...(options.resourceAttributes ? { attributes: { ...options.resourceAttributes } } : {})
  }
  const common = {
    resource,
    ...(options.headers ? { headers: { ...options.headers } } : {}),
    ...(options.exportInterval !== undefined ? { exportInterval: options.exportInterval } : {})
  }
  const signals = { traces: true, metrics: true, logs: true, ...options.signals }
  const layers: Array<Layer.Layer<never, never, OtlpExporter.Flusher | OtlpSerialization.OtlpSerialization | HttpClient.HttpClient>> = []
  if (signals.traces) {
    layers.push(
      Layer.effect(Tracer.Tracer)(
        Effect.map(
          OtlpTracer.make({ ...common, url: options.tracesEndpoint ?? joinUrl(options.endpoint, "/v1/traces") }),
          (t) => Redactor.tracer(redactor, t)
        )
      ) as unknown as Layer.Layer<never, never, OtlpExporter.Flusher | OtlpSerialization.OtlpSerialization | HttpClient.HttpClient>
    )
  }
  if (signals.metrics) {
    layers.push(
      OtlpMetrics.layer({ ...common, url: options.metricsEndpoint ?? joinUrl(options.endpoint, "/v1/metrics") }) as unknown as Layer.Layer<never, never, OtlpSerialization.OtlpSerialization | HttpClient.HttpClient>
    )
  }
  if (signals.logs) {
    layers.push(
      Logger.layer([
        Effect.map(
          OtlpLogger.make({ ...common, url: options.logsEndpoint ?? joinUrl(options.endpoint, "/v1/logs"), excludeLogSpans: true }),
          (l) => Redactor.logger(redactor, l)
        )
      ], { mergeWithExisting: true })
    )
  }
  const serialization = options.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
  return Layer.mergeAll(Layer.empty, ...layers).pipe(
    Layer.provide(OtlpExporter.layerFlusher),
    Layer.provide(serialization),
    Layer.provide(FetchHttpClient.layer)
  )
}

/** An `OTEL_*` setting BytePort cannot honour (gRPC, an unknown protocol). */
export class TelemetryConfigError extends Schema.TaggedError<TelemetryConfigError>()("TelemetryConfigError", {
  variable: Schema.String,
  message: Schema.String
}) {}

const parseHeaders = (raw: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const part of raw.split(",")) {
    const i = part.indexOf("=")
    if (i <= 0) continue
    out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim())
  }
  return out
}

/**
 * The {@link Options} the standard variables describe, or `undefined` when nothing is to be
 * exported (`OTEL_SDK_DISABLED=true`, or no endpoint): `OTEL_EXPORTER_OTLP_ENDPOINT` and the
 * per-signal `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`
 * (`http/protobuf` default, `http/json`; `grpc` is refused), `OTEL_EXPORTER_OTLP_HEADERS`
 * (`k=v,k2=v2`, URL-encoded), `OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none` to turn a signal off,
 * `OTEL_BSP_SCHEDULE_DELAY` (ms). `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` are read
 * by Effect's exporters themselves.
 */
export const optionsFromEnv: Effect.Effect<Options | undefined, Config.ConfigError | TelemetryConfigError> = Effect.gen(function*() {
  const opt = (name: string) => Config.option(Config.String(name))
  const disabled = yield* Config.Boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false))
  if (disabled) return undefined
  const base = Option.getOrUndefined(yield* opt("OTEL_EXPORTER_OTLP_ENDPOINT"))
  const traces = Option.getOrUndefined(yield* opt("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
  const metrics = Option.getOrUndefined(yield* opt("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"))
  const logs = Option.getOrUndefined(yield* opt("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"))
  if (!base && !traces && !metrics && !logs) return undefined
  const protocolRaw = Option.getOrElse(yield* opt("OTEL_EXPORTER_OTLP_PROTOCOL"), () => "http/protobuf").trim()
  if (protocolRaw !== "http/protobuf" && protocolRaw !== "http/json") {
    return yield* new TelemetryConfigError({
      variable: "OTEL_EXPORTER_OTLP_PROTOCOL",
      message: `OTEL_EXPORTER_OTLP_PROTOCOL=${protocolRaw} is not supported: use http/protobuf or http/json (BytePort exports OTLP over HTTP only)`
    })
  }
  const on = (o: Option.Option<string>) => Option.match(o, { onNone: () => true, onSome: (v) => v.trim().toLowerCase() !== "none" })
  const headers = Option.map(yield* opt("OTEL_EXPORTER_OTLP_HEADERS"), parseHeaders)
  const delay = yield* Config.option(Config.Int("OTEL_BSP_SCHEDULE_DELAY"))
  const endpoint = base ?? traces ?? metrics ?? logs!
  return {
    endpoint,
    ...(traces ? { tracesEndpoint: traces } : {}),
    ...(metrics ? { metricsEndpoint: metrics } : {}),
    ...(logs ? { logsEndpoint: logs } : {}),
    protocol: protocolRaw,
    ...(Option.isSome(headers) ? { headers: headers.value } : {}),
    ...(Option.isSome(delay) ? { exportInterval: Duration.millis(delay.value) } : {}),
    signals: {
      traces: (base !== undefined || traces !== undefined) && on(yield* opt("OTEL_TRACES_EXPORTER")),
      metrics: (base !== undefined || metrics !== undefined) && on(yield* opt("OTEL_METRICS_EXPORTER")),
      logs: (base !== undefined || logs !== undefined) && on(yield* opt("OTEL_LOGS_EXPORTER"))
    }
  } satisfies Options
})

/**
 * {@link layer} configured from the standard `OTEL_*` variables ({@link optionsFromEnv}); an
 * empty layer when no endpoint is set or `OTEL_SDK_DISABLED=true`. Fails at construction with a
 * `ConfigError` or `TelemetryConfigError` naming the variable.
 */
export const layerFromEnv = (overrides: Omit<Partial<Options>, "endpoint"> = {}): Layer.Layer<never, Config.ConfigError | TelemetryConfigError> =>
  Layer.unwrap(
    Effect.map(optionsFromEnv, (o) => (o === undefined ? Layer.empty : layer({ ...o, ...overrides, signals: { ...o.signals, ...overrides.signals } })))
  )

// ---------------------------------------------------------------------------------------------
// metrics

/** Incidents closed, by `runbook`, `status` and `class`. */
export const incidents = Metric.counter("byteport.incidents", { description: "incidents closed, by runbook, status and class", incremental: true })
/** Action outcomes, by `kind` and `status`. */
export const actions = Metric.counter("byteport.actions", { description: "action outcomes, by action kind and outcome status", incremental: true })
/** Guardrail denials, by `guardrail` and `kind`. */
export const denials = Metric.counter("byteport.denials", { description: "guardrail denials, by guardrail and action kind", incremental: true })
/** Seconds from the signal to a verified recovery (incidents that recovered). */
export const mttr = Metric.histogram("byteport.mttr", {
  description: "seconds from the signal's observedAt to a verified recovery",
  boundaries: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]
})
/** Seconds from the signal's `observedAt` to the incident's start. */
export const detectionLag = Metric.histogram("byteport.detection_lag", {
  description: "seconds from the signal's observedAt to the incident's start",
  boundaries: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300]
})

// ---------------------------------------------------------------------------------------------
// one incident

/** The role that runs a timeline phase (the span attribute `byteport.role`). */
export const roleOf = (phase: string): string => {
  switch (phase) {
    case "detect":
      return "detector"
    case "diagnose":
      return "diagnoser"
    case "classify":
      return "classifier"
    case "plan":
      return "remediator"
    case "guardrails":
      return "guardrail"
    case "act":
      return "executor"
    case "verify":
      return "verifier"
    case "approval":
      return "approval"
    case "handoff":
      return "hand-off"
    case "propose":
      return "remediator"
    case "escalate":
      return "escalation"
    default:
      return "runbook"
  }
}

const nanos = (ms: number): bigint => BigInt(Math.max(0, Math.round(ms))) * 1_000_000n

/**
 * Records one closed incident: its spans (see the module doc) through the current tracer, and
 * the metrics. Never fails: telemetry cannot break an incident.
 */
export const recordIncident = (report: IncidentReport): Effect.Effect<void> =>
  Effect.gen(function*() {
    const cls = report.classification
    const className = cls && cls._tag === "Classified" ? cls.class : cls ? cls._tag.toLowerCase() : "none"
    yield* Metric.update(Metric.withAttributes(incidents, { runbook: report.runbook, status: report.status, class: className }), 1)
    for (const o of report.outcomes) yield* Metric.update(Metric.withAttributes(actions, { kind: o.kind, status: o.status }), 1)
    for (const d of report.decisions) {
      if (d.decision === "deny") yield* Metric.update(Metric.withAttributes(denials, { guardrail: d.guardrail ?? "unnamed", kind: d.actionKind }), 1)
    }
    const observedAt = report.signal.observedAt
    if (report.status === "recovered") yield* Metric.update(Metric.withAttributes(mttr, { runbook: report.runbook }), Math.max(0, (report.endedAt - observedAt) / 1000))
    if (report.status !== "duplicate") {
      yield* Metric.update(Metric.withAttributes(detectionLag, { runbook: report.runbook }), Math.max(0, (report.startedAt - observedAt) / 1000))
    }

    const tracer = yield* Effect.tracer
    const parent = yield* Effect.option(Effect.currentSpan)
    const start = Math.min(observedAt, report.startedAt)
    const open = (name: string, at: number, parentSpan: Option.Option<Tracer.AnySpan>, attributes: Record<string, unknown>) => {
      const span = tracer.span({
        name,
        parent: parentSpan,
        annotations: Context.empty(),
        links: [],
        startTime: nanos(at),
        kind: "internal",
        root: Option.isNone(parentSpan),
        sampled: true
      })
      for (const [k, v] of Object.entries(attributes)) if (v !== undefined) span.attribute(k, v)
      return span
    }
    const incidentSpan = open("byteport.incident", start, parent, {
      "byteport.runbook.id": report.runbook,
      "byteport.incident.id": report.incidentId,
      "byteport.mode": report.mode,
      "byteport.status": report.status,
      "byteport.signal.type": report.signal.type,
      "byteport.target.kind": report.signal.target.kind,
      "byteport.target.ref": report.signal.target.ref,
      "byteport.class": className,
      "byteport.confidence": cls && cls._tag === "Classified" ? cls.confidence : undefined,
      "byteport.parent.incident.id": report.parent?.incidentId
    })
    const inside = Option.some(incidentSpan as Tracer.AnySpan)
    const common = { "byteport.runbook.id": report.runbook, "byteport.incident.id": report.incidentId, "byteport.mode": report.mode }
    const step = (name: string, from: number, to: number, attributes: Record<string, unknown>) =>
      open(name, from, inside, { ...common, ...attributes }).end(nanos(Math.max(from, to)), Exit.void)
    const timeline = report.timeline
    timeline.forEach((entry, i) => {
      const end = i + 1 < timeline.length ? timeline[i + 1]!.at : report.endedAt
      step(`byteport.step.${entry.phase}`, entry.at, end, { "byteport.phase": entry.phase, "byteport.role": roleOf(entry.phase) })
    })
    for (const d of report.decisions) {
      step("byteport.guardrail", d.at, d.at, {
        "byteport.role": "guardrail",
        "byteport.step": d.stepPath,
        "byteport.action.kind": d.actionKind,
        "byteport.guardrail": d.guardrail,
        "byteport.guardrail.phase": d.phase,
        "byteport.decision": d.decision
      })
    }
    for (const o of report.outcomes) {
      step("byteport.action", o.at, o.at, { "byteport.role": "executor", "byteport.step": o.stepPath, "byteport.action.kind": o.kind, "byteport.outcome": o.status })
    }
    for (const v of report.verdicts) step("byteport.verify", v.at, v.at, { "byteport.role": "verifier", "byteport.verdict": v._tag })
    incidentSpan.end(nanos(Math.max(start, report.endedAt)), Exit.void)
  }).pipe(Effect.catchCause(() => Effect.void))
