import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { TestConsole } from "effect/testing"
import * as Redactor from "../../src/Redactor"
import * as Sink from "../../src/sinks/Sink"
import * as SinkConfig from "../../src/sinks/SinkConfig"
import * as SinkMessage from "../../src/sinks/SinkMessage"
import { bundle, report } from "../report/fixture"
import * as Loopback from "./loopback"

const planMsg = SinkMessage.plan({
  incidentId: report.incidentId,
  runbook: report.runbook,
  plan: report.plan!,
  planDigest: report.planDigest!,
  decisions: [],
  outcomes: []
})

const provide = (env: Record<string, string>) => <A, E, R>(eff: Effect.Effect<A, E, R>) =>
  eff.pipe(
    Effect.provide(SinkConfig.layer.pipe(Layer.provide(Redactor.layerDefault))),
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))
  )

describe("SinkConfig", () => {
  it.live("routes plans to Slack, escalations to PagerDuty and tickets to the ticket webhook", () =>
    Effect.scoped(Effect.gen(function*() {
      const slack = yield* Loopback.scoped([{ status: 200, body: "ok" }])
      const pd = yield* Loopback.scoped([{ status: 202, body: "{\"status\":\"success\"}" }])
      const tickets = yield* Loopback.scoped([{ status: 201 }])
      yield* Effect.gen(function*() {
        yield* Sink.postToOpsChannel(planMsg)
        yield* Sink.page(SinkMessage.escalation(bundle))
        yield* Sink.openTicket(SinkMessage.ticket(SinkMessage.ticketFromEscalation(bundle)))
        const pager = yield* Sink.Pager
        // @ts-expect-error plans never page
        assert.strictEqual((yield* Effect.flip(pager.post(planMsg))).reason, "forbidden")
      }).pipe(
        provide({
          BYTEPORT_SLACK_WEBHOOK_URL: slack.url("/services/T/B/X"),
          BYTEPORT_PAGERDUTY_ROUTING_KEY: "rk-123",
          BYTEPORT_PAGERDUTY_URL: pd.url("/v2/enqueue"),
          BYTEPORT_TICKET_WEBHOOK_URL: tickets.url("/tickets"),
          BYTEPORT_SINK_RETRIES: "0"
        })
      )
      assert.deepStrictEqual(slack.requests.map((r) => r.url), ["/services/T/B/X"])
      assert.include(slack.requests[0]!.body, "Dry run")
      assert.deepStrictEqual(pd.requests.map((r) => r.url), ["/v2/enqueue"])
      assert.strictEqual(JSON.parse(pd.requests[0]!.body).routing_key, "rk-123")
      assert.deepStrictEqual(tickets.requests.map((r) => r.url), ["/tickets"])
    })))

  it.effect("without configuration: console ops channel; escalations and tickets fall back to it, plans still never page", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* Sink.postToOpsChannel(planMsg)
        yield* Sink.page(SinkMessage.escalation(bundle))
        const pager = yield* Sink.Pager
        // @ts-expect-error plans never page
        assert.strictEqual((yield* Effect.flip(pager.post(planMsg))).reason, "forbidden")
      }).pipe(provide({}))
      const lines = (yield* TestConsole.logLines).map(String)
      assert.strictEqual(lines.length, 2)
      assert.isTrue(lines[0]!.startsWith("[byteport] INFO plan:"))
      assert.isTrue(lines[1]!.startsWith("[byteport] CRITICAL escalation:"))
    }))
})
