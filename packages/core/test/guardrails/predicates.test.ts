import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as Classification from "../../src/Classification"
import * as Fact from "../../src/Fact"
import * as Guardrail from "../../src/Guardrail"
import * as Guardrails from "../../src/Guardrails"
import * as TargetRef from "../../src/TargetRef"
import { acquire, check, reasonOf, windowCount, withStore } from "./helpers"

const env = (vars: Record<string, string>) => Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: vars }))
const json = (root: unknown) => Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(root))

describe("never", () => {
  const neverDeletePv = Guardrails.never(
    (ctx) => ctx.action.kind === "k8s.delete" && ctx.action.target.kind === "k8s/PersistentVolume",
    "never delete a PersistentVolume"
  )
  const neverBumpLeak = Guardrails.never(
    (ctx) => Classification.className(ctx.classification) === "genuine_memory_leak" && ctx.action.kind === "k8s.patchMemoryLimit",
    "never bump memory on a genuine_memory_leak"
  )
  const neverSuperuser = Guardrails.never(
    (ctx) => ctx.action.params["superuser"] === true,
    (ctx) => `never terminate a superuser (${String(ctx.action.params["usename"])})`,
    { name: "never_superuser" }
  )

  it.effect("denies exactly when the predicate holds", () =>
    withStore(Effect.gen(function*() {
      const pv = TargetRef.make("k8s/PersistentVolume", "pv-data-0")
      const r = yield* check(neverDeletePv, { kind: "k8s.delete", target: pv })
      assert.strictEqual(r._tag, "Deny")
      assert.strictEqual(reasonOf(r), "never delete a PersistentVolume")
      assert.strictEqual(neverDeletePv.name, "never: never delete a PersistentVolume")
      assert.strictEqual((yield* check(neverDeletePv, { kind: "k8s.delete", target: TargetRef.make("k8s/Pod", "p") }))._tag, "Pass")
      assert.strictEqual((yield* check(neverDeletePv, { kind: "k8s.cordon", target: pv }))._tag, "Pass")

      const leak = Classification.classified("genuine_memory_leak", 0.85)
      assert.strictEqual((yield* acquire(neverBumpLeak, { classification: leak })).result._tag, "Deny")
      assert.strictEqual((yield* check(neverBumpLeak, { classification: Classification.classified("undersized_limit", 0.84) }))._tag, "Pass")

      const su = yield* check(neverSuperuser, { kind: "pg.terminateBackend", params: { superuser: true, usename: "postgres" } })
      assert.strictEqual(reasonOf(su), "never terminate a superuser (postgres)")
      assert.strictEqual(neverSuperuser.name, "never_superuser")
    })))

  it.effect("a predicate that throws denies", () =>
    withStore(Effect.gen(function*() {
      const g = Guardrails.never(() => { throw new Error("bad params") }, "never x")
      const r = yield* check(g)
      assert.strictEqual(r._tag, "Deny")
      assert.include(reasonOf(r), "could not compute the predicate: bad params")
    })))
})

describe("minConfidence", () => {
  const g = Guardrails.minConfidence(0.7)
  it.effect("passes at or above the minimum, denies below, and denies Unclassified/Indeterminate", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* check(g, { classification: Classification.classified("x", 0.7) }))._tag, "Pass")
      assert.strictEqual((yield* check(g, { classification: Classification.classified("x", 0.93) }))._tag, "Pass")
      const low = yield* check(g, { classification: Classification.classified("undersized_pool", 0.69) })
      assert.include(reasonOf(low), "undersized_pool classified with confidence 0.69, below 0.7")
      const un = yield* check(g, { classification: Classification.unclassified(["no rule matched"]) })
      assert.include(reasonOf(un), "unclassified (no rule matched)")
      const ind = yield* check(g, { classification: Classification.indeterminate("traffic_spike", ["rssTrend"]) })
      assert.include(reasonOf(ind), "rule traffic_spike needs unknown facts rssTrend")
      assert.include(reasonOf(yield* check(Guardrails.minConfidence(1.5))), "min must be a number in [0, 1]")
    })))
})

describe("requireOptIn", () => {
  const rollback = Guardrails.requireOptIn("rollbackEnabled")
  const replace = Guardrails.requireOptIn("BYTEPORT_AUTO_REPLACE_NODES", { what: "cloud-provider node replacement" })

  it.effect("denies by default (false) and names the flag and how to enable it", () =>
    withStore(Effect.gen(function*() {
      const r = yield* check(rollback, { kind: "k8s.rolloutUndo" }).pipe(env({}))
      assert.strictEqual(r._tag, "Deny")
      assert.strictEqual(reasonOf(r), "k8s.rolloutUndo is opt-in and rollbackEnabled is not enabled (default false): set rollbackEnabled=true in the agent's configuration")
      const n = yield* check(replace).pipe(env({ BYTEPORT_AUTO_REPLACE_NODES: "false" }))
      assert.include(reasonOf(n), "cloud-provider node replacement is opt-in and BYTEPORT_AUTO_REPLACE_NODES is not enabled")
    })))

  it.effect("passes when the flag is true, from the environment or from a JSON config", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* check(replace).pipe(env({ BYTEPORT_AUTO_REPLACE_NODES: "true" })))._tag, "Pass")
      assert.strictEqual((yield* acquire(rollback).pipe(env({ rollbackEnabled: "true" }))).result._tag, "Pass")
      assert.strictEqual((yield* check(Guardrails.requireOptIn("dockerPruneEnabled")).pipe(json({ dockerPruneEnabled: true })))._tag, "Pass")
      assert.strictEqual((yield* check(Guardrails.requireOptIn("dockerPruneEnabled")).pipe(json({ dockerPruneEnabled: false })))._tag, "Deny")
      // read at check time: turning it off takes effect at once
      assert.strictEqual((yield* check(rollback).pipe(env({ rollbackEnabled: "false" })))._tag, "Deny")
    })))

  it.effect("an unparsable value denies and says so", () =>
    withStore(Effect.gen(function*() {
      const r = yield* check(rollback).pipe(env({ rollbackEnabled: "maybe" }))
      assert.strictEqual(r._tag, "Deny")
      assert.include(reasonOf(r), "rollbackEnabled could not be read as a boolean")
    })))
})

