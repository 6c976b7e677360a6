/**
 * Authentication by ServiceAccount bearer tokens and authorization by RBAC, as the apiserver's
 * RBAC authorizer decides (rbac.authorization.k8s.io/v1 Roles, ClusterRoles, RoleBindings,
 * ClusterRoleBindings read from the store at each request):
 *
 * - a token minted by `KubeSim.serviceAccountToken(namespace, name)` authenticates as
 *   `system:serviceaccount:<ns>:<name>` with the groups `system:serviceaccounts`,
 *   `system:serviceaccounts:<ns>` and `system:authenticated`; the admin token (the server's
 *   `token`, or any request when the server has none) is `system:masters`: everything allowed;
 * - a request's attributes are its verb (get, list, watch, create, update, patch, delete,
 *   deletecollection; `create` on `pods/exec` and `pods/eviction`, `get` on `pods/log`), API
 *   group, resource, subresource, namespace and name;
 * - a rule matches when its `verbs`, `apiGroups` and `resources` (`pods`, `pods/log`, `*`,
 *   `*\/scale`) match and, if it lists `resourceNames`, the request names one of them (a list,
 *   watch, create or deletecollection names none, so such rules never allow them);
 * - a RoleBinding grants its Role's or ClusterRole's rules in its own namespace only; a
 *   ClusterRoleBinding grants its ClusterRole's rules everywhere (and on cluster-scoped
 *   resources);
 * - non-resource paths: discovery (`/api`, `/apis`, …), `/version`, `/healthz`, `/livez`,
 *   `/readyz` are open to every authenticated user (the `system:discovery` role);
 * - denied: 403 with the authorizer's wording (`… is forbidden: User "…" cannot patch resource
 *   "deployments" in API group "apps" in the namespace "shop"`).
 *
 * Left out: aggregated ClusterRoles (`aggregationRule`), users and groups from certificates,
 * impersonation, webhook/ABAC/Node authorizers, `nonResourceURLs` rules, escalation checks on
 * writing RBAC objects, the TokenRequest API.
 */
import type { MemoryStore } from "../store/MemoryStore"
import type { KubeObject } from "../store/types"

/** Who a request is. */
export interface Identity {
  readonly user: string
  readonly groups: ReadonlyArray<string>
  /** `system:masters`: every request allowed. */
  readonly admin: boolean
}

/** What a request asks to do. */
export interface Attributes {
  readonly verb: string
  readonly group: string
  readonly resource: string
  readonly subresource?: string | undefined
  readonly namespace?: string | undefined
  readonly name?: string | undefined
}

const RBAC = { group: "rbac.authorization.k8s.io", version: "v1" }
const KEYS = {
  roles: { ...RBAC, resource: "roles" },
  clusterroles: { ...RBAC, resource: "clusterroles" },
  rolebindings: { ...RBAC, resource: "rolebindings" },
  clusterrolebindings: { ...RBAC, resource: "clusterrolebindings" }
}

interface Rule {
  readonly verbs?: ReadonlyArray<string>
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
}

interface Subject {
  readonly kind?: string
  readonly name?: string
  readonly namespace?: string
}

const arr = <A>(v: unknown): ReadonlyArray<A> => (Array.isArray(v) ? (v as ReadonlyArray<A>) : [])

const rulesOf = (obj: KubeObject | undefined): ReadonlyArray<Rule> => arr<Rule>((obj as Record<string, unknown> | undefined)?.["rules"])

/** Whether one rule allows the request. */
export const ruleAllows = (rule: Rule, a: Attributes): boolean => {
  const verbs = arr<string>(rule.verbs)
  if (!verbs.includes("*") && !verbs.includes(a.verb)) return false
  const groups = arr<string>(rule.apiGroups)
  if (!groups.includes("*") && !groups.includes(a.group)) return false
  const wanted = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  const resources = arr<string>(rule.resources)
  const resourceOk = resources.some((r) =>
    r === "*" || r === wanted || (a.subresource !== undefined && r === `*/${a.subresource}`) || (a.subresource === undefined && r === `${a.resource}`)
  )
  if (!resourceOk) return false
  const names = arr<string>(rule.resourceNames)
  if (names.length > 0) return a.name !== undefined && names.includes(a.name)
  return true
}

