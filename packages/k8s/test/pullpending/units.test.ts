/**
 * Units of k8s.image-pull and k8s.pending: the kubelet's keyring matching, the fit check, each
 * classifier rule and its near misses ("pull access denied" never from the message alone; mixed
 * exclusions escalate with the breakdown; no candidate node; a rollback that would lower a request),
 * and the stuck-creating detector's 5-minute threshold on each side.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, Fact, Plan } from "@byteport/core"
import * as ImagePullClassifier from "../../src/classifiers/imagePull"
import * as PendingClassifier from "../../src/classifiers/pending"
import * as StuckCreating from "../../src/detectors/stuckCreating"
import * as Families from "../../src/runbooks/families"
import * as ImagePull from "../../src/runbooks/k8s.image-pull"
import * as Pending from "../../src/runbooks/k8s.pending"
import * as Fit from "../../src/probes/fit"
import * as PullSecrets from "../../src/probes/pullSecrets"
import * as Messages from "../../src/probes/messages"
import { iso, T0 } from "../pod/pods"
import { node, pendingPod } from "./builders"

const signal = { type: "k8s.pod.pending_too_long", target: { kind: "k8s.workload", ref: "prod/default/Deployment/api" }, observedAt: T0, evidence: { namespace: "default", pod: "api-1" } }

const rs = (name: string, revision: number, template: any, ready: number) => ({
  metadata: { name, annotations: { "deployment.kubernetes.io/revision": String(revision) }, ownerReferences: [{ kind: "Deployment", name: "api", controller: true }] },
  spec: { replicas: ready, template },
  status: { replicas: ready, readyReplicas: ready }
})

export const pendingFacts = (o: { pod?: any; nodes?: Array<Fit.FitNode>; pods?: Array<any>; claims?: Array<any>; configMaps?: Array<string>; secrets?: Array<string>; previous?: any; paused?: boolean } = {}) => {
  const pod = o.pod ?? pendingPod()
  const previous = o.previous ?? { spec: pod.spec }
  return PendingClassifier.factsFrom({
    pod,
    events: [],
    nodes: o.nodes ?? [node("node-1"), node("node-2")],
    pods: o.pods ?? [],
    claims: o.claims ?? [],
    configMaps: o.configMaps ?? [],
    secrets: o.secrets ?? [],
    deployment: { metadata: { name: "api", resourceVersion: "42", annotations: { "deployment.kubernetes.io/revision": "2" } }, spec: { template: { spec: pod.spec }, ...(o.paused ? { paused: true } : {}) } },
    replicaSets: [rs("api-rs1", 1, previous, 0), rs("api-rs2", 2, { spec: pod.spec }, 0)]
  })
}

const cls = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

describe("the runbooks in their families", () => {
  it("ids, families and precedence are the Families' (image-pull and pending at 20)", () => {
    for (const [rb, id] of [[ImagePull.make(), Families.Ids.imagePull], [Pending.make(), Families.Ids.pending]] as const) {
      assert.strictEqual(rb.id, id)
      assert.strictEqual(rb.family, Families.familyOf[id])
      assert.strictEqual(rb.precedence, 20)
      assert.strictEqual(rb.defaultMode, "dry_run")
    }
    assert.deepStrictEqual(ImagePull.make().signals, ["k8s.pod.image_pull_failed"])
    assert.deepStrictEqual(Pending.make().signals, ["k8s.pod.pending_too_long"])
  })
})

describe("PullSecrets: the kubelet's keyring", () => {
  it("Docker Hub aliases, globs, ports and path prefixes", () => {
    const yes: Array<[string, string]> = [
      ["https://index.docker.io/v1/", "nginx:1.27"],
      ["docker.io", "library/nginx"],
      ["index.docker.io", "acme/api:2"],
      ["registry-1.docker.io", "docker.io/acme/api"],
      ["*.example.com", "registry.example.com/shop/api:1.4.2"],
      ["registry.example.com/shop", "registry.example.com/shop/api:1.4.2"],
      ["https://registry.example.com:5000", "registry.example.com:5000/api@sha256:abc"]
    ]
    const no: Array<[string, string]> = [
      ["*.example.com", "a.b.example.com/api"],
      ["registry.example.com/other", "registry.example.com/shop/api"],
      ["registry.example.com", "registry.example.com:5000/api"],
      ["registry.example.com:5000", "registry.example.com/api"],
      ["quay.io", "nginx"],
      ["", "nginx"]
    ]
    for (const [k, i] of yes) assert.isTrue(PullSecrets.matches(k, i), `${k} ~ ${i}`)
    for (const [k, i] of no) assert.isFalse(PullSecrets.matches(k, i), `${k} !~ ${i}`)
    assert.strictEqual(PullSecrets.registryOf("nginx"), "docker.io")
    assert.strictEqual(PullSecrets.registryOf("localhost:5000/x"), "localhost:5000")
    assert.strictEqual(PullSecrets.tagOf("registry.example.com:5000/a/b"), "latest")
    assert.strictEqual(PullSecrets.tagOf("a/b:1@sha256:x"), "1")
    assert.isNull(PullSecrets.tagOf("a/b@sha256:x"))
  })

  it("authKeys keeps keys and whether they carry credentials, never a value; other types are named", () => {
    const cfg = { auths: { "registry.example.com": { auth: Buffer.from("u:p4ss").toString("base64") }, "quay.io": {} } }
    const k = PullSecrets.authKeys({ type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(JSON.stringify(cfg)).toString("base64") } })
    assert.deepStrictEqual(k, { type: "kubernetes.io/dockerconfigjson", keys: [{ key: "registry.example.com", hasCredentials: true }, { key: "quay.io", hasCredentials: false }], problem: null })
    const old = PullSecrets.authKeys({ type: "kubernetes.io/dockercfg", data: { ".dockercfg": Buffer.from(JSON.stringify({ "https://index.docker.io/v1/": { auth: "eA==" } })).toString("base64") } })
    assert.deepStrictEqual(old.keys, [{ key: "https://index.docker.io/v1/", hasCredentials: true }])
    assert.match(PullSecrets.authKeys({ type: "Opaque", data: {} }).problem!, /not a pull secret/)
    assert.match(PullSecrets.authKeys({ type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": "!!" } }).problem!, /not base64 JSON/)
  })
})

describe("Fit: written from the scheduling rules", () => {
  it("requests: containers summed, the largest init container, limits default requests; used requests subtract", () => {
    assert.deepStrictEqual(Fit.podRequests({ containers: [{ resources: { requests: { cpu: "100m" } } }, { resources: { limits: { memory: "1Gi" } } }], initContainers: [{ resources: { requests: { cpu: "2" } } }] }), { cpu: 2, memory: 2 ** 30, pods: 1 })
    const n = node("n", { mem: "1Gi" })
    assert.deepStrictEqual(Fit.check({ containers: [{ resources: { requests: { memory: "512Mi" } } }] }, n, []).reasons, [])
    const used = [{ spec: { containers: [{ resources: { requests: { memory: "768Mi" } } }] } }, { spec: { containers: [{ resources: { requests: { memory: "900Mi" } } }] }, status: { phase: "Succeeded" } }]
    assert.deepStrictEqual(Fit.check({ containers: [{ resources: { requests: { memory: "512Mi" } } }] }, n, used).reasons.map((r) => r.detail), ["Insufficient memory: requests 512Mi, 256Mi free of 1Gi"])
  })
  it("taints: NoSchedule/NoExecute untolerated; Exists with an empty key tolerates all; PreferNoSchedule ignored", () => {
    const n = node("n", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }, { key: "soft", effect: "PreferNoSchedule" }] })
    assert.deepStrictEqual(Fit.untoleratedTaints(n).map((t) => t.key), ["dedicated"])
    assert.deepStrictEqual(Fit.untoleratedTaints(n, [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }]), [])
    assert.deepStrictEqual(Fit.untoleratedTaints(n, [{ key: "dedicated", operator: "Equal", value: "cpu" }]).length, 1)
    assert.deepStrictEqual(Fit.untoleratedTaints(n, [{ operator: "Exists" }]), [])
  })
  it("selectors and required node affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt, matchFields)", () => {
    const n = node("node-1", { labels: { disktype: "ssd", gen: "5" } })
    const term = (matchExpressions: Array<any>, matchFields: Array<any> = []) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions, matchFields }] } } } })
    assert.deepStrictEqual(Fit.affinityMismatches({ nodeSelector: { disktype: "ssd" } }, n), [])
    assert.lengthOf(Fit.affinityMismatches({ nodeSelector: { disktype: "hdd" } }, n), 1)
    for (const [e, ok] of [
      [{ key: "disktype", operator: "In", values: ["ssd", "nvme"] }, true],
      [{ key: "disktype", operator: "NotIn", values: ["ssd"] }, false],
      [{ key: "zone", operator: "Exists" }, false],
      [{ key: "zone", operator: "DoesNotExist" }, true],
      [{ key: "gen", operator: "Gt", values: ["4"] }, true],
      [{ key: "gen", operator: "Lt", values: ["5"] }, false]
    ] as const) assert.strictEqual(Fit.affinityMismatches(term([e]), n).length === 0, ok, JSON.stringify(e))
    assert.deepStrictEqual(Fit.affinityMismatches(term([], [{ key: "metadata.name", operator: "In", values: ["node-1"] }]), n), [])
    assert.lengthOf(Fit.affinityMismatches(term([], [{ key: "metadata.name", operator: "In", values: ["node-2"] }]), n), 1)
  })
  it("cordoned and NotReady nodes are no candidates", () => {
    const fits = Fit.checkAll({ containers: [] }, [node("b", { cordoned: true }), node("a", { ready: false }), node("c")], [])
    assert.deepStrictEqual(fits.map((f) => [f.node, f.candidate, f.notCandidate]), [["a", false, "not_ready"], ["b", false, "cordoned"], ["c", true, null]])
  })
})

describe("k8s.pending classifier", () => {
  it("resource_exhaustion only when every candidate lacks a resource; the cordoned node does not count", () => {
    const big = pendingPod({ requests: { memory: "16Gi" } })
    const f = pendingFacts({ pod: big, nodes: [node("node-1", { cordoned: true, mem: "64Gi" }), node("node-2"), node("node-3")] })
    assert.strictEqual(cls(PendingClassifier.classify()(f)), "resource_exhaustion")
  })
  it("mixed: one candidate lacks memory, another has a taint → Unclassified with the per-node breakdown", () => {
    const p = pendingPod({ requests: { memory: "12Gi" } })
    const f = pendingFacts({ pod: p, nodes: [node("node-1", { mem: "8Gi" }), node("node-2", { mem: "16Gi", taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] })] })
    const c = PendingClassifier.classify()(f)
    assert.strictEqual(c._tag, "Unclassified")
    const steps = PendingClassifier.nextSteps(c, f).join("\n")
    assert.include(steps, "node-1: Insufficient memory")
    assert.include(steps, "node-2: untolerated taint dedicated=gpu:NoSchedule")
    assert.include(steps, "the nodes are excluded for different reasons")
  })
  it("no candidate at all (every node cordoned or NotReady) → Unclassified", () => {
    const f = pendingFacts({ nodes: [node("node-1", { cordoned: true }), node("node-2", { ready: false })] })
    const c = PendingClassifier.classify()(f)
    assert.strictEqual(c._tag, "Unclassified")
    assert.include(PendingClassifier.nextSteps(c, f).join("\n"), "no node is a candidate")
  })
  it("a node that fits although the pod is Pending → Unclassified (a reason BytePort does not model)", () => {
    const c = PendingClassifier.classify()(pendingFacts())
    assert.strictEqual(c._tag, "Unclassified")
  })
  it("storage_constraints: a missing or Pending claim; a Bound claim is no reason", () => {
    const vol = { volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }] }
    assert.strictEqual(cls(PendingClassifier.classify()(pendingFacts({ pod: pendingPod(vol) }))), "storage_constraints")
    assert.strictEqual(cls(PendingClassifier.classify()(pendingFacts({ pod: pendingPod(vol), claims: [{ metadata: { name: "data" }, status: { phase: "Pending" } }] }))), "storage_constraints")
    assert.strictEqual(PendingClassifier.classify()(pendingFacts({ pod: pendingPod(vol), claims: [{ metadata: { name: "data" }, status: { phase: "Bound" } }] }))._tag, "Unclassified")
  })
  it("missing_dependencies: a Secret → escalate, never a restore; a ConfigMap → restore with an escalation fallback; optional refs ignored", () => {
    const bound = { nodeName: "node-1" }
    const secret = pendingFacts({ pod: pendingPod({ ...bound, volumes: [{ name: "s", secret: { secretName: "db" } }] }) })
    const c1 = PendingClassifier.classify()(secret) as Classification.Classified
    assert.strictEqual(c1.class, "missing_dependencies")
    assert.deepStrictEqual(Plan.actions(PendingClassifier.plan(c1, secret, signal).root), [])
    const cm = pendingFacts({ pod: pendingPod({ ...bound, volumes: [{ name: "c", configMap: { name: "api-config" } }, { name: "o", configMap: { name: "opt", optional: true } }] }) })
    const c2 = PendingClassifier.classify()(cm) as Classification.Classified
    const plan = PendingClassifier.plan(c2, cm, signal)
    assert.deepStrictEqual(Plan.actions(plan.root).map((a) => [a.action.kind, a.action.params["name"]]), [["k8s.restoreConfigMap", "api-config"]])
    assert.strictEqual(plan.root._tag, "Fallback")
    assert.strictEqual(PendingClassifier.classify()(pendingFacts({ pod: pendingPod({ ...bound, volumes: [{ name: "c", configMap: { name: "api-config" } }] }), configMaps: ["api-config"] }))._tag, "Unclassified")
  })
  it("affinity_conflict: rollback only when the last revision changed placement and the previous template fits; else a proposal", () => {
    const now = pendingPod({ nodeSelector: { disktype: "ssd" } })
    const prev = { spec: { ...now.spec, nodeSelector: undefined } }
    const f = pendingFacts({ pod: now, previous: prev })
    const c = PendingClassifier.classify()(f) as Classification.Classified
    assert.strictEqual(c.class, "affinity_conflict")
    assert.deepStrictEqual(Plan.actions(PendingClassifier.plan(c, f, signal).root).map((a) => [a.action.kind, a.action.params["toRevision"], a.action.params["fromRevision"]]), [["k8s.rollbackDeployment", 1, 2]])
    // unchanged nodeSelector (revision 1 had it too) → proposal
    const same = pendingFacts({ pod: now })
    assert.strictEqual(PendingClassifier.plan(c, same, signal).root._tag, "Propose")
    // paused → proposal
    assert.strictEqual(PendingClassifier.plan(c, pendingFacts({ pod: now, previous: prev, paused: true }), signal).root._tag, "Propose")
    // the previous template does not fit either (a taint on every node) → proposal
    const tainted = [node("node-1", { taints: [{ key: "x", effect: "NoSchedule" }] }), node("node-2", { taints: [{ key: "x", effect: "NoSchedule" }] })]
    const f2 = pendingFacts({ pod: now, previous: prev, nodes: tainted })
    assert.strictEqual(PendingClassifier.plan(PendingClassifier.classify()(f2) as Classification.Classified, f2, signal).root._tag, "Propose")
  })
  it("a rollback that would lower a request is never planned (resource_exhaustion after a nodeSelector and a request raise)", () => {
    const now = pendingPod({ nodeSelector: { disktype: "ssd" }, requests: { memory: "16Gi" } })
    const prev = { spec: { containers: [{ name: "api", image: "registry.example.com/shop/api:1.4.2", resources: { requests: { memory: "128Mi" } } }] } }
    const f = pendingFacts({ pod: now, previous: prev })
    const c = PendingClassifier.classify()(f) as Classification.Classified
    assert.strictEqual(c.class, "resource_exhaustion")
    const plan = PendingClassifier.plan(c, f, signal)
    assert.strictEqual(plan.root._tag, "Propose")
    assert.deepStrictEqual(Plan.actions(plan.root), [])
  })
})

const pullPod = (o: { image?: string; message?: string; reason?: string; secrets?: Array<string>; node?: string } = {}): ImagePullClassifier.ObjPod => ({
  metadata: { name: "api-2", namespace: "default", ownerReferences: [{ kind: "ReplicaSet", name: "api-rs2", controller: true }] },
  spec: { nodeName: o.node ?? "node-1", containers: [{ name: "api", image: o.image ?? "registry.example.com/shop/api:2.0" }], ...(o.secrets ? { imagePullSecrets: o.secrets.map((name) => ({ name })) } : {}) },
  status: { containerStatuses: [{ name: "api", state: { waiting: { reason: o.reason ?? "ErrImagePull", message: o.message ?? "x" } } }] }
})
const pullSecret = (host: string) => ({ type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths: { [host]: { auth: "dTpw" } } })).toString("base64") } })
const pullFacts = (o: { pod: ImagePullClassifier.ObjPod; secrets?: Map<string, any>; previousImage?: string | null; deployment?: boolean }) => {
  const tpl = (image: string) => ({ spec: { containers: [{ name: "api", image }] } })
  return ImagePullClassifier.factsFrom({
    pod: o.pod,
    container: "api",
    events: [],
    secrets: o.secrets ?? new Map(),
    serviceAccount: null,
    deployment: o.deployment === false ? null : { metadata: { name: "api", annotations: { "deployment.kubernetes.io/revision": "2" } } },
    replicaSets: o.previousImage === null ? [] : [
      { metadata: { name: "api-rs1", annotations: { "deployment.kubernetes.io/revision": "1" }, ownerReferences: [{ kind: "Deployment", name: "api" }] }, spec: { template: tpl(o.previousImage ?? o.pod.spec.containers[0]!.image!) }, status: { readyReplicas: 2 } },
      { metadata: { name: "api-rs2", annotations: { "deployment.kubernetes.io/revision": "2" }, ownerReferences: [{ kind: "Deployment", name: "api" }] }, spec: { template: tpl(o.pod.spec.containers[0]!.image!) }, status: { readyReplicas: 0 } }
    ],
    pods: [o.pod],
    nodes: 3
  })
}
const DENIED = "failed to pull and unpack image \"docker.io/acme/api:2.0\": failed to resolve reference \"docker.io/acme/api:2.0\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"

describe("k8s.image-pull classifier", () => {
  it("explicit causes: 401 → auth_failure 0.90, not found → bad_tag 0.92, invalid → 0.85, each network cause → network 0.88", () => {
    const c = (message: string, reason = "ErrImagePull") => ImagePullClassifier.classify()(pullFacts({ pod: pullPod({ message, reason }) }))
    assert.deepInclude(c("failed to fetch oauth token: unexpected status: 401 Unauthorized"), { class: "auth_failure", confidence: 0.9 })
    assert.deepInclude(c("registry.example.com/shop/api:2.0: not found"), { class: "bad_tag", confidence: 0.92 })
    assert.deepInclude(c("couldn't parse image reference \"Bad:Name\": invalid reference format", "InvalidImageName"), { class: "bad_tag", confidence: 0.85 })
    for (const m of ["dial tcp: lookup registry.example.com on 10.96.0.10:53: no such host", "dial tcp 10.0.0.1:443: i/o timeout", "x509: certificate signed by unknown authority", "proxyconnect tcp: dial tcp 10.0.0.9:3128: connect: connection refused"]) {
      assert.deepInclude(c(m), { class: "network_misconfiguration", confidence: 0.88 }, m)
    }
  })
  it("the ImagePullBackOff back-off message's ErrImagePull tail is the error", () => {
    const f = pullFacts({ pod: pullPod({ reason: "ImagePullBackOff", message: "Back-off pulling image \"x\": ErrImagePull: dial tcp 10.0.0.1:443: i/o timeout" }) })
    assert.strictEqual(Fact.value(f.failure)!.cause, "timeout")
  })
  it("\"pull access denied\" is decided from the facts, never the message alone", () => {
    const pod = (secrets?: Array<string>) => pullPod({ image: "docker.io/acme/api:2.0", message: DENIED, ...(secrets ? { secrets } : {}) })
    assert.strictEqual(Messages.imagePull(DENIED).cause, "denied_or_not_found")
    // no credentials for docker.io, image unchanged → auth_failure 0.80
    assert.deepInclude(ImagePullClassifier.classify()(pullFacts({ pod: pod() })), { class: "auth_failure", confidence: 0.8 })
    // the reference changed in the last rollout and the previous one on the same registry ran → bad_tag 0.78
    assert.deepInclude(ImagePullClassifier.classify()(pullFacts({ pod: pod(), previousImage: "docker.io/acme/api:1.9" })), { class: "bad_tag", confidence: 0.78 })
    // credentials for docker.io offered, unchanged image that ran → rejected credentials 0.75
    const covered = pullFacts({ pod: pod(["hub"]), secrets: new Map([["hub", pullSecret("https://index.docker.io/v1/")]]) })
    assert.deepInclude(ImagePullClassifier.classify()(covered), { class: "auth_failure", confidence: 0.75 })
    // credentials offered, no previous revision to compare with → no class
    const unknownRun = ImagePullClassifier.factsFrom({ ...({} as any), pod: pod(["hub"]), container: "api", events: [], secrets: new Map([["hub", pullSecret("docker.io")]]), serviceAccount: null, deployment: { metadata: { name: "api" } }, replicaSets: [], pods: [], nodes: 1 })
    assert.strictEqual(ImagePullClassifier.classify()(unknownRun)._tag, "Unclassified")
    // the previous revision unreadable → Indeterminate, never a class
    const noHistory = pullFacts({ pod: pod(), deployment: false })
    assert.strictEqual(ImagePullClassifier.classify()(noHistory)._tag, "Indeterminate")
    // a secret BytePort could not read is never taken as "no credentials"
    const unread = pullFacts({ pod: pod(["hub"]), previousImage: null })
    assert.strictEqual(ImagePullClassifier.classify()(unread)._tag, "Unclassified")
  })
  it("near miss: a platform-mismatch pull is none of the classes", () => {
    const c = ImagePullClassifier.classify()(pullFacts({ pod: pullPod({ message: "no match for platform in manifest: not found" }) }))
    assert.strictEqual(c._tag, "Unclassified")
  })
})

describe("StuckCreatingDetector: bound and stuck in set-up", () => {
  const stuck = (minutes: number) => ({
    metadata: { name: "api-1", namespace: "default", creationTimestamp: iso(T0) },
    spec: { nodeName: "node-1", containers: [{ name: "api" }] },
    status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: iso(T0 + minutes) }], containerStatuses: [{ name: "api", restartCount: 0, ready: false, state: { waiting: { reason: "ContainerCreating" } } }] }
  }) as any
  it("since the PodScheduled transition; a running, unscheduled or non-Pending pod is not stuck", () => {
    assert.strictEqual(StuckCreating.stuckSince(stuck(1000)), T0 + 1000)
    assert.isUndefined(StuckCreating.stuckSince({ ...stuck(0), spec: { containers: [{ name: "api" }] } }))
    assert.isUndefined(StuckCreating.stuckSince({ ...stuck(0), status: { ...stuck(0).status, phase: "Running" } }))
    assert.isUndefined(StuckCreating.stuckSince({ ...stuck(0), status: { ...stuck(0).status, containerStatuses: [{ name: "api", restartCount: 0, ready: false, state: { waiting: { reason: "CrashLoopBackOff" } } }] } }))
  })
})
