import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Annotations from "../../src/annotations/Annotations"
import * as Audit from "../../src/Audit"
import * as Guardrails from "../../src/Guardrails"
import * as Redactor from "../../src/Redactor"
import { acquire, check, withStore } from "../guardrails/helpers"

const KEY = "byteport.io/auto_remediate"
const db: Annotations.ObjectRef = { kind: "host", name: "orders-primary" }
const reason = (r: { readonly _tag: string; readonly reason?: string }) => ("reason" in r ? String(r.reason) : "")
const auditLayer = Audit.layerMemory.pipe(Layer.provide(Redactor.layer()))

describe("Annotations.configuration + requireAnnotation({ live })", () => {
  it.effect("reads the source at every acquire (never cached) and audits each read", () =>
    withStore(Effect.gen(function*() {
      let objects: Record<string, Record<string, string>> = { "host/orders-primary": { [KEY]: "db_terminate" } }
      const source = Annotations.configuration(() => ({ objects }))
      const g = Guardrails.requireAnnotation(KEY, "db_terminate", { live: Annotations.ofObject(db) })
      const run = <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.provideService(e, Annotations.AnnotationSource, source)
      assert.strictEqual((yield* run(acquire(g))).result._tag, "Pass")
      objects = { "host/orders-primary": { [KEY]: "true" } }
      const denied = (yield* run(acquire(g))).result
      assert.strictEqual(denied._tag, "Deny")
      assert.include(reason(denied), 'has byteport.io/auto_remediate: "true", which does not allow "db_terminate"')
      objects = {}
      const gone = (yield* run(check(g)))
      assert.include(reason(gone), "annotations are unknown")
      const audit = yield* Audit.Audit
      const lines = (yield* audit.entries).filter((l) => l.event === "annotations.read")
      assert.deepStrictEqual(lines.map((l) => (l.data as { found: boolean }).found), [true, true, false])
      assert.deepStrictEqual(lines.map((l) => (l.data as { object: string }).object), ["host/orders-primary", "host/orders-primary", "host/orders-primary"])
      assert.strictEqual((lines[0]!.data as { source: string }).source, "configuration")
    })).pipe(Effect.provide(auditLayer)))

  it.effect("a failing source denies (never lets the action through)", () =>
    withStore(Effect.gen(function*() {
      const broken: Annotations.Shape = {
        name: "broken",
        annotationsOf: () => Effect.fail(new Annotations.AnnotationSourceError({ source: "broken", message: "connect ECONNREFUSED password=hunter2" })),
        workloadOf: () => Effect.succeed(undefined)
      }
      const g = Guardrails.requireAnnotation(KEY, "db_terminate", { live: Annotations.ofObjectIn(broken, db) })
      const r = (yield* acquire(g)).result
      assert.strictEqual(r._tag, "Deny")
      assert.include(reason(r), "could not be read")
      assert.notInclude(reason(r), "hunter2")
    })))

  it.effect("client → workload (address first, then application_name) → that workload's annotations", () =>
    withStore(Effect.gen(function*() {
      const web: Annotations.ObjectRef = { kind: "Deployment", namespace: "shop", name: "web" }
      const batch: Annotations.ObjectRef = { kind: "Deployment", namespace: "shop", name: "batch" }
      const source = Annotations.configuration(() => ({
        objects: { "Deployment/shop/web": { [KEY]: "restart, db_terminate" }, "Deployment/shop/batch": {} },
        addresses: { "10.0.0.7": web },
        applications: { "batch-job": batch }
      }))
      const g = Guardrails.requireAnnotation(KEY, "db_terminate", {
        live: Annotations.ofClient((ctx) => ({ address: ctx.action.params["client_addr"] as string, applicationName: ctx.action.params["application_name"] as string }))
      })
      const run = <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.provideService(e, Annotations.AnnotationSource, source)
      assert.strictEqual((yield* run(check(g, { params: { client_addr: "10.0.0.7", application_name: "x" } })))._tag, "Pass")
      assert.strictEqual((yield* run(check(g, { params: { client_addr: "10.0.0.9", application_name: "batch-job" } })))._tag, "Deny")
      assert.strictEqual((yield* run(check(g, { params: { client_addr: "10.0.0.9", application_name: "unknown" } })))._tag, "Deny")
      assert.deepStrictEqual(yield* source.workloadOf({ address: "10.0.0.9", applicationName: "batch-job" }), batch)
    })))

  it.effect("firstOf: the first source that knows the object answers; objectKey", () =>
    Effect.gen(function*() {
      const a = Annotations.configuration(() => ({ objects: { "Service/db/pg": { [KEY]: "db_terminate" } } }))
      const b = Annotations.configuration(() => ({ objects: { "host/orders-primary": { x: "1" }, "Service/db/pg": { [KEY]: "no" } } }))
      const both = Annotations.firstOf(a, b)
      assert.strictEqual(both.name, "configuration+configuration")
      assert.deepStrictEqual(yield* both.annotationsOf({ kind: "Service", namespace: "db", name: "pg" }), { [KEY]: "db_terminate" })
      assert.deepStrictEqual(yield* both.annotationsOf(db), { x: "1" })
      assert.strictEqual(yield* both.annotationsOf({ kind: "host", name: "nope" }), undefined)
      assert.strictEqual(Annotations.objectKey({ kind: "Namespace", name: "db" }), "Namespace/db")
    }))
})
