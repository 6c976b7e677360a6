/**
 * k8s.image-pull: facts, classifier and plans. The runbook writes nothing: every class escalates
 * with specific steps.
 *
 * **Facts** (pure, from the objects `kubectl get -o json` shows; the live probe and the recorded
 * fixtures go through the same {@link factsFrom}):
 * - `pod`: the failing container, its image, the waiting reason, node, ServiceAccount, workload;
 * - `failure`: the runtime's pull error (`PodMessages.imagePull`: the waiting message, the
 *   `Back-off pulling image …: ErrImagePull: <error>` tail, else the latest `Failed` Event);
 * - `credentials`: the pull secrets the kubelet would offer (the pod's `imagePullSecrets`, else
 *   its ServiceAccount's), each with the `auths` keys that match the image's registry as the
 *   kubelet's keyring matches them (`PullSecrets`) — names and keys only, never a value;
 * - `previous`: the container's image in the previous revision and whether that revision ran;
 * - `spread`: the nodes where the workload's pods fail to pull this image and where they pulled it.
 *
 * **Classes** (first match; ≥ 0.70; runtime messages first, then facts for the ambiguous one):
 *
 * | class | rule | confidence |
 * |---|---|---|
 * | auth_failure | the registry answered 401/403 (`unauthorized`) | 0.90 |
 * | bad_tag | the manifest is not found (`not found`, `manifest unknown`) | 0.92 |
 * | bad_tag | the reference does not parse (`InvalidImageName`) | 0.85 |
 * | network_misconfiguration | DNS, timeout, refused, TLS (x509) or proxy on the way to the registry | 0.88 |
 * | bad_tag | "pull access denied" for a reference the last rollout changed, while the previous reference on the same registry ran | 0.78 |
 * | auth_failure | "pull access denied" and no offered pull secret has an `auths` entry for the registry | 0.80 |
 * | auth_failure | "pull access denied" for an unchanged image that ran before, with an entry for the registry (rejected or rotated credentials) | 0.75 |
 *
 * "pull access denied, repository does not exist or may require authorization" is never decided
 * from the message alone. Anything else (a platform-mismatch pull, `ErrImageNeverPull`) is
 * Unclassified and escalates with what the runtime said.
 *
 * @since 0.3.0
 */
import { type Classification, Classifier, Fact, Plan, type Signal } from "@byteport/core"
import * as LastDeploy from "../probes/lastDeploy"
import type { PodEvent } from "../probes/events"
import * as Messages from "../probes/messages"
import * as PullSecrets from "../probes/pullSecrets"

/** The runbook id. */
export const ID = "k8s.image-pull"

/** The classes, in the seed's order. */
export const CLASSES = ["auth_failure", "bad_tag", "network_misconfiguration"] as const

/** A class. */
export type ImagePullClass = typeof CLASSES[number]

/** The failing container. */
export interface PullPod {
  readonly namespace: string
  readonly name: string
  readonly container: string
  readonly init: boolean
  readonly image: string
  readonly registry: string
  readonly reason: string | null
  readonly node: string | null
  readonly serviceAccount: string
  readonly workload: { readonly kind: string; readonly name: string } | null
}

/** One pull secret the kubelet would offer. */
export interface OfferedSecret {
  readonly name: string
  readonly source: "pod" | "serviceAccount"
  readonly exists: boolean
  readonly type: string | null
  /** The `auths` keys matching the image's registry (keys only). */
  readonly matching: ReadonlyArray<string>
  /** Matching entries that carry no credential at all. */
  readonly emptyMatching: ReadonlyArray<string>
  /** How many `auths` entries it has in all. */
  readonly entries: number
  readonly problem: string | null
}

/** The pull secrets offered for the registry. */
export interface Credentials {
  readonly registry: string
  readonly serviceAccount: string
  /** Where the offered secrets come from: the pod's own list, else its ServiceAccount's. */
  readonly source: "pod" | "serviceAccount" | "none"
  readonly secrets: ReadonlyArray<OfferedSecret>
  /** Whether some offered secret has an entry with credentials for the registry. */
  readonly covered: boolean
}

