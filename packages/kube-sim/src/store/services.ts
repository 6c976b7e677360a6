/**
 * Service address allocation, as the apiserver's service REST storage does it: every Service of
 * type ClusterIP, NodePort or LoadBalancer gets a `spec.clusterIP` (and `clusterIPs`) from the
 * service CIDR, NodePort and LoadBalancer ports get a `nodePort` from 30000-32767, and both stay
 * fixed for the Service's life. The addresses are data inside the simulator only; nothing listens
 * on them.
 *
 * Allocation is deterministic: the first candidate is a seeded hash of the Service's
 * namespace/name (so one Service's address does not depend on what was created before it), then
 * the next free address. The network address, the first host (`.1`, which a cluster reserves for
 * the `kubernetes` Service) and the broadcast address are never handed out.
 */
import { seeded } from "./random"
import { StoreError } from "./types"
import type { KubeObject, ResourceKey } from "./types"

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

/** The default service CIDR (the one kubeadm uses). */
export const DEFAULT_SERVICE_CIDR = "10.96.0.0/12"

/** The NodePort range the apiserver allocates from by default. */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const

/** An IPv4 CIDR as a base address and a size. */
export interface Cidr {
  /** The CIDR as written. */
  readonly text: string
  /** The network address as an unsigned 32-bit number. */
  readonly base: number
  /** The number of addresses in the block. */
  readonly size: number
}

const ipToNumber = (ip: string): number | undefined => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (!m) return undefined
  const parts = m.slice(1).map(Number)
  if (parts.some((p) => p > 255)) return undefined
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0
}

const numberToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

/** Parses an IPv4 CIDR (`10.96.0.0/12`); throws a TypeError for anything else or a block under /29. */
export const parseCidr = (text: string): Cidr => {
  const [ip, bits] = text.split("/")
  const n = ip === undefined ? undefined : ipToNumber(ip)
  const prefix = Number(bits)
  if (n === undefined || bits === undefined || !/^\d{1,2}$/.test(bits) || prefix < 1 || prefix > 29) {
    throw new TypeError(`invalid service CIDR ${JSON.stringify(text)}: want an IPv4 block such as 10.96.0.0/12 (prefix 1 to 29)`)
  }
  const size = 2 ** (32 - prefix)
  return { text, base: Math.floor(n / size) * size, size }
}

/** The address a cluster gives the `kubernetes` Service (the first host of the CIDR). */
export const kubernetesServiceIP = (cidr: Cidr): string => numberToIp(cidr.base + 1)

const fnv1a = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** A seeded draw in [0, n) for `key`, stable across runs with the same seed. */
const draw = (seed: number, key: string, n: number): number => Math.floor(seeded((fnv1a(key) ^ Math.imul(seed, 0x9e3779b1)) >>> 0)() * n)

/** Whether a Service of this type has a cluster IP. */
const wantsClusterIP = (spec: Obj): boolean => spec["type"] !== "ExternalName"
const wantsNodePorts = (spec: Obj): boolean =>
  spec["type"] === "NodePort" || (spec["type"] === "LoadBalancer" && spec["allocateLoadBalancerNodePorts"] !== false)

/** The addresses and node ports already held by `services` (skipping `self`). */
const held = (services: Iterable<KubeObject>, self: KubeObject): { ips: Set<string>; ports: Set<number> } => {
  const ips = new Set<string>()
  const ports = new Set<number>()
  for (const s of services) {
    if (s.metadata.namespace === self.metadata.namespace && s.metadata.name === self.metadata.name) continue
    const spec = isObj(s["spec"]) ? s["spec"] : {}
    if (typeof spec["clusterIP"] === "string") ips.add(spec["clusterIP"])
    for (const p of Array.isArray(spec["ports"]) ? spec["ports"] : []) if (isObj(p) && typeof p["nodePort"] === "number") ports.add(p["nodePort"])
  }
  return { ips, ports }
}

/** The context an allocation runs in. */
export interface AllocationContext {
  /** The store's seed. */
  readonly seed: number
  /** The service CIDR. */
  readonly cidr: Cidr
  /** Every stored Service (the one being written may be among them). */
  readonly services: Iterable<KubeObject>
  /** The Services resource key (for errors). */
  readonly key: ResourceKey
}

const invalid = (ctx: AllocationContext, svc: KubeObject, field: string, detail: string): StoreError =>
  new StoreError("Invalid", `Service "${svc.metadata.name}" is invalid: ${field}: ${detail}`, ctx.key, svc.metadata.name)

/**
 * Fills in `spec.clusterIP`/`clusterIPs`, the IP family fields, the traffic policies and the node
 * ports of a Service being created (`old` undefined) or updated, in place. On update, addresses
 * the new object leaves out are carried over from `old` (as the apiserver does for a PUT that
 * omits them). A requested address outside the CIDR or already held gives a StoreError Invalid
 * in the apiserver's wording.
 */
