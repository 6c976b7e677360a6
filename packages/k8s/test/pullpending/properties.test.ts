/**
 * The "never"s of k8s.pending and k8s.image-pull as properties over generated clusters:
 * - pending plans act only through `k8s.restoreConfigMap` (a ConfigMap the pod needs and that does
 *   not exist — never a Secret) or `k8s.rollbackDeployment` (only when the last revision changed
 *   placement, the previous template fits a candidate node, the Deployment is not paused and no
 *   request would be lowered); everything else is a proposal or an escalation: never lower
 *   requests, relax affinity, add tolerations, evict others or touch storage; a node class is
 *   assigned only when its reasons exclude every candidate node;
 * - image-pull plans never act, and no credential value ever reaches a plan or a step;
 *   "pull access denied" is never classified without the previous revision.
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact, Plan } from "@byteport/core"
import * as fc from "fast-check"
import * as ImagePullClassifier from "../../src/classifiers/imagePull"
import * as PendingClassifier from "../../src/classifiers/pending"
import * as Fit from "../../src/probes/fit"
import * as Quantity from "../../src/Quantity"
import { node, pendingPod } from "./builders"

const signal = { type: "k8s.pod.pending_too_long", target: { kind: "k8s.workload", ref: "prod/default/Deployment/api" }, observedAt: 0, evidence: { namespace: "default", pod: "api-1" } }

const arbNode = (i: number) =>
  fc.record({
    mem: fc.constantFrom("1Gi", "4Gi", "8Gi", "16Gi"),
    ssd: fc.boolean(),
    taint: fc.boolean(),
    cordoned: fc.boolean(),
    ready: fc.boolean()
  }).map((o) => node(`node-${i}`, { mem: o.mem, labels: o.ssd ? { disktype: "ssd" } : {}, ...(o.taint ? { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] } : {}), cordoned: o.cordoned, ready: o.ready || !o.cordoned }))

const arbSpec = fc.record({
  mem: fc.constantFrom("128Mi", "2Gi", "6Gi", "12Gi"),
  ssd: fc.boolean(),
  tolerate: fc.boolean(),
  volumes: fc.subarray([
    { name: "data", persistentVolumeClaim: { claimName: "data" } },
    { name: "c", configMap: { name: "cm-api" } },
    { name: "s", secret: { secretName: "sec-db" } }
  ]),
  bound: fc.boolean()
})

const toPod = (s: any) =>
  pendingPod({
    requests: { memory: s.mem },
    ...(s.ssd ? { nodeSelector: { disktype: "ssd" } } : {}),
    ...(s.tolerate ? { tolerations: [{ key: "dedicated", operator: "Exists" }] } : {}),
    volumes: s.volumes,
    ...(s.bound ? { nodeName: "node-0" } : {})
  })

const arbCluster = fc.record({
  nodes: fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbNode(i)))),
  now: arbSpec,
  prev: arbSpec,
  claimPhase: fc.constantFrom(undefined, "Pending", "Bound", "Lost"),
  configMap: fc.boolean(),
  secret: fc.boolean(),
  paused: fc.boolean()
})

describe("k8s.pending: the nevers, property-tested", () => {
  it("acts only through a snapshot restore of a missing ConfigMap or a viable rollback; node classes exclude every candidate", () => {
    const seen = { rollback: 0, restore: 0, propose: 0 }
    fc.assert(
      fc.property(arbCluster, (c) => {
        const pod = toPod(c.now)
        const prevSpec = toPod({ ...c.prev, bound: false }).spec
        const facts = PendingClassifier.factsFrom({
          pod,
          events: [],
          nodes: c.nodes,
          pods: [],
          claims: c.claimPhase ? [{ metadata: { name: "data" }, status: { phase: c.claimPhase } }] : [],
          configMaps: c.configMap ? ["cm-api"] : [],
          secrets: c.secret ? ["sec-db"] : [],
          deployment: { metadata: { name: "api", resourceVersion: "7", annotations: { "deployment.kubernetes.io/revision": "2" } }, spec: { template: { spec: pod.spec }, ...(c.paused ? { paused: true } : {}) } },
          replicaSets: [
            { metadata: { name: "api-rs1", annotations: { "deployment.kubernetes.io/revision": "1" }, ownerReferences: [{ kind: "Deployment", name: "api" }] }, spec: { template: { spec: prevSpec } } },
            { metadata: { name: "api-rs2", annotations: { "deployment.kubernetes.io/revision": "2" }, ownerReferences: [{ kind: "Deployment", name: "api" }] }, spec: { template: { spec: pod.spec } } }
          ]
        })
        const cls = PendingClassifier.classify()(facts)
        if (cls._tag !== "Classified") return
        const fits = Fact.value(facts.fits)!
        if (cls.class === "resource_exhaustion" || cls.class === "affinity_conflict") assert.isTrue(PendingClassifier.excludesAll(fits, cls.class as never), "its reasons exclude every candidate")
        const plan = PendingClassifier.plan(cls, facts, signal)
        if (plan.root._tag === "Propose") seen.propose++
        for (const { action } of Plan.actions(plan.root)) {
          seen[action.kind === "k8s.rollbackDeployment" ? "rollback" : "restore"]++
          assert.include(["k8s.restoreConfigMap", "k8s.rollbackDeployment"], action.kind)
          assert.strictEqual(action.target.ref, "prod/default/Deployment/api", "only the pod's workload")
          if (action.kind === "k8s.restoreConfigMap") {
            assert.strictEqual(action.params["name"], "cm-api", "only the ConfigMap the pod needs, never a Secret")
            assert.isFalse(c.configMap, "only a ConfigMap that does not exist")
            assert.isTrue(c.now.volumes.some((v: any) => v.configMap))
          } else {
            assert.isFalse(c.paused)
            assert.isTrue(c.now.ssd !== c.prev.ssd || c.now.tolerate !== c.prev.tolerate, "the last revision changed placement (nodeSelector or tolerations)")
            assert.isTrue(Fit.fitsSomewhere(Fit.checkAll(prevSpec, c.nodes, [])), "the previous template fits a candidate")
            assert.isAtMost(Quantity.parse(c.now.mem)!, Quantity.parse(c.prev.mem)!, "a rollback never lowers a request")
            assert.deepStrictEqual([action.params["toRevision"], action.params["fromRevision"]], [1, 2])
          }
        }
        const walk = (s: Plan.Step): void => {
          if (s._tag === "Propose") assert.isUndefined(s.proposal.patch)
          for (const k of ["steps"] as const) for (const x of ((s as any)[k] ?? []) as Array<Plan.Step>) walk(x)
          if (s._tag === "Fallback") {
            walk(s.primary)
            walk(s.otherwise)
          }
        }
        walk(plan.root)
        if (cls.class === "storage_constraints") assert.deepStrictEqual(Plan.actions(plan.root), [], "storage is never touched")
      }),
      { numRuns: 2000 }
    )
    // not vacuous: every kind of plan was generated
    for (const [k, n] of Object.entries(seen)) assert.isAbove(n, 0, k)
  })
})

const messages = [
  "failed to fetch oauth token: unexpected status: 401 Unauthorized",
  "registry.example.com/shop/api:2.0: not found",
  "dial tcp 10.0.0.1:443: i/o timeout",
  "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope",
  "no match for platform in manifest: not found",
  "x509: certificate signed by unknown authority"
]

describe("k8s.image-pull: the nevers, property-tested", () => {
  it("never acts; no credential value reaches the plan or the steps; \"pull access denied\" needs the previous revision", () => {
    fc.assert(
      fc.property(
        fc.record({
          message: fc.constantFrom(...messages),
          user: fc.stringMatching(/^[a-z]{4,10}$/),
          password: fc.stringMatching(/^[A-Za-z0-9]{12,24}$/),
          host: fc.constantFrom("registry.example.com", "https://registry.example.com", "*.example.com", "quay.io", "https://index.docker.io/v1/"),
          image: fc.constantFrom("registry.example.com/shop/api:2.0", "acme/api:2.0"),
          previous: fc.constantFrom("same", "other", "none", "unreadable")
        }),
        (o) => {
          const cfg = { auths: { [o.host]: { username: o.user, password: o.password, auth: Buffer.from(`${o.user}:${o.password}`).toString("base64") } } }
          const pod: ImagePullClassifier.ObjPod = {
            metadata: { name: "api-2", namespace: "default", ownerReferences: [{ kind: "ReplicaSet", name: "api-rs2", controller: true }] },
            spec: { nodeName: "node-1", imagePullSecrets: [{ name: "regcred" }], containers: [{ name: "api", image: o.image }] },
            status: { containerStatuses: [{ name: "api", state: { waiting: { reason: "ErrImagePull", message: o.message } } }] }
          }
          const tpl = (image: string) => ({ spec: { containers: [{ name: "api", image }] } })
          const facts = ImagePullClassifier.factsFrom({
            pod,
            container: "api",
            events: [],
            secrets: new Map([["regcred", { type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(JSON.stringify(cfg)).toString("base64") } }]]),
            serviceAccount: null,
            deployment: o.previous === "unreadable" ? null : { metadata: { name: "api", annotations: { "deployment.kubernetes.io/revision": "2" } } },
            replicaSets: o.previous === "none" ? [] : [
              { metadata: { name: "api-rs1", annotations: { "deployment.kubernetes.io/revision": "1" }, ownerReferences: [{ kind: "Deployment", name: "api" }] }, spec: { template: tpl(o.previous === "same" ? o.image : `${o.image}-old`) }, status: { readyReplicas: 1 } },
              { metadata: { name: "api-rs2", annotations: { "deployment.kubernetes.io/revision": "2" }, ownerReferences: [{ kind: "Deployment", name: "api" }] }, spec: { template: tpl(o.image) } }
            ],
            pods: [pod],
            nodes: 3
          })
          const c = ImagePullClassifier.classify()(facts)
          const out = JSON.stringify([facts, c, ImagePullClassifier.nextSteps(c, facts), c._tag === "Classified" ? ImagePullClassifier.plan(c, facts, signal) : null])
          for (const secret of [o.password, cfg.auths[o.host]!.auth]) assert.notInclude(out, secret)
          if (c._tag === "Classified") assert.deepStrictEqual(Plan.actions(ImagePullClassifier.plan(c, facts, signal).root), [])
          if (o.message.startsWith("pull access denied") && o.previous === "unreadable") assert.notStrictEqual(c._tag, "Classified")
        }
      ),
      { numRuns: 300 }
    )
  })
})