/** The container's image in the previous revision. */
export interface Previous {
  readonly revision: number
  readonly image: string
  /** Whether the previous revision ran (ready pods then or now). */
  readonly ran: boolean
  readonly currentRevision: number | null
}

/** Where the image fails and where it was pulled. */
export interface Spread {
  readonly failingNodes: ReadonlyArray<string>
  readonly pulledNodes: ReadonlyArray<string>
  readonly totalNodes: number
}

/** The facts. */
export interface ImagePullFacts {
  readonly pod: PullPod
  readonly failure: Messages.PullFailure & { readonly message: string }
  readonly credentials: Credentials
  /** Null: no previous revision (a bare pod, revision 1, or the image is not a Deployment's). */
  readonly previous: Previous | null
  readonly spread: Spread
}

/** What the facts are computed from (wire JSON, as the API or `kubectl get -o json` returns it). */
export interface Objects {
  readonly pod: ObjPod
  readonly container: string
  readonly events: ReadonlyArray<PodEvent>
  /** The offered secrets by name (null: it does not exist). */
  readonly secrets: ReadonlyMap<string, PullSecrets.SecretLike | null>
  readonly serviceAccount: { readonly imagePullSecrets?: ReadonlyArray<{ readonly name?: string | undefined }> | undefined } | null
  readonly deployment: LastDeploy.HistoryDeployment | null
  readonly replicaSets: ReadonlyArray<LastDeploy.HistoryReplicaSet>
  /** The pods of the same workload (or just the pod). */
  readonly pods: ReadonlyArray<ObjPod>
  readonly nodes: number
}

/** The pod fields read. */
export interface ObjPod {
  readonly metadata: { readonly name: string; readonly namespace?: string | undefined; readonly uid?: string | undefined; readonly ownerReferences?: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly controller?: boolean | undefined }> | undefined }
  readonly spec: {
    readonly nodeName?: string | undefined
    readonly serviceAccountName?: string | undefined
    readonly imagePullSecrets?: ReadonlyArray<{ readonly name?: string | undefined }> | undefined
    readonly containers: ReadonlyArray<{ readonly name: string; readonly image?: string | undefined }>
    readonly initContainers?: ReadonlyArray<{ readonly name: string; readonly image?: string | undefined }> | undefined
  }
  readonly status?: {
    readonly containerStatuses?: ReadonlyArray<PullStatus> | undefined
    readonly initContainerStatuses?: ReadonlyArray<PullStatus> | undefined
  } | undefined
}

/** The container status fields read. */
export interface PullStatus {
  readonly name: string
  readonly image?: string | undefined
  readonly imageID?: string | undefined
  readonly state?: { readonly waiting?: { readonly reason?: string | undefined; readonly message?: string | null | undefined } | undefined; readonly running?: unknown } | undefined
}

/** The secret names the kubelet would offer, and where they come from. */
export const offeredSecretNames = (pod: ObjPod, sa: Objects["serviceAccount"]): { readonly source: Credentials["source"]; readonly names: ReadonlyArray<string> } => {
  const own = (pod.spec.imagePullSecrets ?? []).flatMap((s) => (s.name ? [s.name] : []))
  if (own.length > 0) return { source: "pod", names: own }
  const fromSa = (sa?.imagePullSecrets ?? []).flatMap((s) => (s.name ? [s.name] : []))
  return fromSa.length > 0 ? { source: "serviceAccount", names: fromSa } : { source: "none", names: [] }
}

/** The runtime's pull error of a container: the waiting message (its back-off tail), else the latest `Failed` pull Event. */
export const pullError = (waiting: { readonly reason?: string | undefined; readonly message?: string | null | undefined } | undefined, events: ReadonlyArray<PodEvent>, container: string): string | null => {
  const m = waiting?.message ?? null
  if (m && waiting?.reason === "ErrImagePull") return m
  if (m) {
    const tail = /ErrImagePull: ([\s\S]+)$/.exec(m)
    if (tail) return tail[1]!
    if (waiting?.reason === "InvalidImageName" || waiting?.reason === "ErrImageNeverPull") return m
  }
  const e = events.filter((x) => x.reason === "Failed" && (x.container === null || x.container === container) && /^Failed to pull image/.test(x.message)).at(-1)
  return e ? e.message.replace(/^Failed to pull image "[^"]+": /, "") : m
}

