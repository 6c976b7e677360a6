/**
 * Telemetry over OTLP/HTTP against a loopback receiver that decodes both encodings: an incident
 * becomes a `byteport.incident` span (child of `byteport.runbook.handle`) with children per step,
 * guardrail decision, action and verdict, carrying the runbook id, incident id, class,
 * confidence, action kind, decision, mode and verdict; the metrics count incidents, actions and
 * denials and record MTTR and detection lag. Also: the standard `OTEL_*` variables, and
 * generated secrets planted everywhere an incident carries data never reach the collector.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import fc from "fast-check"
import { Action, Classifier, Diagnoser, Guardrail, Plan, Runbook, type Signal, TargetRef, Telemetry, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { asText, assertNoSecrets, plant } from "../redaction/plant"
import * as Receiver from "./receiver"

const target = TargetRef.make("svc", "shop/api")

interface Facts {
  readonly restarts: number
  readonly note: unknown
}

const world = (options: { readonly cap: number; readonly actions: number; readonly secret?: unknown; readonly id?: string }) => {
  const id = options.id ?? "test.telemetry"
  const kind = `${id}.restart`
  const handler = Testing.recordingHandler(kind, {
    guardrails: [Guardrail.perMinuteCap({ name: "restarts_per_minute_cap", key: Guardrail.keys.perTarget(kind), max: options.cap })]
  })
  const note = options.secret
  const text = note === undefined ? "" : typeof note === "string" ? note : JSON.stringify(note) ?? ""
  const runbook = Runbook.make<Facts>({
    id,
    signals: ["svc.crashloop"],
    diagnose: Diagnoser.make<Facts>({
      restarts: Diagnoser.probe("restarts", () =>
        Effect.logInfo(`probing restarts ${text}`).pipe(
          Effect.andThen(Effect.annotateCurrentSpan({ "probe.note": note ?? "none", password: text || "none" })),
          Effect.as(7),
          Effect.withSpan("user.probe")
        )),
      note: Diagnoser.probe("note", () => Effect.succeed(note ?? null))
    }),
    classify: Classifier.firstMatch([
      Classifier.rule<Facts>()({ class: "crash_loop", confidence: 0.86, needs: ["restarts"], when: (f) => ({ matched: f.restarts > 3, reasons: [`restarted ${f.restarts} times ${text}`] }) })
    ]),
    remediate: () =>
      Effect.succeed(
        Plan.make(
          id,
          "crash_loop",
          `restart ${options.actions} times`,
          Plan.seq(...Array.from({ length: options.actions }, (_, i) =>
            Plan.fallback(Plan.act(Action.make({ kind, target, params: { n: i, note: text }, description: `restart ${i} ${text}` })), Plan.seq(), { on: ["denied"] })))
        )
      ),
    verify: Verifier.fromChecks(() => Effect.succeed([{ name: "ready", ok: true, detail: `ready ${text}` }])),
    verifySchedule: Verifier.once("0 millis"),
    defaultMode: "auto"
  })
  return { handler, runbook, layer: Testing.layer({ handlers: [handler] }) }
}

const signal = (observedAt: number, evidence: Record<string, unknown> = {}): Signal.Signal => ({ type: "svc.crashloop", target, observedAt, evidence: evidence as never })

for (const protocol of ["http/protobuf", "http/json"] as const) {
  describe(`Telemetry over OTLP (${protocol})`, () => {
    it.live("an incident: its span tree with the attributes, and the metrics", () =>
      Effect.gen(function*() {
        const rx = yield* Effect.promise(() => Receiver.start())
        const id = `test.telemetry.${protocol === "http/json" ? "json" : "protobuf"}`
        const w = world({ cap: 2, actions: 3, id })
        const now = Date.now()
        const report = yield* Runbook.handle(w.runbook, signal(now - 1500), { incidentId: "inc-otel-1" }).pipe(
          Effect.provide(w.layer),
          Effect.provide(Telemetry.layer({ endpoint: rx.url, protocol, serviceName: "byteport-test" }))
        )
        if (Runbook.isAwaitingApproval(report)) return assert.fail("no approval expected")
        yield* Effect.promise(() => rx.close())
        assert.strictEqual(report.status, "recovered")
        assert.strictEqual(w.handler.writes.length, 2)

        const wanted = protocol === "http/json" ? "application/json" : "application/x-protobuf"
        for (const path of ["/v1/traces", "/v1/metrics", "/v1/logs"]) {
          const reqs = rx.received.filter((r) => r.path === path)
          assert.isAbove(reqs.length, 0, `${path} received`)
          for (const r of reqs) assert.include(r.contentType, wanted)
        }

        const spans = rx.spans()
        const handle = spans.find((s) => s.name === "byteport.runbook.handle")
        const incident = spans.find((s) => s.name === "byteport.incident")
        assert.isDefined(handle)
        assert.isDefined(incident)
        assert.strictEqual(incident!.parentSpanId, handle!.spanId)
        assert.strictEqual(incident!.traceId, handle!.traceId)
        assert.deepInclude(incident!.attributes, {
          "byteport.runbook.id": id,
          "byteport.incident.id": "inc-otel-1",
          "byteport.mode": "auto",
          "byteport.status": "recovered",
          "byteport.class": "crash_loop",
          "byteport.confidence": 0.86,
          "byteport.signal.type": "svc.crashloop",
          "byteport.target.kind": "svc",
          "byteport.target.ref": "shop/api"
        })
        // the incident span starts at the signal's observedAt (detection lag included)
        assert.strictEqual(incident!.startNanos, BigInt(now - 1500) * 1_000_000n)
        assert.isTrue(incident!.endNanos >= incident!.startNanos)

        const children = spans.filter((s) => s.parentSpanId === incident!.spanId)
        const steps = children.filter((s) => s.name.startsWith("byteport.step."))
        assert.deepStrictEqual(steps.map((s) => s.name), report.timeline.map((t) => `byteport.step.${t.phase}`))
        for (const s of steps) {
          assert.strictEqual(s.attributes["byteport.role"], Telemetry.roleOf(String(s.attributes["byteport.phase"])))
          assert.strictEqual(s.attributes["byteport.incident.id"], "inc-otel-1")
        }
        assert.includeMembers(steps.map((s) => s.attributes["byteport.role"]), ["detector", "remediator", "executor", "verifier"])
        const actions = children.filter((s) => s.name === "byteport.action")
        assert.deepStrictEqual(actions.map((s) => [s.attributes["byteport.action.kind"], s.attributes["byteport.outcome"]]), report.outcomes.map((o) => [`${id}.restart`, o.status]))
        assert.deepStrictEqual(actions.map((s) => s.attributes["byteport.outcome"]), ["applied", "applied", "denied"])
        const decisions = children.filter((s) => s.name === "byteport.guardrail")
        assert.strictEqual(decisions.length, report.decisions.length)
        const denied = decisions.filter((s) => s.attributes["byteport.decision"] === "deny")
        assert.strictEqual(denied.length, 1)
        assert.strictEqual(denied[0]!.attributes["byteport.guardrail"], "restarts_per_minute_cap")
        const verdicts = children.filter((s) => s.name === "byteport.verify")
        assert.deepStrictEqual(verdicts.map((s) => s.attributes["byteport.verdict"]), ["Recovered"])

        const points = rx.points()
        const point = (metric: string, attrs: Record<string, unknown>) =>
          points.filter((p) => p.metric === metric && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
        assert.strictEqual(point("byteport.incidents", { runbook: id, status: "recovered", class: "crash_loop" }).at(-1)?.value, 1)
        assert.strictEqual(point("byteport.actions", { kind: `${id}.restart`, status: "applied" }).at(-1)?.value, 2)
        assert.strictEqual(point("byteport.actions", { kind: `${id}.restart`, status: "denied" }).at(-1)?.value, 1)
        assert.strictEqual(point("byteport.denials", { guardrail: "restarts_per_minute_cap", kind: `${id}.restart` }).at(-1)?.value, 1)
        const mttr = point("byteport.mttr", { runbook: id }).at(-1)
        assert.strictEqual(mttr?.count, 1)
        assert.isAtLeast(mttr!.sum!, 1.5)
        const lag = point("byteport.detection_lag", { runbook: id }).at(-1)
        assert.strictEqual(lag?.count, 1)
        assert.isAtLeast(lag!.sum!, 1.5)

        // the agent's logs are exported too
        assert.isTrue(rx.logs().some((l) => String(l.body).includes("probing restarts")))
      }), { timeout: 30_000 })
  })
}

describe("Telemetry: the standard OTEL_* variables", () => {
  const read = (env: Record<string, string>) =>
    Telemetry.optionsFromEnv.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

  it.effect("no endpoint, or OTEL_SDK_DISABLED=true: nothing exported", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* read({}))
      assert.isUndefined(yield* read({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }))
    }))

  it.effect("endpoint, protocol, headers, per-signal endpoints and exporters", () =>
    Effect.gen(function*() {
      const o = yield* read({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc%3D1,tenant=ops",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://127.0.0.1:9999/custom/metrics",
        OTEL_LOGS_EXPORTER: "none",
        OTEL_BSP_SCHEDULE_DELAY: "250"
      })
      assert.strictEqual(o?.endpoint, "http://127.0.0.1:4318")
      assert.strictEqual(o?.protocol, "http/json")
      assert.deepStrictEqual(o?.headers, { "x-api-key": "abc=1", tenant: "ops" })
      assert.strictEqual(o?.metricsEndpoint, "http://127.0.0.1:9999/custom/metrics")
      assert.deepStrictEqual(o?.signals, { traces: true, metrics: true, logs: false })
      const d = yield* read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })
      assert.strictEqual(d?.protocol, "http/protobuf")
    }))

  it.effect("grpc is refused naming the variable", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }))
      assert.strictEqual(e._tag, "TelemetryConfigError")
      if (e._tag === "TelemetryConfigError") assert.strictEqual(e.variable, "OTEL_EXPORTER_OTLP_PROTOCOL")
    }))

  it.live("layerFromEnv exports to the configured endpoint", () =>
    Effect.gen(function*() {
      const rx = yield* Effect.promise(() => Receiver.start())
      const w = world({ cap: 5, actions: 1 })
      yield* Runbook.handle(w.runbook, signal(Date.now()), { incidentId: "inc-env" }).pipe(
        Effect.provide(w.layer),
        Effect.provide(Telemetry.layerFromEnv().pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_SERVICE_NAME: "from-env" } })))
        ))
      )
      yield* Effect.promise(() => rx.close())
      assert.isTrue(rx.spans().some((s) => s.name === "byteport.incident" && s.attributes["byteport.incident.id"] === "inc-env"))
      assert.include(rx.allText(), "from-env")
    }), { timeout: 30_000 })
})

describe("Telemetry: redaction of the exported payloads", () => {
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    it.live(`generated secrets planted in signal, facts, reasons, params, checks, span attributes and logs never reach the collector (${protocol})`, () =>
      Effect.gen(function*() {
        const samples = fc.sample(plant, { numRuns: Number(process.env.REDACTION_RUNS ?? 12), seed: protocol.length * 7919 })
        const rx = yield* Effect.promise(() => Receiver.start())
        const telemetry = Telemetry.layer({ endpoint: rx.url, protocol })
        yield* Effect.gen(function*() {
          for (const [i, p] of samples.entries()) {
            const w = world({ cap: 5, actions: 1, secret: p.value })
            yield* Runbook.handle(w.runbook, signal(Date.now(), { note: p.value, log: `exited ${asText(p)}` }), { incidentId: `inc-red-${i}` }).pipe(Effect.provide(w.layer))
          }
        }).pipe(Effect.provide(telemetry))
        yield* Effect.promise(() => rx.close())
        // not vacuous: every incident was exported, with a redaction marker somewhere
        const incidents = rx.spans().filter((s) => s.name === "byteport.incident")
        assert.strictEqual(incidents.length, samples.length)
        assert.include(rx.allText(), "[REDACTED]")
        const text = rx.allText()
        for (const p of samples) assertNoSecrets(p, text, `OTLP ${protocol} payloads`)
      }), { timeout: 60_000 })
  }
})
