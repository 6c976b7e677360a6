import { assert, describe, it } from "@effect/vitest"
import { Catalog } from "@byteport/core"
import { Effect, Redacted, Stream } from "effect"
import { CloudCatalog, SentryClassify, SentryIssues } from "@byteport/cloud"
import * as C from "./cases"
import * as H from "./harness"

describe("deploy.sentry.classify in the catalog and behind its HTTP receiver", () => {
  it("family deploy, off by default, on with enable", () => {
    const runbooks = { "deploy.github-actions": { repo: "acme/shop" }, "deploy.sentry.classify": { org: "acme", projects: ["shop"] } }
    const signal = SentryIssues.signalOf("acme", "shop", "42", "poll", 0)
    const off = CloudCatalog.make({ runbooks })
    assert.strictEqual(off.entries.find((e) => e.runbook.id === SentryClassify.ID)?.runbook.family, "deploy")
    assert.isUndefined(Catalog.route(off, [signal]))
    assert.strictEqual(Catalog.route(CloudCatalog.make({ runbooks, enable: [SentryClassify.ID] }), [signal])?.runbook.id, SentryClassify.ID)
  })

  it.effect("the receiver answers a signed POST 202 and emits the issue's signal; an unsigned one 401", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const id = fake.capture({ project: H.PROJECT, ...C.novel })
        const receiver = yield* SentryIssues.webhook({ secret: Redacted.make("cs"), org: "acme", projects: [H.PROJECT] })
        const post = (headers: Record<string, string>, body: string) =>
          Effect.promise(async () => (await fetch(receiver.url, { method: "POST", headers, body })).status)
        const d = fake.webhook(id, "issue", "cs")
        assert.strictEqual(yield* post({ ...d.headers, "sentry-hook-signature": "0".repeat(64) }, d.body), 401)
        assert.strictEqual(yield* post(d.headers, d.body), 202)
        const got = yield* Stream.runCollect(Stream.take(receiver.detector.signals, 1))
        assert.deepStrictEqual([...got].map((s) => (s as { evidence: { issueId: string } }).evidence.issueId), [id])
      }).pipe(Effect.scoped, Effect.provide(H.layer(fake)))
    ))
})
