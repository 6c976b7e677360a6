import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as PagerDutySink from "../../src/sinks/PagerDutySink"
import * as Sink from "../../src/sinks/Sink"
import * as SinkMessage from "../../src/sinks/SinkMessage"
import * as SlackSink from "../../src/sinks/SlackSink"
import * as TicketWebhookSink from "../../src/sinks/TicketWebhookSink"
import * as WebhookSink from "../../src/sinks/WebhookSink"
import { bundle, report } from "../report/fixture"
import * as Loopback from "./loopback"

const planMsg = SinkMessage.plan({
  incidentId: report.incidentId,
  runbook: report.runbook,
  plan: report.plan!,
  planDigest: report.planDigest!,
  target: report.signal.target,
  decisions: report.decisions,
  outcomes: []
})
const escMsg = SinkMessage.escalation(bundle)
const ticket = SinkMessage.ticketFromEscalation(bundle)
const fast = { backoffMs: 5, timeoutMs: 2_000 }

describe("WebhookSink", () => {
  it.live("POSTs the JSON body with the configured headers (Redacted values revealed on the wire only)", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 204 }])
      const sink = WebhookSink.make({ url: lb.url("/hooks/ops"), headers: { "X-Team": "sre", Authorization: Redacted.make("Bearer s3cr3t-t0ken") }, ...fast })
      yield* sink.post(planMsg)
      assert.strictEqual(lb.requests.length, 1)
      const req = lb.requests[0]!
      assert.strictEqual(req.method, "POST")
      assert.strictEqual(req.url, "/hooks/ops")
      assert.strictEqual(req.headers["content-type"], "application/json")
      assert.strictEqual(req.headers["x-team"], "sre")
      assert.strictEqual(req.headers["authorization"], "Bearer s3cr3t-t0ken")
      const body = JSON.parse(req.body)
      assert.deepStrictEqual(Object.keys(body), ["kind", "severity", "title", "incidentId", "runbook", "text", "data"])
      assert.strictEqual(body.kind, "plan")
      assert.strictEqual(body.severity, "info")
      assert.strictEqual(body.title, `[dry_run] k8s.oom.six-signal: ${report.plan!.summary}`)
      assert.strictEqual(body.incidentId, report.incidentId)
      assert.include(body.text, "Nothing was changed")
      assert.include(body.text, "[k8s.patchMemoryLimit] raise memory limit")
      assert.strictEqual(body.data.planDigest, report.planDigest)
    })))

  it.live("retries 500 and 429 with backoff, then succeeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 500, body: "boom" }, { status: 429 }, { status: 200 }])
      yield* WebhookSink.make({ url: lb.url(), retries: 3, ...fast }).post(escMsg)
      assert.strictEqual(lb.requests.length, 3)
      assert.strictEqual(lb.requests[0]!.body, lb.requests[2]!.body)
    })))

  it.live("honours Retry-After on 429", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 429, headers: { "retry-after": "1" } }, { status: 200 }])
      const started = Date.now()
      yield* WebhookSink.make({ url: lb.url(), retries: 1, ...fast }).post(escMsg)
      assert.strictEqual(lb.requests.length, 2)
      assert.isAtLeast(Date.now() - started, 950)
    })))

  it.live("fails with a typed SinkError after the retries are spent", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 503, body: "unavailable" }])
      const err = yield* Effect.flip(WebhookSink.make({ url: lb.url("/secret-path-xyz"), retries: 2, name: "ops", ...fast }).post(escMsg))
      assert.strictEqual(err._tag, "SinkError")
      assert.strictEqual(err.reason, "http_status")
      assert.strictEqual(err.status, 503)
      assert.strictEqual(err.attempts, 3)
      assert.strictEqual(err.sink, "ops")
      assert.notInclude(err.message, "secret-path-xyz")
      assert.strictEqual(lb.requests.length, 3)
    })))

  it.live("does not retry a 4xx", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 400, body: "bad" }])
      const err = yield* Effect.flip(WebhookSink.make({ url: lb.url(), retries: 3, ...fast }).post(escMsg))
      assert.strictEqual(err.reason, "http_status")
      assert.strictEqual(err.status, 400)
      assert.isFalse(err.retryable)
      assert.strictEqual(lb.requests.length, 1)
    })))

  it.live("times out a slow endpoint", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 200, delayMs: 2_000 }])
      const started = Date.now()
      const err = yield* Effect.flip(WebhookSink.make({ url: lb.url(), retries: 1, backoffMs: 5, timeoutMs: 100 }).post(escMsg))
      assert.strictEqual(err.reason, "timeout")
      assert.strictEqual(err.attempts, 2)
      // two attempts cut at 100 ms each, far below one 2 s answer
      assert.isBelow(Date.now() - started, 1_500)
    })))

  it.live("a refused connection is a network SinkError; a bad URL a config one", () =>
    Effect.gen(function*() {
      const lb = yield* Effect.promise(() => Loopback.start())
      const url = lb.url()
      yield* Effect.promise(() => lb.close())
      const err = yield* Effect.flip(WebhookSink.make({ url, retries: 1, ...fast }).post(escMsg))
      assert.strictEqual(err.reason, "network")
      assert.strictEqual(err.attempts, 2)
      const bad = yield* Effect.flip(WebhookSink.make({ url: "not a url", ...fast }).post(escMsg))
      assert.strictEqual(bad.reason, "config")
      assert.strictEqual(bad.attempts, 1)
    }))
})

