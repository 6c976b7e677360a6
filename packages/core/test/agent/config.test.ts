/**
 * Config fails at startup (issue 8, item 9): negative or zero timeouts, retries below zero,
 * zero caps, out-of-range ports and unknown modes are `ConfigError`s naming the key when
 * `Agent.layer` is built — before the store opens or anything runs. Mode values are
 * case-insensitive. A runbook cap read from configuration is validated at startup, not turned
 * into a runtime denial. `cooldown: "0 seconds"` works (no cooldown lease); durations that
 * cannot work are rejected by `Runbook.make`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Layer, Stream } from "effect"
import { Agent, Catalog, Classifier, Detector, Diagnoser, Guardrail, GuardrailStore, MemoryStore, Plan, Runbook, Settings, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "../engine/world"

interface Facts {
  readonly down: boolean
}

const capKey = "max_restarts_per_hour"

const runbook = (extra: Partial<Runbook.MakeOptions<Facts, never>> = {}) =>
  Runbook.make<Facts>({
    id: "test.config.restart",
    signals: ["svc.down"],
    diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () => Effect.succeed(Plan.make("test.config.restart", "w.down", "restart once", Plan.act(W.action("w.restart", { n: 1 })))),
    verify: (ctx) => Effect.succeed({ _tag: "Recovered" as const, checks: [], at: ctx.since }),
    ...extra
  })

/** A runbook whose rate limit reads its cap from configuration, declared so it is validated at startup. */
const capped = () => {
  const cap = Settings.positiveInt(capKey).pipe(Config.withDefault(3))
  return runbook({
    guardrails: [Guardrail.rateLimit({ name: "restarts per hour", key: Guardrail.keys.perRunbook("restarts"), max: cap, window: "1 hour" })],
    config: [cap]
  })
}

const withConfig = (env: Record<string, string>) => <A, E, R>(eff: Effect.Effect<A, E, R>) =>
  eff.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))

/** Starts `Agent.run` over a one-signal detector with `env`; returns the startup error, or undefined when it ran. */
const start = (env: Record<string, string>, rb: Runbook.Runbook<Facts> = runbook()) =>
  Effect.gen(function*() {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-config-"))
    const handler = Testing.recordingHandler("w.restart")
    const store = yield* MemoryStore.make()
    const catalog = Catalog.make([{ ...rb, detector: Detector.fromStream("once", Stream.make(W.signal())) }], { settle: "10 millis" })
    const results: Array<Runbook.HandleResult> = []
    const exit = yield* Agent.run(catalog, {
      handlers: [handler.handler],
      store: Layer.succeed(GuardrailStore.GuardrailStore, store),
      onResult: (r) => Effect.sync(() => void results.push(r))
    }).pipe(
      withConfig({ BYTEPORT_AUDIT_LOG: nodePath.join(dir, "audit.jsonl"), BYTEPORT_AGENT_ID: "agent-config", ...env }),
      Effect.timeout("3 seconds"),
      Effect.exit
    )
    fs.rmSync(dir, { recursive: true, force: true })
    const failure = exit._tag === "Failure" ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
    return {
      error: failure && failure._tag === "Fail" ? (failure.error as { readonly _tag: string; readonly message: string }) : undefined,
      runs: handler.runs.length,
      results,
      incidents: yield* store.listIncidents({ all: true })
    }
  })

