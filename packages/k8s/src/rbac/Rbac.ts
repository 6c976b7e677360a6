/**
 * Least-privilege RBAC, generated: what the agent may do in a cluster is the union of what the
 * parts of its enabled runbooks declare (each detector, probe and action kind next to its code),
 * rendered as rbac.authorization.k8s.io/v1 objects — never written by hand.
 *
 * A {@link Rule} names API groups, resources (subresources as `pods/log`), verbs, optionally
 * `resourceNames`, and a scope: `cluster` (every namespace, or a cluster-scoped resource such as
 * nodes: a ClusterRole bound by a ClusterRoleBinding) or `agent-namespace` (only the agent's own
 * namespace, e.g. its Leases: a Role bound by a RoleBinding there).
 *
 * @since 0.2.0
 */
import { dumpYaml } from "@kubernetes/client-node"

/** The verbs the Kubernetes RBAC authorizer knows for resources. */
export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection"

/** Where a rule applies. */
export type Scope = "cluster" | "agent-namespace"

/** One permission the agent needs. */
export interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  /** Resources, subresources as `pods/log`, `pods/exec`, `deployments/scale`. */
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<Verb>
  /** Only these objects (never grants list, watch, create or deletecollection). */
  readonly resourceNames?: ReadonlyArray<string> | undefined
  readonly scope: Scope
}

/** What a part (or a runbook, the union of its parts) needs. */
export type Permissions = ReadonlyArray<Rule>

/** Builds a rule (scope `cluster` unless given). */
export const rule = (
  apiGroup: string,
  resources: ReadonlyArray<string>,
  verbs: ReadonlyArray<Verb>,
  options: { readonly scope?: Scope; readonly resourceNames?: ReadonlyArray<string> } = {}
): Rule => ({
  apiGroups: [apiGroup],
  resources: [...resources],
  verbs: [...verbs],
  ...(options.resourceNames ? { resourceNames: [...options.resourceNames] } : {}),
  scope: options.scope ?? "cluster"
})

/** No permissions. */
export const none: Permissions = []

const VERB_ORDER: ReadonlyArray<Verb> = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]

/**
 * The union of several declarations, normalised: one rule per (scope, API group, resourceNames,
 * verbs) with its resources sorted, verbs in the apiserver's order, duplicates gone — so the same
 * parts always render the same manifests.
 */
export const union = (...all: ReadonlyArray<Permissions>): Permissions => {
  // (scope, group, names, resource) → verbs
  const byResource = new Map<string, { scope: Scope; group: string; names: ReadonlyArray<string> | undefined; resource: string; verbs: Set<Verb> }>()
  for (const perms of all) {
    for (const r of perms) {
      const names = r.resourceNames && r.resourceNames.length > 0 ? [...new Set(r.resourceNames)].sort() : undefined
      for (const group of r.apiGroups) {
        for (const resource of r.resources) {
          const key = JSON.stringify([r.scope, group, names ?? null, resource])
          const entry = byResource.get(key) ?? { scope: r.scope, group, names, resource, verbs: new Set<Verb>() }
          for (const v of r.verbs) entry.verbs.add(v)
          byResource.set(key, entry)
        }
      }
    }
  }
  // regroup: resources sharing scope, group, names and verbs become one rule
  const rules = new Map<string, { scope: Scope; group: string; names: ReadonlyArray<string> | undefined; verbs: ReadonlyArray<Verb>; resources: Array<string> }>()
  for (const e of byResource.values()) {
    const verbs = VERB_ORDER.filter((v) => e.verbs.has(v))
    const key = JSON.stringify([e.scope, e.group, e.names ?? null, verbs])
    const entry = rules.get(key) ?? { scope: e.scope, group: e.group, names: e.names, verbs, resources: [] }
    entry.resources.push(e.resource)
    rules.set(key, entry)
  }
  return [...rules.values()]
    .map((r): Rule => ({
      apiGroups: [r.group],
      resources: [...r.resources].sort(),
      verbs: r.verbs,
      ...(r.names ? { resourceNames: r.names } : {}),
      scope: r.scope
    }))
    .sort((a, b) => JSON.stringify([a.scope, a.apiGroups, a.resources]).localeCompare(JSON.stringify([b.scope, b.apiGroups, b.resources])))
}