describe("SlackSink", () => {
  it.live("sends the incoming-webhook payload (text + blocks with mrkdwn sections) and accepts 200 ok", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 200, body: "ok" }])
      const sink = SlackSink.make({ webhookUrl: Redacted.make(lb.url("/services/T0/B0/XXXX")), ...fast })
      yield* sink.post(escMsg)
      yield* sink.post(planMsg)
      assert.strictEqual(lb.requests.length, 2)
      const [esc, plan] = lb.requests.map((r) => JSON.parse(r.body))
      assert.strictEqual(lb.requests[0]!.url, "/services/T0/B0/XXXX")
      assert.deepStrictEqual(Object.keys(esc), ["text", "blocks"])
      assert.strictEqual(esc.text, `:rotating_light: [critical] k8s.oom.six-signal: ${bundle.reason}`)
      assert.deepStrictEqual(esc.blocks[0], { type: "header", text: { type: "plain_text", text: `[critical] k8s.oom.six-signal: ${bundle.reason}`, emoji: true } })
      const sections = esc.blocks.filter((b: any) => b.type === "section")
      for (const s of sections) {
        assert.strictEqual(s.text.type, "mrkdwn")
        assert.isAtMost(s.text.text.length, 3000)
      }
      assert.include(sections.map((s: any) => s.text.text).join("\n"), "*Classification:* genuine_memory_leak (confidence 0.85)")
      assert.include(sections.map((s: any) => s.text.text).join("\n"), "1. review the attached heap profile")
      assert.strictEqual(esc.blocks.at(-1).type, "context")
      assert.include(esc.blocks.at(-1).elements[0].text, "incident `inc-20261128-0314-a`")
      assert.include(JSON.stringify(plan.blocks), "*Dry run*: nothing was changed")
      assert.include(JSON.stringify(plan.blocks), "rateLimit(1 bump/pod/24h)")
    })))

  it.live("escapes &, < and > in mrkdwn", () =>
    Effect.sync(() => {
      const p = SlackSink.payload(SinkMessage.notice({ title: "a<b", text: "x & <y>", severity: "warning" }))
      assert.strictEqual((p.blocks[1] as any).text.text, "x &amp; &lt;y&gt;")
    }))

  it.live("Slack's error answers: invalid_payload is not retried; 200 without ok is rejected", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 400, body: "invalid_payload" }])
      const e1 = yield* Effect.flip(SlackSink.make({ webhookUrl: lb.url(), ...fast }).post(escMsg))
      assert.strictEqual(e1.reason, "http_status")
      assert.strictEqual(e1.status, 400)
      assert.include(e1.message, "invalid_payload")
      assert.strictEqual(lb.requests.length, 1)
      lb.script([{ status: 200, body: "no_text" }])
      const e2 = yield* Effect.flip(SlackSink.make({ webhookUrl: lb.url(), ...fast }).post(escMsg))
      assert.strictEqual(e2.reason, "rejected")
      // an endpoint echoing the (secret) webhook path: the SinkError never shows it
      lb.script([{ status: 404, body: "no_service: /services/T9/B9/SECRETPATH123" }])
      const e3 = yield* Effect.flip(SlackSink.make({ webhookUrl: Redacted.make(lb.url("/services/T9/B9/SECRETPATH123")), ...fast }).post(escMsg))
      assert.strictEqual(e3.status, 404)
      assert.notInclude(e3.message, "SECRETPATH123")
      assert.include(e3.message, "no_service")
    })))
})