const statusesOf = (p: ObjPod) => [
  ...(p.status?.initContainerStatuses ?? []).map((s) => ({ init: true, s })),
  ...(p.status?.containerStatuses ?? []).map((s) => ({ init: false, s }))
]

const PULL_REASONS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"])

/** The Deployment owning a pod through its ReplicaSet, if any. */
export const deploymentNameOf = (pod: ObjPod, rss: ReadonlyArray<LastDeploy.HistoryReplicaSet>): string | null => {
  const rsName = pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "ReplicaSet")?.name
  if (!rsName) return null
  const rs = rss.find((r) => r.metadata?.name === rsName)
  return rs?.metadata?.ownerReferences?.find((o) => o.kind === "Deployment")?.name ?? null
}

/** The facts from the objects (pure). Facts that cannot be computed are Unknown with the reason. */
export const factsFrom = (o: Objects): Fact.Facts<ImagePullFacts> => {
  const p = o.pod
  const ns = p.metadata.namespace ?? "default"
  const st = statusesOf(p).find((x) => x.s.name === o.container)
  const spec = [...(p.spec.initContainers ?? []).map((c) => ({ init: true, c })), ...p.spec.containers.map((c) => ({ init: false, c }))].find((x) => x.c.name === o.container)
  const image = spec?.c.image ?? st?.s.image ?? ""
  const owner = p.metadata.ownerReferences?.find((x) => x.controller === true)
  const deployment = deploymentNameOf(p, o.replicaSets)
  const pod: PullPod = {
    namespace: ns,
    name: p.metadata.name,
    container: o.container,
    init: spec?.init ?? st?.init ?? false,
    image,
    registry: PullSecrets.registryOf(image),
    reason: st?.s.state?.waiting?.reason ?? null,
    node: p.spec.nodeName ?? null,
    serviceAccount: p.spec.serviceAccountName ?? "default",
    workload: deployment ? { kind: "Deployment", name: deployment } : owner ? { kind: owner.kind, name: owner.name } : null
  }
  const err = pullError(st?.s.state?.waiting, o.events, o.container)
  const failure: Fact.Fact<ImagePullFacts["failure"]> = err === null
    ? Fact.unknown("pull error", `container ${o.container} shows no pull error (waiting ${pod.reason ?? "none"}, no Failed pull Event)`)
    : Fact.known({ ...Messages.imagePull(err), message: err })
  const offered = offeredSecretNames(p, o.serviceAccount)
  const secrets = offered.names.map((name): OfferedSecret => {
    const s = o.secrets.get(name)
    if (s === undefined || s === null) return { name, source: offered.source === "serviceAccount" ? "serviceAccount" : "pod", exists: false, type: null, matching: [], emptyMatching: [], entries: 0, problem: s === undefined ? "not read" : "does not exist (the kubelet pulls without it: FailedToRetrieveImagePullSecret)" }
    const k = PullSecrets.authKeys(s)
    const match = k.keys.filter((x) => PullSecrets.matches(x.key, image))
    return {
      name,
      source: offered.source === "serviceAccount" ? "serviceAccount" : "pod",
      exists: true,
      type: k.type,
      matching: match.filter((x) => x.hasCredentials).map((x) => x.key),
      emptyMatching: match.filter((x) => !x.hasCredentials).map((x) => x.key),
      entries: k.keys.length,
      problem: k.problem
    }
  })
  const credentials: Credentials = { registry: pod.registry, serviceAccount: pod.serviceAccount, source: offered.source, secrets, covered: secrets.some((s) => s.matching.length > 0) }
  let previous: Fact.Fact<Previous | null>
  if (pod.workload?.kind !== "Deployment") previous = Fact.known(null)
  else if (o.deployment === null) previous = Fact.unknown("rollout history", `Deployment ${ns}/${pod.workload.name} could not be read`)
  else {
    const diff = LastDeploy.templateDiff(o.deployment, o.replicaSets)
    const prevImage = diff.previous?.images.find((i) => i.container === o.container)?.image
    const ranNow = o.pods.some((x) => statusesOf(x).some((y) => y.s.name === o.container && y.s.state?.running !== undefined && (y.s.image === prevImage || x.spec.containers.some((c) => c.name === o.container && c.image === prevImage))))
    previous = Fact.known(diff.previous && prevImage
      ? { revision: diff.previous.revision, image: prevImage, ran: diff.previous.readyReplicas > 0 || diff.previous.availableReplicas > 0 || ranNow, currentRevision: diff.current?.revision ?? null }
      : null)
  }
  const failing = new Set<string>()
  const pulled = new Set<string>()
  // the subject's node failed to pull when its error is known, even while the kubelet retries (ContainerCreating)
  if (err !== null && pod.node) failing.add(pod.node)
  for (const x of o.pods) {
    const node = x.spec.nodeName
    if (!node) continue
    for (const y of statusesOf(x)) {
      if (y.s.name !== o.container) continue
      const img = [...(x.spec.initContainers ?? []), ...x.spec.containers].find((c) => c.name === o.container)?.image ?? y.s.image
      if (img !== image) continue
      if (PULL_REASONS.has(y.s.state?.waiting?.reason ?? "")) failing.add(node)
      else if (y.s.imageID) pulled.add(node)
    }
  }
  return {
    pod: Fact.known(pod),
    failure,
    credentials: Fact.known(credentials),
    previous,
    spread: Fact.known({ failingNodes: [...failing].sort(), pulledNodes: [...pulled].filter((n) => !failing.has(n)).sort(), totalNodes: o.nodes })
  }
}