/** A request, as the authorizer sees it. */
export interface Request {
  readonly verb: string
  readonly group: string
  readonly resource: string
  readonly subresource?: string | undefined
  readonly namespace?: string | undefined
  readonly name?: string | undefined
}

/** Whether the permissions allow a request, with the RBAC authorizer's matching (`agentNamespace`: where `agent-namespace` rules apply). */
export const allows = (perms: Permissions, request: Request, agentNamespace: string): boolean =>
  perms.some((r) => {
    if (r.scope === "agent-namespace" && request.namespace !== agentNamespace) return false
    if (!r.verbs.includes(request.verb as Verb)) return false
    if (!r.apiGroups.includes(request.group)) return false
    const wanted = request.subresource ? `${request.resource}/${request.subresource}` : request.resource
    if (!r.resources.includes(wanted)) return false
    if (r.resourceNames && r.resourceNames.length > 0) return request.name !== undefined && r.resourceNames.includes(request.name)
    return true
  })

/** Options of {@link manifests}. */
export interface ManifestOptions {
  /** The agent's namespace (default `byteport`). */
  readonly namespace?: string
  /** The agent's ServiceAccount (default `byteport-agent`). */
  readonly serviceAccount?: string
  /** Name of the roles and bindings (default `byteport-agent`). */
  readonly name?: string
  /** Labels on every object (default `app.kubernetes.io/name: byteport-agent`). */
  readonly labels?: Readonly<Record<string, string>>
}

/** A rendered Kubernetes object. */
export type Manifest = { readonly apiVersion: string; readonly kind: string; readonly metadata: Readonly<Record<string, unknown>> } & Readonly<Record<string, unknown>>

const API = "rbac.authorization.k8s.io/v1"

/**
 * The ClusterRole + ClusterRoleBinding (rules of scope `cluster`) and the Role + RoleBinding in
 * the agent's namespace (scope `agent-namespace`) granting exactly `perms` to the agent's
 * ServiceAccount; an empty side is left out.
 */
export const manifests = (perms: Permissions, options: ManifestOptions = {}): ReadonlyArray<Manifest> => {
  const namespace = options.namespace ?? "byteport"
  const serviceAccount = options.serviceAccount ?? "byteport-agent"
  const name = options.name ?? "byteport-agent"
  const labels = { "app.kubernetes.io/name": "byteport-agent", ...options.labels }
  const normal = union(perms)
  const render = (rs: Permissions) =>
    rs.map((r) => ({
      apiGroups: [...r.apiGroups],
      resources: [...r.resources],
      ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}),
      verbs: [...r.verbs]
    }))
  const subjects = [{ kind: "ServiceAccount", name: serviceAccount, namespace }]
  const out: Array<Manifest> = []
  const cluster = normal.filter((r) => r.scope === "cluster")
  const local = normal.filter((r) => r.scope === "agent-namespace")
  if (cluster.length > 0) {
    out.push({ apiVersion: API, kind: "ClusterRole", metadata: { name, labels }, rules: render(cluster) })
    out.push({ apiVersion: API, kind: "ClusterRoleBinding", metadata: { name, labels }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name }, subjects })
  }
  if (local.length > 0) {
    out.push({ apiVersion: API, kind: "Role", metadata: { name, namespace, labels }, rules: render(local) })
    out.push({ apiVersion: API, kind: "RoleBinding", metadata: { name, namespace, labels }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name }, subjects })
  }
  return out
}

/** The manifests as one YAML stream (`---` between documents). */
export const toYaml = (objects: ReadonlyArray<Manifest>): string => objects.map((o) => dumpYaml(o).trimEnd() + "\n").join("---\n")