describe("PagerDutySink", () => {
  const ROUTING_KEY = "R0ut1ngK3y0000000000000000000000"

  it.live("POSTs an Events API v2 trigger and accepts 202 success", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 202, body: JSON.stringify({ status: "success", message: "Event processed", dedup_key: "x" }) }])
      const pager = PagerDutySink.make({
        routingKey: Redacted.make(ROUTING_KEY),
        url: lb.url("/v2/enqueue"),
        links: () => [{ href: "https://runbooks.example.com/k8s.oom.six-signal", text: "runbook" }],
        ...fast
      })
      yield* pager.post(escMsg)
      const req = lb.requests[0]!
      assert.strictEqual(req.method, "POST")
      assert.strictEqual(req.url, "/v2/enqueue")
      assert.strictEqual(req.headers["content-type"], "application/json")
      const body = JSON.parse(req.body)
      assert.deepStrictEqual(Object.keys(body), ["routing_key", "event_action", "dedup_key", "payload", "links", "client"])
      assert.strictEqual(body.routing_key, ROUTING_KEY)
      assert.strictEqual(body.event_action, "trigger")
      assert.strictEqual(body.dedup_key, "byteport/k8s.oom.six-signal/inc-20261128-0314-a")
      assert.deepStrictEqual(Object.keys(body.payload), ["summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"])
      assert.strictEqual(body.payload.summary, `[k8s.oom.six-signal] genuine_memory_leak on k8s.workload prod-eu/payments/Deployment/ledger/app: ${bundle.reason}`)
      assert.strictEqual(body.payload.source, "k8s.workload:prod-eu/payments/Deployment/ledger/app")
      assert.strictEqual(body.payload.severity, "critical")
      assert.strictEqual(body.payload.timestamp, "2026-11-28T03:16:11.000Z")
      assert.strictEqual(body.payload.group, "k8s.oom.six-signal")
      assert.strictEqual(body.payload.class, "genuine_memory_leak")
      assert.strictEqual(body.payload.custom_details.incident_id, bundle.incidentId)
      assert.deepStrictEqual(body.payload.custom_details.next_steps, bundle.nextSteps)
      assert.include(body.payload.custom_details.plan, "[k8s.patchMemoryLimit]")
      assert.deepStrictEqual(body.links, [{ href: "https://runbooks.example.com/k8s.oom.six-signal", text: "runbook" }])
      // the escalation's own secrets are redacted in the body
      assert.notInclude(req.body, "hunter2-Pg-Sx9")
    })))

  it.live("a 202 without status success, a 400 and a 5xx: typed errors that never carry the routing key", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 400, body: JSON.stringify({ status: "invalid event", message: `Event object is invalid: ${ROUTING_KEY}` }) }])
      const pager = PagerDutySink.make({ routingKey: ROUTING_KEY, url: lb.url("/v2/enqueue"), retries: 1, ...fast })
      const e400 = yield* Effect.flip(pager.post(escMsg))
      assert.strictEqual(e400.status, 400)
      assert.strictEqual(lb.requests.length, 1)
      lb.script([{ status: 502 }, { status: 500 }])
      const e5xx = yield* Effect.flip(pager.post(escMsg))
      assert.strictEqual(e5xx.attempts, 2)
      lb.script([{ status: 202, body: JSON.stringify({ status: "throttled" }) }])
      const e202 = yield* Effect.flip(pager.post(escMsg))
      assert.strictEqual(e202.reason, "rejected")
      for (const e of [e400, e5xx, e202]) assert.notInclude(JSON.stringify(e) + e.message + String(e), ROUTING_KEY)
    })))

  it.live("the default URL is the Events API v2 endpoint", () =>
    Effect.sync(() => assert.strictEqual(PagerDutySink.DEFAULT_URL, "https://events.pagerduty.com/v2/enqueue")))
})