/** Per-rule confidences (documented above; each overridable by class through `firstMatch`'s `confidences`). */
export const confidences = {
  unauthorized: 0.9,
  notFound: 0.92,
  invalidName: 0.85,
  network: 0.88,
  deniedChangedReference: 0.78,
  deniedNoCredentials: 0.8,
  deniedRejectedCredentials: 0.75
} as const

const rule = Classifier.rule<ImagePullFacts>()
const secretsText = (c: Credentials): string =>
  c.secrets.length === 0
    ? `no pull secret is offered (the pod names none; ServiceAccount ${c.serviceAccount} names none)`
    : c.secrets.map((s) => `${s.name} (${s.source === "pod" ? "pod" : `ServiceAccount ${c.serviceAccount}`}): ${!s.exists ? s.problem : s.matching.length > 0 ? `auths entry ${s.matching.join(", ")} matches ${c.registry}` : s.emptyMatching.length > 0 ? `auths entry ${s.emptyMatching.join(", ")} without credentials` : `no auths entry for ${c.registry}${s.problem ? ` (${s.problem})` : ` (${s.entries} other entr${s.entries === 1 ? "y" : "ies"})`}`}`).join("; ")

/** The rules, in order. */
export const rules: ReadonlyArray<Classifier.Rule<ImagePullFacts>> = [
  rule({
    class: "auth_failure",
    confidence: confidences.unauthorized,
    needs: ["failure", "credentials"],
    description: "the registry answered 401/403",
    when: (f) => ({
      matched: f.failure.cause === "unauthorized",
      reasons: [`the registry ${f.credentials.registry} rejected the pull (401/403)`, `offered pull secrets: ${secretsText(f.credentials)}`],
      evidence: { cause: f.failure.cause, covered: f.credentials.covered }
    })
  }),
  rule({
    class: "bad_tag",
    confidence: confidences.notFound,
    needs: ["failure", "pod"],
    when: (f) => ({ matched: f.failure.cause === "not_found", reasons: [`${f.pod.image}: the registry has no such manifest (tag or digest)`], evidence: { cause: f.failure.cause } })
  }),
  rule({
    class: "bad_tag",
    confidence: confidences.invalidName,
    needs: ["failure", "pod"],
    when: (f) => ({ matched: f.failure.cause === "invalid_name", reasons: [`${f.pod.image}: not a valid image reference`], evidence: { cause: f.failure.cause } })
  }),
  rule({
    class: "network_misconfiguration",
    confidence: confidences.network,
    needs: ["failure", "spread"],
    when: (f) => ({
      matched: f.failure.network,
      reasons: [`the pull fails on the network path to ${f.failure.registry ?? "the registry"}: ${f.failure.cause}`],
      evidence: { cause: f.failure.cause, failingNodes: [...f.spread.failingNodes], pulledNodes: [...f.spread.pulledNodes] }
    })
  }),
  rule({
    class: "bad_tag",
    confidence: confidences.deniedChangedReference,
    needs: ["failure", "pod", "previous"],
    when: (f) => {
      const p = f.previous
      const matched = f.failure.cause === "denied_or_not_found" && p !== null && p.ran && p.image !== f.pod.image && PullSecrets.registryOf(p.image) === f.pod.registry
      return { matched, reasons: matched ? [`"pull access denied" for ${f.pod.image}, while revision ${p!.revision}'s ${p!.image} on the same registry ran: the new reference does not exist`] : [] }
    }
  }),
  rule({
    class: "auth_failure",
    confidence: confidences.deniedNoCredentials,
    needs: ["failure", "credentials"],
    when: (f) => {
      const matched = f.failure.cause === "denied_or_not_found" && !f.credentials.covered && f.credentials.secrets.every((s) => s.exists || s.problem !== "not read")
      return { matched, reasons: matched ? [`"pull access denied" and no offered pull secret has credentials for ${f.credentials.registry}`, `offered pull secrets: ${secretsText(f.credentials)}`] : [] }
    }
  }),
  rule({
    class: "auth_failure",
    confidence: confidences.deniedRejectedCredentials,
    needs: ["failure", "credentials", "previous", "pod"],
    when: (f) => {
      const p = f.previous
      const matched = f.failure.cause === "denied_or_not_found" && f.credentials.covered && p !== null && p.image === f.pod.image && p.ran
      return { matched, reasons: matched ? [`"pull access denied" with credentials for ${f.credentials.registry} offered, for an image unchanged since revision ${p!.revision}, which ran: the credentials are rejected (rotated?)`, `offered pull secrets: ${secretsText(f.credentials)}`] : [] }
    }
  })
]