describe("config fails at startup, naming the key", () => {
  for (const [key, value] of [
    ["BYTEPORT_MODE", "atuo"],
    ["BYTEPORT_MODE_TEST_CONFIG_RESTART", "yolo"],
    ["BYTEPORT_MODE_SOME_OTHER_RUNBOOK", "automatic"],
    ["BYTEPORT_SINK_TIMEOUT_MS", "0"],
    ["BYTEPORT_SINK_TIMEOUT_MS", "-5"],
    ["BYTEPORT_SINK_RETRIES", "-1"],
    ["BYTEPORT_APPROVAL_PORT", "70000"],
    ["BYTEPORT_APPROVAL_PORT", "-1"],
    [capKey, "0"],
    [capKey, "-2"]
  ] as const) {
    it.live(`${key}=${value} is a ConfigError naming ${key}; nothing runs`, () =>
      Effect.gen(function*() {
        const r = yield* start({ BYTEPORT_MODE: "auto", [key]: value }, capped())
        assert.strictEqual(r.error?._tag, "ConfigError")
        assert.include(r.error!.message, key)
        assert.strictEqual(r.runs, 0)
        assert.deepStrictEqual(r.results, [])
        assert.deepStrictEqual(r.incidents, [])
      }))
  }

  it.live("a cap given to a guardrail as a plain Config (not declared) is validated at startup too — runbook and action-kind guardrails", () =>
    Effect.gen(function*() {
      const undeclared = runbook({
        guardrails: [Guardrail.rateLimit({ key: Guardrail.keys.perRunbook("restarts"), max: Config.Int("restarts_per_hour").pipe(Config.withDefault(3)), window: "1 hour" })]
      })
      const r = yield* start({ BYTEPORT_MODE: "auto", restarts_per_hour: "0" }, undeclared)
      assert.strictEqual(r.error?._tag, "ConfigError")
      assert.include(r.error!.message, "restarts_per_hour")
      assert.deepStrictEqual(r.results, [])
      // an action kind's cap (like db's kills_per_minute_cap): Agent.layer reads the handlers' guardrails
      const handler = Testing.recordingHandler("w.restart", {
        guardrails: [Guardrail.perMinuteCap({ name: "kills_per_minute_cap", key: Guardrail.keys.perTarget("kills"), max: Config.Int("kills_per_minute_cap").pipe(Config.withDefault(20)) })]
      })
      const e = yield* Effect.flip(
        Layer.build(Agent.layer({ handlers: [handler.handler], store: MemoryStore.layer })).pipe(
          Effect.scoped,
          withConfig({ kills_per_minute_cap: "-1", BYTEPORT_AUDIT_LOG: nodePath.join(os.tmpdir(), "byteport-config-unused.jsonl") })
        )
      )
      assert.strictEqual(e._tag, "ConfigError")
      assert.include(e.message, "kills_per_minute_cap")
    }))

  it.live("Agent.layer alone (no catalog) refuses an unknown BYTEPORT_MODE and any BYTEPORT_MODE_* key it can list", () =>
    Effect.gen(function*() {
      for (const [key, value] of [["BYTEPORT_MODE", "atuo"], ["BYTEPORT_MODE_K8S_OOM_SIX_SIGNAL", "fast"]] as const) {
        const e = yield* Effect.flip(
          Layer.build(Agent.layer({ handlers: [], store: MemoryStore.layer })).pipe(Effect.scoped, withConfig({ [key]: value, BYTEPORT_AUDIT_LOG: nodePath.join(os.tmpdir(), "byteport-config-unused.jsonl") }))
        )
        assert.strictEqual(e._tag, "ConfigError")
        assert.include(e.message, key)
      }
    }))

  it.live("mode values are case-insensitive: BYTEPORT_MODE=AUTO runs in auto; the valid configuration runs (the refusals are not vacuous)", () =>
    Effect.gen(function*() {
      const r = yield* start({ BYTEPORT_MODE: "AUTO", BYTEPORT_SINK_RETRIES: "0", [capKey]: "2", BYTEPORT_APPROVAL_PORT: "0" }, capped())
      assert.isUndefined(r.error?._tag === "ConfigError" ? r.error : undefined)
      assert.strictEqual(r.results.length, 1)
      const report = r.results[0]!
      if (Runbook.isAwaitingApproval(report)) return assert.fail("no approval expected")
      assert.strictEqual(report.mode, "auto")
      assert.strictEqual(report.status, "recovered")
      assert.strictEqual(r.runs, 1)
    }))

  it.effect("modeFor: ` Dry_Run ` and `OBSERVE` are modes; an invalid value reaching an incident without the agent falls back to observe with a warning", () =>
    Effect.gen(function*() {
      const mode = (env: Record<string, string>) => Runbook.modeFor(runbook()).pipe(withConfig(env))
      assert.strictEqual((yield* mode({ BYTEPORT_MODE: " Dry_Run " })).mode, "dry_run")
      assert.strictEqual((yield* mode({ BYTEPORT_MODE_TEST_CONFIG_RESTART: "OBSERVE", BYTEPORT_MODE: "auto" })).mode, "observe")
      const bad = yield* mode({ BYTEPORT_MODE: "atuo" })
      assert.strictEqual(bad.mode, "observe")
      assert.include(bad.warning, "BYTEPORT_MODE")
      const e = yield* Effect.flip(Runbook.validateConfig(runbook()).pipe(withConfig({ BYTEPORT_MODE_TEST_CONFIG_RESTART: "atuo" })))
      assert.include(e.message, "BYTEPORT_MODE_TEST_CONFIG_RESTART")
    }))
})

describe("Runbook.make durations", () => {
  it.effect("cooldown \"0 seconds\" works: the lease is released when the incident closes, never a 30-minute lock", () => {
    const handler = Testing.recordingHandler("w.restart")
    return Effect.gen(function*() {
      const rb = runbook({ cooldown: "0 seconds", defaultMode: "auto" })
      assert.strictEqual(Duration.toMillis(rb.cooldown), 0)
      const store = yield* GuardrailStore.GuardrailStore
      const first = yield* Runbook.handle(rb, W.signal())
      if (Runbook.isAwaitingApproval(first)) return assert.fail("no approval expected")
      assert.strictEqual(first.status, "recovered")
      assert.strictEqual(yield* store.getLease(`target:${TargetRef.key(W.target)}`), undefined)
      // a new signal on the same target right after is a new incident, not a duplicate
      const second = yield* Runbook.handle(rb, W.signal())
      if (Runbook.isAwaitingApproval(second)) return assert.fail("no approval expected")
      assert.strictEqual(second.status, "recovered")
      assert.strictEqual(handler.writes.length, 2)
    }).pipe(Effect.provide(Testing.layer({ handlers: [handler] })))
  })

  for (const [name, extra] of [
    ["a negative cooldown", { cooldown: "-1 seconds" }],
    ["an infinite cooldown", { cooldown: "Infinity" }],
    ["a zero leaseTtl", { leaseTtl: "0 seconds" }],
    ["a NaN approvalTimeout", { approvalTimeout: Number.NaN }],
    ["an unparsable leaseTtl", { leaseTtl: "soon" }]
  ] as const) {
    it(`${name} is rejected by Runbook.make with InvalidRunbook`, () => {
      try {
        runbook(extra as Partial<Runbook.MakeOptions<Facts, never>>)
        assert.fail("Runbook.make accepted it")
      } catch (e) {
        assert.strictEqual((e as { _tag?: string })._tag, "InvalidRunbook")
        assert.match((e as Error).message, /test\.config\.restart: (cooldown|leaseTtl|approvalTimeout) must be a finite duration/)
      }
    })
  }
})