describe("TicketWebhookSink", () => {
  it.live("POSTs the generic ticket shape", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 201, body: "{\"id\":42}" }])
      yield* TicketWebhookSink.make({ url: lb.url("/tickets"), ...fast }).post(SinkMessage.ticket(ticket))
      const body = JSON.parse(lb.requests[0]!.body)
      assert.deepStrictEqual(Object.keys(body), ["title", "body", "labels", "severity", "incidentId", "dedupKey"])
      assert.strictEqual(body.title, "genuine_memory_leak on k8s.workload prod-eu/payments/Deployment/ledger/app")
      assert.deepStrictEqual(body.labels, ["byteport", "runbook:k8s.oom.six-signal", "class:genuine_memory_leak"])
      assert.strictEqual(body.severity, "critical")
      assert.strictEqual(body.incidentId, bundle.incidentId)
      assert.strictEqual(body.dedupKey, "byteport:k8s.oom.six-signal:k8s.workload:prod-eu/payments/Deployment/ledger/app:genuine_memory_leak")
      assert.include(body.body, "# Escalation (critical): genuine_memory_leak")
    })))
})

describe("the pager guard", () => {
  it.live("a plan (or any non-escalation) can never reach a pager: forbidden before any request", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 202, body: "{\"status\":\"success\"}" }])
      const pd = PagerDutySink.make({ routingKey: "k", url: lb.url(), ...fast })
      const guardedWebhook = Sink.guardPager(WebhookSink.make({ url: lb.url(), ...fast }))
      for (const pager of [pd, guardedWebhook]) {
        for (const m of [planMsg, SinkMessage.report(report), SinkMessage.ticket(ticket), SinkMessage.notice({ title: "t", text: "x", severity: "critical" })]) {
          // @ts-expect-error a Pager accepts escalations only
          const err = yield* Effect.flip(pager.post(m))
          assert.strictEqual(err.reason, "forbidden")
          assert.strictEqual(err.attempts, 0)
        }
        // @ts-expect-error not even untyped junk
        assert.strictEqual((yield* Effect.flip(pager.post(null))).reason, "forbidden")
      }
      assert.strictEqual(lb.requests.length, 0)
      const tickets = TicketWebhookSink.make({ url: lb.url(), ...fast })
      // @ts-expect-error a ticket sink accepts tickets only
      assert.strictEqual((yield* Effect.flip(tickets.post(escMsg))).reason, "forbidden")
      assert.strictEqual(lb.requests.length, 0)
    })))

  it.live("the Pager layer guards any sink; the roles are separate services", () =>
    Effect.gen(function*() {
      const pagerMem = yield* Sink.memory("pager-mem")
      const opsMem = yield* Sink.memory("ops-mem")
      const ticketMem = yield* Sink.memory("ticket-mem")
      const program = Effect.gen(function*() {
        yield* Sink.postToOpsChannel(planMsg)
        yield* Sink.page(escMsg)
        yield* Sink.openTicket(SinkMessage.ticket(ticket))
        const pager = yield* Sink.Pager
        // @ts-expect-error the Pager's type admits escalations only
        return yield* Effect.flip(pager.post(planMsg))
      })
      const err = yield* program.pipe(
        Effect.provide(Sink.layerOpsChannel(opsMem)),
        Effect.provide(Sink.layerPager(pagerMem)),
        Effect.provide(Sink.layerTicketSink(ticketMem))
      )
      assert.strictEqual(err.reason, "forbidden")
      assert.deepStrictEqual((yield* opsMem.messages).map((m) => m.kind), ["plan"])
      assert.deepStrictEqual((yield* pagerMem.messages).map((m) => m.kind), ["escalation"])
      assert.deepStrictEqual((yield* ticketMem.messages).map((m) => m.kind), ["ticket"])
    }))

  it.live("fanOut posts to every sink and reports the first failure", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 500 }])
      const mem = yield* Sink.memory()
      const err = yield* Effect.flip(Sink.fanOut("all", [WebhookSink.make({ url: lb.url(), retries: 0, ...fast }), mem]).post(planMsg))
      assert.strictEqual(err.status, 500)
      assert.strictEqual((yield* mem.messages).length, 1)
    })))
})
