/** Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/{g}/{v}`) from the registry. */
import { BUILTIN_TYPES, groupVersion, type TypeRegistry } from "../store/registry"

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

/** `/version`. */
export const version = () => ({
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-kube-sim",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.23.0",
  compiler: "gc",
  platform: "linux/amd64"
})

/** `/api`. */
export const coreVersions = () => ({
  kind: "APIVersions",
  versions: ["v1"],
  serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }]
})

/** `/apis` (built-in groups, then the groups of the simulator's CustomResourceDefinitions). */
export const groupList = (types: TypeRegistry = BUILTIN_TYPES) => {
  const groups = new Map<string, Array<string>>()
  for (const gv of types.groupVersions()) {
    if (gv.group === "") continue
    const vs = groups.get(gv.group) ?? []
    vs.push(gv.version)
    groups.set(gv.group, vs)
  }
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups.entries()].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] }
    }))
  }
}

/** `/apis/{group}` or undefined. */
export const group = (name: string, types: TypeRegistry = BUILTIN_TYPES) => {
  const g = groupList(types).groups.find((x) => x.name === name)
  return g ? { kind: "APIGroup", apiVersion: "v1", ...g } : undefined
}

/** `/api/v1` or `/apis/{g}/{v}` (undefined when not served). */
export const resourceList = (grp: string, ver: string, types: TypeRegistry = BUILTIN_TYPES) => {
  const rs = types.all().filter((r) => r.group === grp && r.version === ver)
  if (rs.length === 0) return undefined
  const resources: Array<Record<string, unknown>> = []
  for (const r of rs) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {})
    })
    for (const sub of r.subresources) {
      const base = { name: `${r.resource}/${sub}`, singularName: "", namespaced: r.namespaced }
      switch (sub) {
        case "status":
          resources.push({ ...base, kind: r.kind, verbs: ["get", "patch", "update"] })
          break
        case "scale":
          resources.push({ ...base, group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] })
          break
        case "eviction":
          resources.push({ ...base, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] })
          break
        case "log":
          resources.push({ ...base, kind: "Pod", verbs: ["get"] })
          break
      }
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: groupVersion({ group: grp, version: ver }), resources }
}