/** The classifier. */
export const classify = (options: Classifier.FirstMatchOptions = {}): Classifier.Classifier<ImagePullFacts> => Classifier.firstMatch(rules, options)

const NETWORK_STEPS: Record<string, string> = {
  dns: "DNS: the registry's name does not resolve from the node — check CoreDNS/the node's resolv.conf and the registry hostname",
  timeout: "timeout: nothing answers on the way to the registry — check egress firewall rules, NAT, NetworkPolicy and the registry's availability",
  refused: "connection refused: the registry host answers but nothing listens — check the registry's port and load balancer",
  x509: "TLS: the registry's certificate is not trusted by the node's runtime — check the CA bundle of containerd/CRI-O or the registry's certificate",
  proxy: "proxy: the runtime's HTTP(S)_PROXY rejects or cannot reach the registry — check the proxy settings and NO_PROXY of containerd/CRI-O"
}

/** The steps a human follows, per class (no credential value, ever). */
export const steps = (cls: string | undefined, facts: Fact.Facts<ImagePullFacts>): ReadonlyArray<string> => {
  const pod = Fact.value(facts.pod)
  const failure = Fact.value(facts.failure)
  const creds = Fact.value(facts.credentials)
  const prev = Fact.value(facts.previous)
  const spread = Fact.value(facts.spread)
  const where = pod ? `${pod.namespace}/${pod.name} (container ${pod.container}${pod.node ? `, node ${pod.node}` : ""})` : "the pod"
  const out: Array<string> = []
  if (failure) out.push(`runtime error on ${where}: ${failure.message}`)
  if (cls === "auth_failure" && creds && pod) {
    out.push(`registry ${creds.registry}; offered pull secrets: ${secretsText(creds)}`)
    out.push(creds.covered
      ? `the credentials for ${creds.registry} are rejected: renew them in ${creds.secrets.filter((s) => s.matching.length > 0).map((s) => s.name).join(", ")} (kubectl create secret docker-registry <name> --docker-server=${creds.registry} … --dry-run=client -o yaml | kubectl apply -f -)`
      : `add a kubernetes.io/dockerconfigjson secret with an auths entry for ${creds.registry} and list it in the pod template's imagePullSecrets or ServiceAccount ${creds.serviceAccount}'s`)
  } else if (cls === "bad_tag" && pod) {
    out.push(prev ? `reference ${pod.image} (tag ${PullSecrets.tagOf(pod.image) ?? "digest"}) vs revision ${prev.revision}: ${prev.image} (tag ${PullSecrets.tagOf(prev.image) ?? "digest"})${prev.ran ? ", which ran" : ""}` : `reference ${pod.image} (tag ${PullSecrets.tagOf(pod.image) ?? "digest"}); no previous revision to compare with`)
    out.push(`check the tag exists in ${PullSecrets.repositoryOf(pod.image)} (crane ls / skopeo list-tags), then fix the reference${prev?.ran && pod.workload ? ` or roll back: kubectl rollout undo deployment/${pod.workload.name} -n ${pod.namespace} --to-revision=${prev.revision}` : ""}`)
  } else if (cls === "network_misconfiguration" && failure) {
    out.push(NETWORK_STEPS[failure.cause] ?? `network: ${failure.cause}`)
    if (spread) {
      out.push(spread.pulledNodes.length > 0
        ? `one node's problem: ${spread.failingNodes.join(", ")} cannot pull it while ${spread.pulledNodes.join(", ")} did — compare that node's DNS, routes and proxy settings`
        : spread.failingNodes.length > 1
        ? `all nodes that tried fail (${spread.failingNodes.join(", ")} of ${spread.totalNodes}): a cluster-wide path or the registry itself`
        : `only ${spread.failingNodes.join(", ") || "one node"} has tried so far (of ${spread.totalNodes}): check whether other nodes reach ${failure.registry ?? "the registry"}`)
    }
  } else {
    if (failure?.cause === "platform") out.push(`${pod?.image ?? "the image"} has no build for the node's platform: publish a multi-platform image (or one for the node's architecture) — not an auth, tag or network problem`)
    else if (failure?.cause === "denied_or_not_found") out.push(`"pull access denied": ambiguous without more facts — the repository may not exist, or it needs credentials; offered pull secrets: ${creds ? secretsText(creds) : "unknown"}`)
    if (Fact.unknownKeys(facts).length) out.push(`restore the probes that failed (${Fact.unknownKeys(facts).join(", ")})`)
  }
  return out
}

/** Suggested next steps per classification. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<ImagePullFacts>): ReadonlyArray<string> => steps(c._tag === "Classified" ? c.class : undefined, facts)

/** The plan: an escalation with the class's steps; nothing is written. */
export const plan = (c: Classification.Classified, facts: Fact.Facts<ImagePullFacts>, signal: Signal.Signal): Plan.Plan => {
  const pod = Fact.value(facts.pod)
  const what = pod ? `${pod.image} on ${pod.namespace}/${pod.name}` : signal.target.ref
  const label = c.class === "auth_failure" ? "registry authentication fails" : c.class === "bad_tag" ? "the image reference does not exist" : "the registry cannot be reached"
  return Plan.make(ID, c.class, `${what}: ${label}; escalate with steps (BytePort writes nothing)`, Plan.escalate(`${c.class}: ${c.reasons.join("; ")}`, steps(c.class, facts)))
}
