/**
 * The "never"s of the pod-family kinds as properties: a loosening never changes a probe's
 * handler, never removes a probe, never shortens anything and never exceeds 2× the baseline;
 * `addDebugEnv` keeps every other field of the patch it extends; "never delete PersistentVolumes"
 * denies every delete-kind action naming one, and only those.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, Guardrail, Plan } from "@byteport/core"
import type { V1Container, V1Probe } from "@kubernetes/client-node"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as LoosenProbe from "../../src/actions/loosenProbe"
import * as PinImageDigest from "../../src/actions/pinImageDigest"
import * as SetDebugLogging from "../../src/actions/setDebugLogging"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"

const handler = fc.oneof(
  fc.record({ httpGet: fc.record({ path: fc.constantFrom("/healthz", "/live", "/"), port: fc.integer({ min: 1, max: 65535 }) }) }),
  fc.record({ tcpSocket: fc.record({ port: fc.integer({ min: 1, max: 65535 }) }) }),
  fc.record({ exec: fc.record({ command: fc.array(fc.constantFrom("cat", "/tmp/healthy", "sh", "-c"), { minLength: 1, maxLength: 3 }) }) }),
  fc.record({ grpc: fc.record({ port: fc.integer({ min: 1, max: 65535 }) }) })
)
const timing = fc.record(
  {
    initialDelaySeconds: fc.integer({ min: 0, max: 60 }),
    periodSeconds: fc.integer({ min: 1, max: 30 }),
    timeoutSeconds: fc.integer({ min: 1, max: 30 }),
    failureThreshold: fc.integer({ min: 1, max: 10 })
  },
  { requiredKeys: [] }
)
const probe: fc.Arbitrary<V1Probe> = fc.tuple(handler, timing).map(([h, t]) => ({ ...t, ...h }) as V1Probe)
const containerArb: fc.Arbitrary<V1Container> = fc.record({ liveness: probe, startup: fc.option(probe, { nil: undefined }) }).map(({ liveness, startup }) => ({
  name: "app",
  image: "x",
  livenessProbe: liveness,
  ...(startup ? { startupProbe: startup } : {})
}))

describe("k8s.loosenProbe never", () => {
  it("changes a handler, removes a probe, shortens a field or exceeds 2× the baseline", () => {
    fc.assert(
      fc.property(containerArb, fc.constantFrom<LoosenProbe.Field>("timeoutSeconds", "startupBudgetSeconds"), fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }), (c, field, baseline) => {
        const l = LoosenProbe.loosen(c, field, baseline)
        if (l === undefined) return
        assert.deepStrictEqual(LoosenProbe.handlerOf(l.livenessProbe), LoosenProbe.handlerOf(c.livenessProbe), "liveness handler kept")
        assert.isDefined(l.livenessProbe)
        if (c.startupProbe) {
          assert.isDefined(l.startupProbe, "startup probe kept")
          assert.deepStrictEqual(LoosenProbe.handlerOf(l.startupProbe), LoosenProbe.handlerOf(c.startupProbe), "startup handler kept")
        } else if (l.startupProbe) {
          assert.deepStrictEqual(LoosenProbe.handlerOf(l.startupProbe), LoosenProbe.handlerOf(c.livenessProbe), "a new startupProbe uses the liveness handler")
        }
        const base = baseline ?? l.from
        assert.isAbove(l.to, l.from)
        assert.isAtMost(l.to, 2 * base)
        // nothing else of the liveness probe changes; only timeoutSeconds may grow
        const { timeoutSeconds: t1, ...rest1 } = l.livenessProbe
        const { timeoutSeconds: t0, ...rest0 } = c.livenessProbe!
        assert.deepStrictEqual(rest1, rest0)
        assert.isAtLeast(t1 ?? 1, t0 ?? 1)
        if (field === "startupBudgetSeconds") assert.deepStrictEqual(l.livenessProbe, c.livenessProbe)
        // the patch body names only the container and the changed probe
        const body = LoosenProbe.patchBody("app", field, l)
        const sent = body.spec.template.spec.containers[0]!
        assert.deepStrictEqual(Object.keys(sent).sort(), field === "timeoutSeconds" ? ["livenessProbe", "name"] : ["name", "startupProbe"])
      }),
      { numRuns: 500 }
    )
  })

  it("loosens nothing without a liveness probe", () => {
    assert.isUndefined(LoosenProbe.loosen({ name: "a" }, "timeoutSeconds"))
    assert.isUndefined(LoosenProbe.loosen({ name: "a" }, "startupBudgetSeconds"))
  })
})

describe("SetDebugLogging.addDebugEnv", () => {
  it("adds the env to an existing patch and keeps every other field", () => {
    fc.assert(
      fc.property(fc.constantFrom("app", "web"), fc.constantFrom("512Mi", "768Mi"), fc.boolean(), (container, mem, withEnv) => {
        const body = {
          metadata: { annotations: { a: "b" } },
          spec: { template: { spec: { containers: [{ name: "app", resources: { limits: { memory: mem } }, ...(withEnv ? { env: [{ name: "OTHER", value: "1" }, { name: "LOG_LEVEL", value: "info" }] } : {}) }] } } }
        }
        const out = SetDebugLogging.addDebugEnv(body, container, { env: "LOG_LEVEL", value: "debug" })
        const cs = out.spec.template.spec.containers as ReadonlyArray<any>
        const c = cs.find((x) => x.name === container)
        assert.deepStrictEqual(c.env.filter((e: any) => e.name === "LOG_LEVEL"), [{ name: "LOG_LEVEL", value: "debug" }])
        assert.deepStrictEqual(out.metadata, body.metadata)
        const app = cs.find((x) => x.name === "app")
        assert.strictEqual(app.resources.limits.memory, mem, "the memory bump stays in the same patch")
        if (withEnv && container === "app") assert.deepInclude(app.env, { name: "OTHER", value: "1" })
        assert.strictEqual(body.spec.template.spec.containers.length, 1, "the input is not mutated")
      })
    )
  })

  it("parses only env:NAME=value annotations", () => {
    assert.deepStrictEqual(SetDebugLogging.parseAnnotation("env:LOG_LEVEL=debug"), { env: "LOG_LEVEL", value: "debug" })
    for (const bad of [undefined, "", "LOG_LEVEL=debug", "env:LOG_LEVEL=", "env:1X=debug", "flag:--debug"]) assert.isUndefined(SetDebugLogging.parseAnnotation(bad))
  })
})

describe("PinImageDigest references", () => {
  it("pins the image's repository at the imageID's digest", () => {
    const d = "sha256:" + "ab".repeat(32)
    assert.strictEqual(PinImageDigest.pinnedReference("reg:5000/shop/web:1.4.2", `docker-pullable://reg:5000/shop/web@${d}`), `reg:5000/shop/web@${d}`)
    assert.strictEqual(PinImageDigest.pinnedReference("web", d), `web@${d}`)
    assert.isUndefined(PinImageDigest.pinnedReference("web:1", "containerd://abc"))
  })
})

const ctxFor = (action: Action.Action): Guardrail.GuardrailContext => ({
  incidentId: "i",
  runbook: "custom.rb",
  mode: "auto",
  signal: { type: "t", target: action.target, observedAt: 0, evidence: {} },
  classification: Classification.classified("c", 1, []),
  facts: {},
  plan: Plan.make("custom.rb", "c", "s", Plan.act(action)),
  planDigest: "d",
  action,
  stepPath: "0",
  now: 0,
  baseline: {}
})

describe("NeverDeleteVolumes", () => {
  const g = NeverDeleteVolumes.guardrail()
  const decide = (kind: string, target: { kind: string; ref: string }, params: Record<string, string> = {}) =>
    Effect.runSync(g.check(ctxFor(Action.make({ kind, target, params, description: "x" }))) as Effect.Effect<Guardrail.GuardrailResult>)._tag

  it("denies every delete kind naming a PersistentVolume or claim, in target or params", () => {
    const volumeRefs = fc.constantFrom<{ readonly target: { kind: string; ref: string }; readonly params: Record<string, string> }>(
      { target: { kind: "k8s.pvc", ref: "kube-sim/default/data" }, params: {} },
      { target: { kind: "k8s.workload", ref: "kube-sim/default/StatefulSet/db" }, params: { resource: "persistentvolumeclaims", name: "data-db-0" } },
      { target: { kind: "k8s.node", ref: "kube-sim/node-1" }, params: { kind: "PersistentVolume", name: "pv-1" } },
      { target: { kind: "custom", ref: "PersistentVolumeClaim/default/data" }, params: {} }
    )
    const deleteKinds = fc.constantFrom("k8s.delete", "custom.cleanupVolumes", "storage.prune", "x.removeClaim", "k8s.drainNode", "k8s.restartPod", "ops.gc", "PURGE")
    fc.assert(fc.property(deleteKinds, volumeRefs, (kind, v) => assert.strictEqual(decide(kind, v.target, v.params), "Deny")))
  })

  it("passes deletes of other objects and non-delete kinds naming volumes", () => {
    assert.strictEqual(decide("k8s.restartPod", { kind: "k8s.pod", ref: "kube-sim/default/api-1" }, { uid: "u" }), "Pass")
    assert.strictEqual(decide("k8s.patchMemoryLimit", { kind: "k8s.pvc", ref: "kube-sim/default/data" }), "Pass")
    assert.isTrue(NeverDeleteVolumes.isDeleteKind("custom.x", ["custom.x"]))
  })
})