export const allocate = (svc: KubeObject, old: KubeObject | undefined, ctx: AllocationContext): void => {
  const spec = svc["spec"]
  if (!isObj(spec)) return
  const oldSpec = old && isObj(old["spec"]) ? old["spec"] : undefined
  if (!wantsClusterIP(spec)) {
    if (spec["clusterIP"] === undefined || spec["clusterIP"] === "") delete spec["clusterIP"]
    return
  }
  const { ips, ports } = held(ctx.services, svc)
  // the address: requested, carried over, or drawn
  let ip = typeof spec["clusterIP"] === "string" && spec["clusterIP"] !== "" ? spec["clusterIP"] : undefined
  const ipsIn = Array.isArray(spec["clusterIPs"]) ? spec["clusterIPs"] : undefined
  if (ip === undefined && typeof ipsIn?.[0] === "string" && ipsIn[0] !== "") ip = ipsIn[0]
  const oldIp = oldSpec && typeof oldSpec["clusterIP"] === "string" ? oldSpec["clusterIP"] : undefined
  if (ip === undefined && oldIp !== undefined) ip = oldIp
  if (ip === undefined) {
    const hosts = ctx.cidr.size - 3 // network, .1 and broadcast are never handed out
    const start = draw(ctx.seed, `${svc.metadata.namespace ?? ""}/${svc.metadata.name}`, hosts)
    for (let i = 0; i < hosts && ip === undefined; i++) {
      const candidate = numberToIp(ctx.cidr.base + 2 + ((start + i) % hosts))
      if (!ips.has(candidate)) ip = candidate
    }
    if (ip === undefined) {
      throw invalid(ctx, svc, "spec.clusterIPs", `Internal error: failed to allocate a serviceIP: range is full`)
    }
  } else if (ip !== "None" && ip !== oldIp) {
    const n = ipToNumber(ip)
    const fail = (why: string) => invalid(ctx, svc, "spec.clusterIPs", `Invalid value: []string{"${ip}"}: failed to allocate IP ${ip}: ${why}`)
    if (n === undefined) {
      throw invalid(ctx, svc, "spec.clusterIPs[0]", `Invalid value: "${ip}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`)
    }
    if (n < ctx.cidr.base || n >= ctx.cidr.base + ctx.cidr.size) {
      throw fail(`the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${ctx.cidr.text}`)
    }
    if (ips.has(ip)) throw fail("provided IP is already allocated")
  }
  spec["clusterIP"] = ip
  spec["clusterIPs"] = [ip]
  if (spec["ipFamilies"] === undefined) spec["ipFamilies"] = ["IPv4"]
  if (spec["ipFamilyPolicy"] === undefined) spec["ipFamilyPolicy"] = "SingleStack"
  if (spec["internalTrafficPolicy"] === undefined) spec["internalTrafficPolicy"] = "Cluster"
  if (!wantsNodePorts(spec) || !Array.isArray(spec["ports"])) return
  if (spec["externalTrafficPolicy"] === undefined) spec["externalTrafficPolicy"] = "Cluster"
  if (spec["type"] === "LoadBalancer" && spec["allocateLoadBalancerNodePorts"] === undefined) spec["allocateLoadBalancerNodePorts"] = true
  const oldPorts = oldSpec && Array.isArray(oldSpec["ports"]) ? (oldSpec["ports"] as Array<unknown>).filter(isObj) : []
  const span = NODE_PORT_RANGE.max - NODE_PORT_RANGE.min + 1
  spec["ports"].forEach((p: unknown, i: number) => {
    if (!isObj(p)) return
    const prev = oldPorts.find((o) => o["port"] === p["port"] && (o["protocol"] ?? "TCP") === (p["protocol"] ?? "TCP"))
    const requested = typeof p["nodePort"] === "number" && p["nodePort"] !== 0 ? p["nodePort"] : undefined
    if (requested !== undefined) {
      if (requested !== prev?.["nodePort"]) {
        if (requested < NODE_PORT_RANGE.min || requested > NODE_PORT_RANGE.max) {
          throw invalid(ctx, svc, `spec.ports[${i}].nodePort`, `Invalid value: ${requested}: provided port is not in the valid range. The range of valid ports is ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`)
        }
        if (ports.has(requested)) throw invalid(ctx, svc, `spec.ports[${i}].nodePort`, `Invalid value: ${requested}: provided port is already allocated`)
      }
      ports.add(requested)
      return
    }
    if (typeof prev?.["nodePort"] === "number") {
      p["nodePort"] = prev["nodePort"]
      ports.add(prev["nodePort"])
      return
    }
    const start = draw(ctx.seed, `${svc.metadata.namespace ?? ""}/${svc.metadata.name}:${String(p["port"])}/${String(p["protocol"] ?? "TCP")}`, span)
    for (let k = 0; k < span; k++) {
      const candidate = NODE_PORT_RANGE.min + ((start + k) % span)
      if (!ports.has(candidate)) {
        p["nodePort"] = candidate
        ports.add(candidate)
        return
      }
    }
    throw invalid(ctx, svc, `spec.ports[${i}].nodePort`, "Internal error: failed to allocate a nodePort: range is full")
  })
}
