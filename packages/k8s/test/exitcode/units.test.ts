/** Units of k8s.crashloop.exit-code and k8s.oom.exit-137: classifiers (each side of every threshold), refs, hold windows, restart guardrails, plans. */
import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, Fact, type Guardrail, MemoryStore, Plan, TargetRef } from "@byteport/core"
import { Effect } from "effect"
import * as Classifier from "../../src/classifiers/exitCode"
import type { ExitCodeFacts } from "../../src/classifiers/exitCode"
import type { PodFacts } from "../../src/classifiers/oom"
import * as PodRefs from "../../src/probes/podRefs"
import * as Remediator from "../../src/remediators/exitCode"
import * as ExitCode from "../../src/runbooks/k8s.crashloop.exit-code"
import * as Exit137 from "../../src/runbooks/k8s.oom.exit-137"
import * as PodVerifiers from "../../src/verifiers/pod"
import { cs, iso, pod, T0, terminated, waiting } from "../pod/pods"

const RS = { kind: "ReplicaSet", name: "api-7d9f" }
const facts = (p: ReturnType<typeof pod>, container = "app", refs: ReadonlyArray<Classifier.Ref> = []): Fact.Facts<ExitCodeFacts> => ({
  subject: Fact.known({ pod: p, container }),
  owner: Fact.known({ kind: "Deployment", name: "api", resourceVersion: "42" }),
  refs: Fact.known(refs)
})
const crashing = (state: ReturnType<typeof waiting>, last?: ReturnType<typeof terminated>) =>
  pod({ owner: RS, status: { containerStatuses: [cs("app", { restartCount: 4, state, ...(last ? { lastState: last } : {}) })] } })
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? `${c.class}@${c.confidence}` : c._tag)
const classify = Classifier.classify()

