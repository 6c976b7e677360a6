/**
 * Fleet §2: windows run on the database's clock. Two agents share one PgStore schema; one agent's
 * clock is 10 minutes off (an injected, skewed Effect Clock), ahead or behind. On the caller's
 * clock (the control) the skewed agent really spends the budget twice; on the database's clock
 * the counts are exact, also when both agents race, and the skewed agent's denials name a retry
 * time in its own frame.
 */
import { Guardrail, GuardrailStore } from "@byteport/core"
import { afterAll, assert, it } from "@effect/vitest"
import { Clock, Effect, Layer, Redacted } from "effect"
import * as PgStore from "../../src/stores/PgStore"
import { describeWithServices } from "../support/services"
import { dropSchemas, freshSchema, skewed, windowCount } from "./support"

const TEN_MINUTES = 10 * 60_000
const MAX = 3

describeWithServices(["postgres"], "fleet: windows on the database clock (two agents, one 10 min off)", (env) => {
  const url = env.BYTEPORT_TEST_PG_URL ?? ""
  const schemas: Array<string> = []
  afterAll(() => dropSchemas(url, schemas))

  let incidents = 0
  const guardrail = Guardrail.rateLimit({ name: "fleet_cap", key: Guardrail.keys.global("fleet-cap"), max: MAX, window: "10 minutes" })

  /** One agent: its own pool on the shared schema, its own clock; `acquire` goes through the rateLimit guardrail with `now` from that clock. */
  const agent = (schema: string, clock: "database" | "caller", offsetMs: number) => {
    const store = Layer.effect(GuardrailStore.GuardrailStore, PgStore.make({ url: Redacted.make(url), schema, poolMax: 4, clock }))
    const withAgent = <A, E>(e: Effect.Effect<A, E, GuardrailStore.GuardrailStore>) =>
      e.pipe(Effect.provide(store), Effect.provideService(Clock.Clock, skewed(offsetMs)))
    // every acquire is its own incident (its own window token)
    const ctx = (now: number) =>
      ({ incidentId: `i-${++incidents}`, runbook: "rb", action: { kind: "k", target: { kind: "t", ref: "r" } }, now }) as unknown as Guardrail.GuardrailContext
    return {
      acquire: (n: number) =>
        withAgent(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const rs = yield* Effect.forEach(Array.from({ length: n }), () => guardrail.acquire!(ctx(now)), { concurrency: "unbounded" })
          return rs.filter((r) => r.result._tag === "Pass").length
        })),
      check: withAgent(Effect.flatMap(Clock.currentTimeMillis, (now) => guardrail.check(ctx(now))))
    }
  }

  const fresh = (label: string) => {
    const s = freshSchema(label)
    schemas.push(s)
    return s
  }

  for (const offset of [TEN_MINUTES, -TEN_MINUTES]) {
    const sign = offset > 0 ? "+" : "-"
    it.live(`control: on the caller's clock an agent ${sign}10 min spends the budget twice`, () =>
      Effect.gen(function*() {
        const schema = fresh("ctl")
        const a = agent(schema, "caller", 0)
        const b = agent(schema, "caller", offset)
        // the agent behind takes first: its units look 10 minutes old to the other
        const [first, second] = offset > 0 ? [a, b] : [b, a]
        assert.strictEqual(yield* first.acquire(MAX), MAX)
        assert.strictEqual(yield* second.acquire(MAX), MAX, "the skewed clock let the window slide early")
      }), 60_000)

    it.live(`database clock: an agent ${sign}10 min changes nothing (exact counts, in turn and racing)`, () =>
      Effect.gen(function*() {
        const schema = fresh("db")
        const a = agent(schema, "database", 0)
        const b = agent(schema, "database", offset)
        const [first, second] = offset > 0 ? [a, b] : [b, a]
        assert.strictEqual(yield* first.acquire(MAX), MAX)
        assert.strictEqual(yield* second.acquire(MAX), 0)
        assert.strictEqual(yield* Effect.promise(() => windowCount(url, schema, "fleet-cap", TEN_MINUTES)), MAX)
        // the skewed agent's check denies with a retry in its own frame (~10 minutes, not 0 or 20)
        const denied = yield* b.check
        assert.strictEqual(denied._tag, "Deny")
        const retry = (denied as { retryAfterMs?: number }).retryAfterMs ?? -1
        assert.isAbove(retry, TEN_MINUTES - 60_000)
        assert.isAtMost(retry, TEN_MINUTES)

        // racing: 40 acquires from each agent at once on a fresh schema → exactly MAX in all
        const raced = fresh("race")
        const ra = agent(raced, "database", 0)
        const rb = agent(raced, "database", offset)
        const [x, y] = yield* Effect.all([ra.acquire(40), rb.acquire(40)], { concurrency: "unbounded" })
        assert.strictEqual(x + y, MAX)
        assert.strictEqual(yield* Effect.promise(() => windowCount(url, raced, "fleet-cap", TEN_MINUTES)), MAX)
      }), 60_000)
  }
})
