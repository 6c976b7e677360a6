import { type GuardrailStore, type IncidentReport, Runbook, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Clock, ConfigProvider, type Duration, Effect, Fiber, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { Render, RenderDeploys, RenderRollbackRunbook } from "@byteport/cloud"
import { RenderFake } from "@byteport/cloud/testing"

export const T0 = Date.parse("2026-12-07T02:00:00.000Z")
export const GOOD = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
export const BAD = "deadbeef00112233445566778899aabbccddeeff"
export const SERVICE = "srv-shop0123456789abcdef"

/** Starts the fake on the TestClock (set to T0) with one service whose GOOD commit is live since T0. */
export const withFake = <A, E, R>(f: (fake: RenderFake.RenderFake) => Effect.Effect<A, E, R>, spec: Partial<RenderFake.ServiceSpec> = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(T0)
    const clock = yield* Clock.clockWith((c) => Effect.succeed(c))
    return yield* Effect.acquireUseRelease(
      Effect.promise(() => RenderFake.start({ now: () => clock.currentTimeMillisUnsafe() })),
      (fake) => {
        fake.commit(GOOD, { errorRate: 0.01 }, "feat: good")
        fake.addService({ name: "shop", id: SERVICE, ...spec }, GOOD)
        return f(fake)
      },
      (fake) => Effect.promise(() => fake.close())
    )
  })

export const renderLayer = (fake: RenderFake.RenderFake, apiKey = "rnd_test") => Render.layer({ baseUrl: fake.url, apiKey: Redacted.make(apiKey) })

/** The test services: a memory store, the Render handlers over the fake, config. */
export const layer = (fake: RenderFake.RenderFake, o: { readonly env?: Record<string, string> } = {}) =>
  Testing.layer({ handlers: RenderRollbackRunbook.handlers() }).pipe(
    Layer.provideMerge(renderLayer(fake)),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord(o.env ?? {})))
  )

export const options = (o: Partial<RenderRollbackRunbook.Options> = {}): RenderRollbackRunbook.Options => ({
  services: [SERVICE],
  probeTimeoutMs: 150,
  ...o
})

const realPause = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

/**
 * Runs an effect that sleeps on the TestClock while it also does real I/O: advances the clock by
 * `step` after each real pause, so in-flight requests finish before virtual time moves on.
 */
export const advancing = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.Input = "1 second", pauseMs = 15) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 100_000 && fiber.pollUnsafe() === undefined; i++) {
      yield* realPause(pauseMs)
      if (fiber.pollUnsafe() !== undefined) break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

/** Polls the detector every `every` (virtual) for at most `max`, returning the first signals. */
export const pollUntilSignal = (
  state: RenderDeploys.PollState,
  o: { readonly every?: Duration.Input; readonly max?: number; readonly options?: RenderDeploys.Options } = {}
): Effect.Effect<ReadonlyArray<Signal.Signal>, never, Render.Render | GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const opts = o.options ?? { services: [SERVICE], probeTimeoutMs: 150 }
    for (let i = 0; i < (o.max ?? 60); i++) {
      const s = yield* RenderDeploys.pollOnce(opts, state)
      if (s.length > 0) return s
      yield* TestClock.adjust(o.every ?? "15 seconds")
    }
    return [] as ReadonlyArray<Signal.Signal>
  })

/** Handles a signal (advancing virtual time for the verification schedule). */
export const handle = <F, R>(
  rb: Runbook.Runbook<F, R>,
  signal: Signal.Signal,
  mode: "observe" | "dry_run" | "auto"
): Effect.Effect<IncidentReport.IncidentReport, Runbook.MalformedSignal, R | Runbook.Services> =>
  advancing(Effect.map(Runbook.handle(rb, signal, { mode }), (r) => {
    if (Runbook.isAwaitingApproval(r)) throw new Error("unexpected approval")
    return r as IncidentReport.IncidentReport
  }))

/** Pushes a bad commit (auto-deployed) and advances until it is live (60 s build). */
export const deployBad = (fake: RenderFake.RenderFake, behaviour: RenderFake.CommitBehaviour, sha = BAD) =>
  Effect.gen(function*() {
    const deployId = fake.push(SERVICE, sha, behaviour, "feat: risky")
    yield* TestClock.adjust("60 seconds")
    return deployId!
  })