describe("exit-code classifier", () => {
  it("kubelet and runtime reasons: OOMKilled, StartError, pull auth, CreateContainerConfigError", () => {
    assert.strictEqual(classOf(classify(facts(crashing(waiting("CrashLoopBackOff"), terminated(137, "OOMKilled"))))), "oom_killed@0.95")
    const start = crashing(waiting("CrashLoopBackOff"), { terminated: { exitCode: 128, reason: "StartError", message: 'failed to create containerd task: exec: "/app/server": stat /app/server: no such file or directory' } })
    assert.strictEqual(classOf(classify(facts(start))), "missing_binary@0.92")
    const auth = crashing(waiting("ImagePullBackOff", 'Back-off pulling image "r.example.com/a:1": ErrImagePull: failed to fetch oauth token: unexpected status: 401 Unauthorized'))
    assert.strictEqual(classOf(classify(facts(auth))), "image_auth@0.9")
    assert.strictEqual(classOf(classify(facts(crashing(waiting("CreateContainerConfigError", 'secret "db" not found'))))), "config_error@0.93")
  })
  it("exit codes alone rank below: 127 → missing_binary 0.85, 78 → config_error 0.78", () => {
    assert.strictEqual(classOf(classify(facts(crashing(waiting("CrashLoopBackOff"), terminated(127, "Error"))))), "missing_binary@0.85")
    assert.strictEqual(classOf(classify(facts(crashing(waiting("CrashLoopBackOff"), terminated(78, "Error"))))), "config_error@0.78")
  })
  it("near misses: 126 is not a missing binary; 137 Error is no OOM; pull access denied decides nothing; exit 1 matches nothing", () => {
    const c126 = classify(facts(crashing(waiting("CrashLoopBackOff"), terminated(126, "Error"))))
    assert.strictEqual(c126._tag, "Unclassified")
    assert.match((c126 as any).reasons[0], /126/)
    const c137 = classify(facts(crashing(waiting("CrashLoopBackOff"), terminated(137, "Error"))))
    assert.strictEqual(c137._tag, "Unclassified")
    assert.match((c137 as any).reasons[0], /not the OOM killer/)
    const denied = crashing(waiting("ErrImagePull", "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope"))
    assert.strictEqual(classify(facts(denied))._tag, "Unclassified")
    assert.strictEqual(classify(facts(crashing(waiting("CrashLoopBackOff"), terminated(1, "Error"))))._tag, "Unclassified")
  })
  it("each side of minConfidence: exit 78 (0.78) classifies at 0.78, not at 0.79", () => {
    const p = facts(crashing(waiting("CrashLoopBackOff"), terminated(78, "Error")))
    assert.strictEqual(classOf(Classifier.classify({ ...Classifier.defaults, minConfidence: 0.78 })(p)), "config_error@0.78")
    assert.strictEqual(Classifier.classify({ ...Classifier.defaults, minConfidence: 0.79 })(p)._tag, "Unclassified")
  })
  it("sidecar-only crash: the proxy fails while the app runs Ready → escalate; with the app down too it classifies", () => {
    const spec = { containers: [{ name: "app" }, { name: "proxy" }] }
    const sidecar = pod({ owner: RS, spec, status: { containerStatuses: [cs("app", { ready: true, state: { running: {} } }), cs("proxy", { restartCount: 4, state: waiting("CrashLoopBackOff"), lastState: terminated(127, "Error") })] } })
    const c = classify(facts(sidecar, "proxy"))
    assert.strictEqual(c._tag, "Unclassified")
    assert.match((c as any).reasons[0], /sidecar-only/)
    const both = pod({ owner: RS, spec, status: { containerStatuses: [cs("app", { ready: false, state: waiting("CrashLoopBackOff") }), cs("proxy", { restartCount: 4, state: waiting("CrashLoopBackOff"), lastState: terminated(127, "Error") })] } })
    assert.strictEqual(classOf(classify(facts(both, "proxy"))), "missing_binary@0.85")
  })
  it("an unreadable pod is Indeterminate", () => {
    const c = classify({ subject: Fact.unknown("describe pod", "403"), owner: Fact.unknown("owner", "403"), refs: Fact.unknown("refs", "403") })
    assert.strictEqual(c._tag, "Indeterminate")
  })
  it("the longest pre-crash run ignores containers that never started (StartError's 1970 start)", () => {
    const never = crashing(waiting("CrashLoopBackOff"), { terminated: { exitCode: 128, reason: "StartError", startedAt: "1970-01-01T00:00:00Z", finishedAt: iso(T0) } })
    assert.isNull(Classifier.longestPreCrashRunMs(never, "app"))
    const ran = crashing(waiting("CrashLoopBackOff"), { terminated: { exitCode: 78, reason: "Error", startedAt: iso(T0), finishedAt: iso(T0 + 90_000) } })
    assert.strictEqual(Classifier.longestPreCrashRunMs(ran, "app"), 90_000)
  })
})

describe("pod hold window", () => {
  it("Ready for max(2× the longest pre-crash run, 2 min)", () => {
    assert.strictEqual(PodVerifiers.requiredHoldMs(null), 120_000)
    assert.strictEqual(PodVerifiers.requiredHoldMs(59_000), 120_000)
    assert.strictEqual(PodVerifiers.requiredHoldMs(60_000), 120_000)
    assert.strictEqual(PodVerifiers.requiredHoldMs(61_000), 122_000)
    assert.strictEqual(PodVerifiers.requiredHoldMs(300_000), 600_000)
  })
})

