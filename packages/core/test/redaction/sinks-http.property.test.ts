import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import fc from "fast-check"
import * as PagerDutySink from "../../src/sinks/PagerDutySink"
import * as SlackSink from "../../src/sinks/SlackSink"
import * as TicketWebhookSink from "../../src/sinks/TicketWebhookSink"
import * as WebhookSink from "../../src/sinks/WebhookSink"
import * as Loopback from "../sinks/loopback"
import { plantedMessages } from "./carriers"
import { assertNoSecrets, plant } from "./plant"

const runs = Number(process.env.REDACTION_RUNS_HTTP ?? 25)

describe("redaction on the wire", () => {
  it.live("no planted secret reaches any sink's HTTP body (webhook, Slack, PagerDuty, ticket webhook)", () =>
    Effect.scoped(Effect.gen(function*() {
      const lb = yield* Loopback.scoped([{ status: 200, body: "ok" }])
      const pd = yield* Loopback.scoped([{ status: 202, body: JSON.stringify({ status: "success", dedup_key: "d" }) }])
      const fast = { backoffMs: 5, timeoutMs: 2_000, retries: 0 }
      const webhook = WebhookSink.make({ url: lb.url("/ops"), ...fast })
      const slack = SlackSink.make({ webhookUrl: Redacted.make(lb.url("/services/T/B/X")), ...fast })
      const pager = PagerDutySink.make({ routingKey: Redacted.make("routing-key-under-test"), url: pd.url("/v2/enqueue"), ...fast })
      const tickets = TicketWebhookSink.make({ url: lb.url("/tickets"), ...fast })
      let requests = 0
      for (const p of fc.sample(plant, runs)) {
        lb.requests.length = 0
        pd.requests.length = 0
        // The posts of one sample go out together: the test is bound by loopback round trips.
        yield* Effect.forEach(
          plantedMessages(p).flatMap((m) => [
            webhook.post(m),
            slack.post(m),
            ...(m.kind === "escalation" ? [pager.post(m)] : []),
            ...(m.kind === "ticket" ? [tickets.post(m)] : [])
          ]),
          (post) => post,
          { concurrency: "unbounded", discard: true }
        )
        const all = [...lb.requests, ...pd.requests]
        requests += all.length
        assert.strictEqual(all.length, 6 * 2 + 1 + 2)
        for (const req of all) assertNoSecrets(p, req.body, `HTTP body ${req.url}`)
        assert.strictEqual(JSON.parse(pd.requests[0]!.body).routing_key, "routing-key-under-test")
      }
      assert.strictEqual(requests, runs * 15)
    })), 120_000)
})