const subjectMatches = (s: Subject, who: Identity, bindingNamespace: string | undefined): boolean => {
  switch (s.kind) {
    case "ServiceAccount":
      return who.user === `system:serviceaccount:${s.namespace ?? bindingNamespace ?? ""}:${s.name ?? ""}`
    case "User":
      return who.user === s.name
    case "Group":
      return s.name !== undefined && who.groups.includes(s.name)
    default:
      return false
  }
}

/** Whether RBAC in `store` allows `who` to do `a`. */
export const allows = (store: MemoryStore, who: Identity, a: Attributes): boolean => {
  if (who.admin) return true
  const roleRef = (b: KubeObject) => (b as Record<string, unknown>)["roleRef"] as { kind?: string; name?: string } | undefined
  const subjects = (b: KubeObject) => arr<Subject>((b as Record<string, unknown>)["subjects"])
  for (const b of store.list(KEYS.clusterrolebindings)) {
    const ref = roleRef(b)
    if (ref?.kind !== "ClusterRole" || !subjects(b).some((s) => subjectMatches(s, who, undefined))) continue
    if (rulesOf(store.get(KEYS.clusterroles, undefined, ref.name ?? "")).some((r) => ruleAllows(r, a))) return true
  }
  if (a.namespace === undefined) return false
  for (const b of store.list(KEYS.rolebindings, { namespace: a.namespace })) {
    if (!subjects(b).some((s) => subjectMatches(s, who, a.namespace))) continue
    const ref = roleRef(b)
    const role = ref?.kind === "ClusterRole"
      ? store.get(KEYS.clusterroles, undefined, ref.name ?? "")
      : ref?.kind === "Role"
      ? store.get(KEYS.roles, a.namespace, ref.name ?? "")
      : undefined
    if (rulesOf(role).some((r) => ruleAllows(r, a))) return true
  }
  return false
}

/** Non-resource paths every authenticated user may read (`system:discovery`, `system:public-info-viewer`). */
export const isOpenPath = (pathname: string): boolean =>
  pathname === "/version" || pathname === "/version/" || pathname === "/healthz" || pathname === "/livez" || pathname === "/readyz" ||
  pathname === "/api" || pathname === "/apis" || /^\/api\/v1\/?$/.test(pathname) || /^\/apis\/[^/]+(\/[^/]+)?\/?$/.test(pathname) || pathname === "/openapi/v2" || pathname.startsWith("/openapi/v3")

/** The tokens a server accepts and who they are. */
export class Tokens {
  private readonly byToken = new Map<string, Identity>()
  /** Registers a ServiceAccount token. */
  serviceAccount(token: string, namespace: string, name: string): void {
    this.byToken.set(token, {
      user: `system:serviceaccount:${namespace}:${name}`,
      groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
      admin: false
    })
  }
  /** Who a bearer token is (undefined: unknown token). */
  identify(token: string): Identity | undefined {
    return this.byToken.get(token)
  }
}

/** The admin identity. */
export const ADMIN: Identity = { user: "kube-sim-admin", groups: ["system:masters", "system:authenticated"], admin: true }

/** How a server authenticates: its admin token and, with authorization on, the ServiceAccount tokens. */
export interface AuthConfig {
  /** The admin token (unset: requests without credentials are the admin, as with kubectl over http). */
  readonly token?: string | undefined
  /** ServiceAccount tokens: when set, authorization by RBAC is on. */
  readonly tokens?: Tokens | undefined
}

/** Who sent a request with this `Authorization` header (undefined: 401). */
export const authenticate = (cfg: AuthConfig, header: string | undefined): Identity | undefined => {
  const bearer = header?.startsWith("Bearer ") ? header.slice(7) : undefined
  if (cfg.tokens === undefined) return cfg.token === undefined || bearer === cfg.token ? ADMIN : undefined
  if (bearer === undefined) return cfg.token === undefined ? ADMIN : undefined
  if (cfg.token !== undefined && bearer === cfg.token) return ADMIN
  return cfg.tokens.identify(bearer)
}
