import { type IncidentReport, Runbook, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Clock, ConfigProvider, Effect, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { Sentry } from "@byteport/cloud"
import { SentryFake } from "@byteport/cloud/testing"

export const T0 = Date.parse("2026-12-07T02:00:00.000Z")
export const PROJECT = "shop"

/** The fake on the TestClock: releases v1 (deployed an hour ago) and v2 (deployed at T0 + 1 h). */
export const withFake = <A, E, R>(f: (fake: SentryFake.SentryFake) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(T0)
    const clock = yield* Clock.clockWith((c) => Effect.succeed(c))
    return yield* Effect.acquireUseRelease(
      Effect.promise(() => SentryFake.start({ now: () => clock.currentTimeMillisUnsafe() })),
      (fake) =>
        Effect.gen(function*() {
          fake.release(PROJECT, "shop@1.4.0")
          fake.deploy("shop@1.4.0")
          yield* TestClock.adjust("1 hour")
          fake.release(PROJECT, "shop@1.5.0")
          return yield* f(fake)
        }),
      (fake) => Effect.promise(() => fake.close())
    )
  })

export const layer = (fake: SentryFake.SentryFake) =>
  Testing.layer().pipe(
    Layer.provideMerge(Sentry.layer({ baseUrl: fake.url, token: Redacted.make("sntrys_test") })),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
  )

export const handle = <F, R>(rb: Runbook.Runbook<F, R>, signal: Signal.Signal, mode: "observe" | "dry_run" | "auto"): Effect.Effect<IncidentReport.IncidentReport, Runbook.MalformedSignal, R | Runbook.Services> =>
  Effect.map(Runbook.handle(rb, signal, { mode }), (r) => {
    if (Runbook.isAwaitingApproval(r)) throw new Error("unexpected approval")
    return r
  })