describe("references", () => {
  it("env, envFrom, mounted volumes, pull secrets and the ServiceAccount; optional and unmounted ones left out", () => {
    const raw = {
      spec: {
        serviceAccountName: "api-sa",
        imagePullSecrets: [{ name: "regcred" }],
        containers: [{
          name: "app",
          env: [{ name: "A", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }, { name: "B", valueFrom: { configMapKeyRef: { name: "flags", key: "f", optional: true } } }],
          envFrom: [{ configMapRef: { name: "app-env" } }],
          volumeMounts: [{ name: "scripts", mountPath: "/s" }]
        }],
        volumes: [{ name: "scripts", configMap: { name: "entrypoint" } }, { name: "unused", secret: { secretName: "tls" } }]
      }
    }
    assert.deepStrictEqual(PodRefs.refsOf(raw, "app").map((r) => `${r.use}:${r.kind}/${r.name}${r.key ? `/${r.key}` : ""}`), [
      "env:Secret/db/password", "envFrom:ConfigMap/app-env", "volume:ConfigMap/entrypoint", "imagePullSecret:Secret/regcred", "serviceAccount:ServiceAccount/api-sa"
    ])
    const state = PodRefs.fromObjects(raw, "app", [{ kind: "Secret", metadata: { name: "db", resourceVersion: "7" }, data: { user: "eA==" } }])
    assert.deepStrictEqual(state[0], { kind: "Secret", name: "db", key: "password", use: "env", resourceVersion: "7", hasKey: false })
    assert.strictEqual(state[1]!.resourceVersion, null)
  })
})

const ctxAt = (now: number, action: Action.Action): Guardrail.GuardrailContext => ({
  incidentId: `inc-${now}`,
  runbook: ExitCode.ID,
  mode: "auto",
  signal: { type: "k8s.pod.crash_loop_back_off", target: TargetRef.make("k8s.workload", "prod/shop/Deployment/api/app"), observedAt: now, evidence: {} },
  classification: Classification.classified("config_error", 0.93, []),
  facts: {},
  plan: Plan.make(ExitCode.ID, "config_error", "x", Plan.act(action)),
  planDigest: "d",
  action,
  stepPath: "0",
  now,
  baseline: {}
})

describe("restart guardrails", () => {
  it.effect("30 s × 2^N between restarts of one workload (any of its pods), at most 3 per hour: the 4th is denied", () =>
    Effect.gen(function*() {
      const gs = ExitCode.restartGuardrails()
      const restart = (pod: string) => Action.make({ kind: "k8s.restartPod", target: TargetRef.make("k8s.pod", `prod/shop/${pod}`), params: { uid: pod, reason: "t" }, description: "restart" })
      const attempt = (now: number, pod: string) =>
        Effect.gen(function*() {
          for (const g of gs) {
            const r = yield* g.acquire(ctxAt(now, restart(pod)))
            if (r.result._tag !== "Pass") return `${g.name}: ${(r.result as any).reason}`
          }
          return "pass"
        })
      const s = 1000
      assert.strictEqual(yield* attempt(0, "api-1"), "pass")
      assert.match(yield* attempt(29 * s, "api-2"), /backoff.*retry in/, "another pod of the same workload backs off too")
      assert.strictEqual(yield* attempt(30 * s, "api-2"), "pass")
      assert.match(yield* attempt(89 * s, "api-3"), /backoff/, "the second wait is 60 s")
      assert.strictEqual(yield* attempt(90 * s, "api-3"), "pass")
      assert.match(yield* attempt(600 * s, "api-4"), /restarts_per_workload\(3\/1h\)/, "the 4th within the hour is denied")
      assert.strictEqual(yield* attempt(3601 * s, "api-4"), "pass", "an hour after the first, one is free again")
      // other kinds are not touched by these guardrails
      const other = Action.make({ kind: "k8s.patchMemoryLimit", target: TargetRef.make("k8s.workload", "prod/shop/Deployment/api/app"), params: {}, description: "x" })
      for (const g of gs) assert.strictEqual((yield* g.check(ctxAt(3602 * s, other)))._tag, "Pass")
    }).pipe(Effect.provide(MemoryStore.layer)))
})