describe("requireAnnotation", () => {
  const g = Guardrails.requireAnnotation("byteport.io/auto_remediate", "db_terminate")
  const withAnnotations = (a: Record<string, string>) => ({ facts: { annotations: Fact.known(a) } })

  it.effect("passes only with the annotation and value (or a list containing it)", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* check(g, withAnnotations({ "byteport.io/auto_remediate": "db_terminate" })))._tag, "Pass")
      assert.strictEqual((yield* check(g, withAnnotations({ "byteport.io/auto_remediate": "restart, db_terminate" })))._tag, "Pass")
      const other = yield* check(g, withAnnotations({ "byteport.io/auto_remediate": "restart" }))
      assert.include(reasonOf(other), 'has byteport.io/auto_remediate: "restart", which does not allow "db_terminate"')
      const none = yield* check(g, withAnnotations({ app: "orders" }))
      assert.include(reasonOf(none), 'lacks the annotation byteport.io/auto_remediate: "db_terminate"')
      const prefix = yield* check(g, withAnnotations({ "byteport.io/auto_remediate": "db_terminate_all" }))
      assert.strictEqual(prefix._tag, "Deny")
    })))

  it.effect("Unknown or missing annotations deny", () =>
    withStore(Effect.gen(function*() {
      const unknown = yield* check(g, { facts: { annotations: Fact.unknown("kube.getPod", "403 Forbidden") } })
      assert.include(reasonOf(unknown), "annotations are unknown (kube.getPod: 403 Forbidden)")
      assert.include(reasonOf(yield* check(g, { facts: {} })), "annotations are not among the facts")
      assert.include(reasonOf(yield* check(g, { facts: { annotations: Fact.known(["x"]) } })), "not a record")
    })))

  it.effect("reads from a custom source", () =>
    withStore(Effect.gen(function*() {
      const custom = Guardrails.requireAnnotation("byteport.io/auto_remediate", "db_terminate", {
        annotations: (ctx) => ctx.action.params["labels"] as Record<string, string> | undefined
      })
      assert.strictEqual((yield* check(custom, { params: { labels: { "byteport.io/auto_remediate": "db_terminate" } } }))._tag, "Pass")
      assert.include(reasonOf(yield* check(custom, { params: {} })), "annotations are unknown")
    })))
})

describe("when / named", () => {
  it.effect("when applies the guardrail only to matching actions, and only they take budget", () =>
    withStore(Effect.gen(function*() {
      const limit = Guardrails.rateLimit({ key: Guardrails.keys.global("drains"), max: 1, window: "1 hour" })
      const g = Guardrails.when(Guardrails.isKind("k8s.drainNode"), limit)
      assert.strictEqual(g.name, limit.name)
      assert.strictEqual((yield* acquire(g, { kind: "k8s.cordon" })).result._tag, "Pass")
      assert.strictEqual(yield* windowCount("drains", 3_600_000), 0)
      assert.strictEqual((yield* acquire(g, { kind: "k8s.drainNode" })).result._tag, "Pass")
      assert.strictEqual(yield* windowCount("drains", 3_600_000), 1)
      assert.strictEqual((yield* acquire(g, { kind: "k8s.drainNode" })).result._tag, "Deny")
      assert.strictEqual((yield* check(g, { kind: "k8s.drainNode" }))._tag, "Deny")
      assert.strictEqual((yield* check(g, { kind: "k8s.cordon" }))._tag, "Pass")
      const throwing = Guardrails.when(() => { throw new Error("boom") }, limit)
      assert.strictEqual((yield* check(throwing))._tag, "Deny")
      assert.strictEqual((yield* acquire(throwing)).result._tag, "Deny")
    })))

  it.effect("named renames and keeps the behaviour", () =>
    withStore(Effect.gen(function*() {
      const base = Guardrails.never(() => true, "no")
      const g = Guardrails.named("custom_name", base)
      assert.strictEqual(g.name, "custom_name")
      assert.strictEqual(reasonOf(yield* check(g)), "no")
      const made = Guardrail.make({ name: "m", check: () => Effect.succeed(Guardrail.pass) })
      assert.strictEqual(Guardrails.named("n", made).name, "n")
    })))
})