describe("exit-code plans", () => {
  const signal = { type: "k8s.pod.crash_loop_back_off", target: TargetRef.make("k8s.workload", "prod/default/Deployment/api/app"), observedAt: T0, evidence: { pod: "api-1", namespace: "default", container: "app" } }
  const missing: Classifier.Ref = { kind: "Secret", name: "db", key: "password", use: "env", resourceVersion: null, hasKey: false }
  it.effect("config_error: WaitFor the Secret to exist, then (unless the pod needs none) one restart of that pod uid", () =>
    Effect.gen(function*() {
      const f = facts(crashing(waiting("CreateContainerConfigError", 'secret "db" not found')), "app", [missing])
      const c = classify(f) as Classification.Classified
      const plan = yield* Remediator.plan(c, f, signal)
      const root: any = plan.root
      assert.strictEqual(root._tag, "Seq")
      assert.strictEqual(root.steps[0]._tag, "WaitFor")
      assert.strictEqual(root.steps[0].check.kind, Remediator.CAUSE_GONE)
      assert.deepStrictEqual(root.steps[0].check.params, { namespace: "default", mode: "exist", refs: [{ kind: "Secret", name: "db", key: "password", resourceVersion: null }] })
      assert.strictEqual(root.steps[1]._tag, "Until")
      assert.strictEqual(root.steps[1].check.kind, Remediator.NO_RESTART_NEEDED)
      assert.strictEqual(root.steps[1].steps[0].action.kind, "k8s.restartPod")
      assert.strictEqual(root.steps[1].steps[0].action.params.uid, "uid-1")
    }))
  it.effect("a bare pod is never restarted: escalate", () =>
    Effect.gen(function*() {
      const f: Fact.Facts<ExitCodeFacts> = { ...facts(crashing(waiting("CreateContainerConfigError", 'secret "db" not found')), "app", [missing]), owner: Fact.known(null) }
      const plan = yield* Remediator.plan(classify(f) as Classification.Classified, f, { ...signal, target: TargetRef.make("k8s.workload", "prod/default/Pod/api-1/app") })
      assert.strictEqual(plan.root._tag, "Escalate")
      assert.match((plan.root as any).reason, /bare pod/)
    }))
})

describe("exit-137 classifier", () => {
  const podFacts = (o: Partial<PodFacts>): PodFacts => ({ namespace: "default", pod: "api-1", container: "app", node: "n1", restartCount: 3, memoryLimitBytes: 512 * 2 ** 20, memoryRequestBytes: null, lastTermination: { reason: "OOMKilled", exitCode: 137, finishedAt: iso(T0) }, ready: false, workload: null, env: [], ...o })
  const f = (pod: PodFacts, heap: number | null = null): Fact.Facts<Exit137.Exit137Facts> => ({
    pod: Fact.known(pod),
    podUid: Fact.known("uid-1"),
    owner: Fact.known({ kind: "Deployment", name: "api", resourceVersion: "1" }),
    workload: Fact.known(null),
    runtimeHeap: Fact.known(heap === null ? null : { runtime: "jvm", variable: "JAVA_TOOL_OPTIONS", setting: `-Xmx${heap}`, heapBytes: heap }),
    node: Fact.known(null)
  })
  const c = Exit137.classify()
  it("OOMKilled only; 137 with another reason escalates", () => {
    assert.strictEqual(classOf(c(f(podFacts({})))), "oom_killed@0.95")
    const liveness = c(f(podFacts({ lastTermination: { reason: "Error", exitCode: 137, finishedAt: iso(T0) } })))
    assert.strictEqual(liveness._tag, "Unclassified")
    assert.match((liveness as any).reasons[0], /liveness/)
  })
  it("heap ceiling each side of the bumped limit (768Mi): above → heap_above_limit, equal → oom_killed", () => {
    assert.strictEqual(classOf(c(f(podFacts({}), 768 * 2 ** 20 + 1))), "heap_above_limit@0.93")
    assert.strictEqual(classOf(c(f(podFacts({}), 768 * 2 ** 20))), "oom_killed@0.95")
  })
})
