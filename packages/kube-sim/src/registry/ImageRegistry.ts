/**
 * The simulated image registries behind `sim.setImage`: repositories map tags to digests, a
 * re-push of a tag gives it a new digest (pods on nodes that cached the old one keep running it,
 * a fresh pull gets the new one), repositories can require credentials (matched against the pod's
 * pull secrets by the kubelet's keyring rules), registries can be unreachable (the pull times
 * out), and an image can be published for other platforms only. Pull failures carry the runtime's
 * own error text (containerd by default; Docker Engine through cri-dockerd and CRI-O by the node's
 * `containerRuntimeVersion`).
 *
 * Every tag nobody pushed or removed resolves to a stable digest of its own, so clusters need no
 * registry set-up; a `push` gives the tag a new digest, `deleteTag` makes it answer "not found".
 */
import { createHash } from "node:crypto"
import { fnv32a } from "../clock/Rng"
import type { ContainerBehaviour } from "../controllers/behaviour"
import type { Credential } from "./Keyring"
import { endpointHost, parse, type Reference } from "./Reference"

/** The answer a registry gives for a reference (the simple `setImage` form). */
export type PullOutcome = "ok" | "notFound" | "unauthorized" | "unreachable" | "platformMismatch"

/** A change `sim.setImage` makes: an answer to give, or `push` (the tag gets a new digest). */
export type ImageChange = PullOutcome | "push"

/** The container runtime whose error text a pull failure carries. */
export type Runtime = "containerd" | "docker" | "crio"

/** A platform, `os/architecture[/variant]`. */
export type Platform = string

/** Options of `push`. */
export interface PushOptions {
  /** Platforms of the image index (default `["linux/amd64", "linux/arm64"]`). */
  readonly platforms?: ReadonlyArray<Platform>
  /** Image size in bytes (default: derived from the reference). */
  readonly sizeBytes?: number
  /** How containers created from this digest behave (merged over the pod's behaviour): a broken build. */
  readonly behaviour?: ContainerBehaviour
}

/** Registry user credentials. */
export interface RegistryUser {
  readonly username: string
  readonly password: string
}

/** What a pull resolved to, or why it failed. */
export type PullResult =
  | { readonly ok: true; readonly digest: string; readonly imageID: string; readonly sizeBytes: number; readonly credential: Credential | undefined }
  | { readonly ok: false; readonly outcome: Exclude<PullOutcome, "ok">; readonly message: string; readonly timeoutMs: number }

/** How long a pull to an unreachable registry takes to fail (containerd's dial timeout, 30 s). */
export const DIAL_TIMEOUT_MS = 30_000

interface Manifest {
  readonly digest: string
  readonly platforms: ReadonlyArray<Platform>
  readonly sizeBytes: number
  readonly behaviour?: ContainerBehaviour
}

interface Repository {
  /** Tags removed (`deleteTag`, `setImage(…, "notFound")`): they do not resolve. */
  readonly removed: Set<string>
  readonly tags: Map<string, Manifest>
  readonly manifests: Map<string, Manifest>
  /** Digests a tag pointed to, oldest first. */
  readonly history: Map<string, Array<string>>
  pushes: number
  /** Credentials required to pull (undefined: anonymous pulls allowed). */
  users: Array<RegistryUser> | undefined
}

const DEFAULT_PLATFORMS: ReadonlyArray<Platform> = ["linux/amd64", "linux/arm64"]

const sha = (s: string): string => `sha256:${createHash("sha256").update(s).digest("hex")}`

const addressOf = (host: string): string => `10.${fnv32a(host) % 200}.${fnv32a(`${host}#b`) % 250}.${(fnv32a(`${host}#c`) % 250) + 1}`

/** The simulated registries. */
export class ImageRegistry {
  private readonly repos = new Map<string, Repository>()
  private readonly unreachable = new Set<string>()
  /** Registry hosts unreachable from some nodes only (a node's DNS, route, proxy or firewall): host → nodes. */
  private readonly unreachableFrom = new Map<string, Set<string>>()
  private readonly hostUsers = new Map<string, Array<RegistryUser>>()
  private readonly nodeCache = new Map<string, Map<string, string>>()

  private repo(ref: Reference): Repository {
    let r = this.repos.get(ref.name)
    if (!r) {
      r = { removed: new Set(), tags: new Map(), manifests: new Map(), history: new Map(), pushes: 0, users: undefined }
      this.repos.set(ref.name, r)
    }
    return r
  }

  /** Push `image` (a tagged reference): the tag points at a new digest, returned. */
  push(image: string, options: PushOptions = {}): string {
    const ref = parse(image)
    if (ref.tag === undefined || ref.digest !== undefined) throw new TypeError(`push needs a tagged reference, got ${JSON.stringify(image)}`)
    const r = this.repo(ref)
    const wasRemoved = r.removed.delete(ref.tag)
    r.pushes++
    const digest = sha(`${ref.name}:${ref.tag}#${r.pushes}#${(options.platforms ?? DEFAULT_PLATFORMS).join(",")}`)
    const m: Manifest = {
      digest,
      platforms: [...(options.platforms ?? DEFAULT_PLATFORMS)],
      sizeBytes: options.sizeBytes ?? 20_000_000 + (fnv32a(ref.name) % 180_000_000),
      ...(options.behaviour ? { behaviour: options.behaviour } : {})
    }
    r.tags.set(ref.tag, m)
    r.manifests.set(digest, m)
    const h = r.history.get(ref.tag) ?? (wasRemoved ? [] : [this.implicit(ref).digest])
    h.push(digest)
    r.history.set(ref.tag, h)
    return digest
  }

  /** Remove a tag (its digests stay pullable by digest): pulls of it answer "not found". */
  deleteTag(image: string): void {
    const ref = parse(image)
    const r = this.repo(ref)
    if (ref.tag === undefined) return
    r.tags.delete(ref.tag)
    r.removed.add(ref.tag)
  }

  /** The digest a reference resolves to now (undefined when it would not resolve). */
  resolve(image: string): string | undefined {
    const ref = parse(image)
    return this.manifest(ref)?.digest
  }

  /** Every digest a pushed tag has pointed to, oldest first (its digest before the first push included). */
  history(image: string): ReadonlyArray<string> {
    const ref = parse(image)
    return [...(this.repos.get(ref.name)?.history.get(ref.tag ?? "") ?? [])]
  }

  /** Require credentials for a repository (`registry/repo`, any tag) or a whole registry host. */
  requireAuth(scope: string, users: ReadonlyArray<RegistryUser>): void {
    if (!scope.includes("/")) {
      this.hostUsers.set(scope === "index.docker.io" ? "docker.io" : scope, [...users])
      return
    }
    this.repo(parse(scope)).users = [...users]
  }

  /** Allow anonymous pulls again (repository or host). */
  allowAnonymous(scope: string): void {
    if (!scope.includes("/")) this.hostUsers.delete(scope === "index.docker.io" ? "docker.io" : scope)
    else this.repo(parse(scope)).users = undefined
  }

  /**
   * Make a registry host unreachable (pulls time out) or reachable again; with `nodes`, only from
   * those nodes (a node-scoped fault: its DNS, routes, proxy or firewall), the others pull as
   * before. Reachable again without `nodes` clears the node-scoped faults of the host too.
   */
  setReachable(host: string, reachable: boolean, options: { readonly nodes?: ReadonlyArray<string> } = {}): void {
    const h = host === "index.docker.io" ? "docker.io" : host
    if (options.nodes !== undefined) {
      const from = this.unreachableFrom.get(h) ?? new Set<string>()
      for (const n of options.nodes) reachable ? from.delete(n) : from.add(n)
      if (from.size > 0) this.unreachableFrom.set(h, from)
      else this.unreachableFrom.delete(h)
      return
    }
    if (reachable) {
      this.unreachable.delete(h)
      this.unreachableFrom.delete(h)
    } else this.unreachable.add(h)
  }

  /**
   * The simple form behind `sim.setImage(image, outcome)`: `notFound` removes the tag, `unauthorized`
   * makes the repository require credentials no pull secret has, `unreachable` makes its registry
   * time out, `push` re-pushes the tag (new digest), `platformMismatch` re-publishes the tag for linux/arm64 only, `ok` undoes all of them.
   */
  setOutcome(image: string, outcome: ImageChange): void {
    const ref = parse(image)
    const r = this.repo(ref)
    switch (outcome) {
      case "push":
        this.push(image)
        break
      case "notFound":
        this.deleteTag(image)
        break
      case "unauthorized":
        r.users = [{ username: "kube-sim", password: sha(`${ref.name}#secret`).slice(7, 39) }]
        break
      case "unreachable":
        this.setReachable(ref.registry, false)
        break
      case "platformMismatch":
        this.push(image, { platforms: ["linux/arm64"] })
        break
      case "ok": {
        this.setReachable(ref.registry, true)
        r.users = undefined
        if (ref.tag === undefined) break
        const cur = r.tags.get(ref.tag)
        if (r.removed.has(ref.tag)) r.removed.delete(ref.tag)
        if (cur && !cur.platforms.some((p) => p.startsWith("linux/amd64"))) this.push(image)
        break
      }
    }
  }

  private manifest(ref: Reference): Manifest | undefined {
    const r = this.repos.get(ref.name)
    if (ref.digest !== undefined) return r?.manifests.get(ref.digest) ?? { ...this.implicit(ref), digest: ref.digest }
    if (r?.removed.has(ref.tag!)) return undefined
    return r?.tags.get(ref.tag!) ?? this.implicit(ref)
  }

  private implicit(ref: Reference): Manifest {
    const digest = sha(`${ref.normalized}#implicit`)
    return { digest, platforms: DEFAULT_PLATFORMS, sizeBytes: 20_000_000 + (fnv32a(ref.normalized) % 180_000_000) }
  }

  /** Pull `image` with the credentials the kubelet found for it, on a node of `platform`. */
  pull(image: string, options: { readonly credentials?: ReadonlyArray<Credential>; readonly platform?: Platform; readonly runtime?: Runtime; readonly node?: string } = {}): PullResult {
    const ref = parse(image)
    const runtime = options.runtime ?? "containerd"
    const platform = options.platform ?? "linux/amd64"
    const fail = (outcome: Exclude<PullOutcome, "ok">, detail?: "anonymous" | "badCredentials"): PullResult => ({
      ok: false,
      outcome,
      message: message(runtime, ref, outcome, platform, detail),
      timeoutMs: outcome === "unreachable" ? DIAL_TIMEOUT_MS : 500
    })
    if (this.unreachable.has(ref.registry) || (options.node !== undefined && this.unreachableFrom.get(ref.registry)?.has(options.node) === true)) return fail("unreachable")
    const r = this.repos.get(ref.name)
    const users = r?.users ?? this.hostUsers.get(ref.registry)
    let used: Credential | undefined
    if (users) {
      const creds = options.credentials ?? []
      used = creds.find((c) => users.some((u) => u.username === c.username && u.password === c.password))
      if (!used) return fail("unauthorized", creds.length === 0 ? "anonymous" : "badCredentials")
    }
    const m = this.manifest(ref)
    if (!m) return fail("notFound")
    if (!m.platforms.some((p) => p === platform || p.startsWith(`${platform}/`))) return fail("platformMismatch")
    const imageID = runtime === "docker" ? `docker-pullable://${ref.familiar.replace(/[:@].*$/, "")}@${m.digest}` : `${ref.name}@${m.digest}`
    return { ok: true, digest: m.digest, imageID, sizeBytes: m.sizeBytes, credential: used }
  }

  /** The behaviour pushed with the digest of an imageID (`…@sha256:…`), if any. */
  behaviourOf(imageID: string | undefined): ContainerBehaviour | undefined {
    if (!imageID) return undefined
    const at = imageID.lastIndexOf("@")
    if (at < 0) return undefined
    const digest = imageID.slice(at + 1)
    for (const r of this.repos.values()) {
      const m = r.manifests.get(digest)
      if (m) return m.behaviour
    }
    return undefined
  }

  /** The imageID `image` has in a node's image cache (undefined when not cached). */
  cached(node: string, image: string): string | undefined {
    return this.nodeCache.get(node)?.get(image)
  }

  /** Record that a node now holds `image` as `imageID`. */
  store(node: string, image: string, imageID: string): void {
    let m = this.nodeCache.get(node)
    if (!m) this.nodeCache.set(node, (m = new Map()))
    m.set(image, imageID)
  }
}

const tokenEndpoint = (ref: Reference): { url: string } => {
  const scope = encodeURIComponent(`repository:${ref.repository}:pull`)
  return ref.registry === "docker.io"
    ? { url: `https://auth.docker.io/token?scope=${scope}&service=registry.docker.io` }
    : { url: `https://${ref.registry}/token?scope=${scope}&service=${ref.registry}` }
}

/** The runtime's error text for a failed pull (what the kubelet puts after `Failed to pull image "…": `). */
export const message = (runtime: Runtime, ref: Reference, outcome: Exclude<PullOutcome, "ok">, platform: Platform, detail?: "anonymous" | "badCredentials"): string => {
  const host = endpointHost(ref.registry)
  const ip = addressOf(host)
  const reference = ref.digest ?? ref.tag!
  if (runtime === "docker") {
    const daemon = "rpc error: code = Unknown desc = Error response from daemon: "
    const repoName = ref.familiar.replace(/[:@].*$/, "")
    switch (outcome) {
      case "notFound":
        return `${daemon}manifest for ${ref.familiar} not found: manifest unknown: manifest unknown`
      case "unauthorized":
        return detail === "badCredentials"
          ? `${daemon}Head "https://${host}/v2/${ref.repository}/manifests/${reference}": unauthorized: incorrect username or password`
          : `${daemon}pull access denied for ${repoName}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`
      case "unreachable":
        return `${daemon}Get "https://${host}/v2/": dial tcp ${ip}:443: i/o timeout`
      case "platformMismatch":
        return `${daemon}no matching manifest for ${platform} in the manifest list entries`
    }
  }
  if (runtime === "crio") {
    const src = `initializing source docker://${ref.normalized}: `
    const [os, arch] = platform.split("/")
    switch (outcome) {
      case "notFound":
        return `rpc error: code = Unknown desc = ${src}reading manifest ${reference} in ${ref.name}: manifest unknown`
      case "unauthorized":
        return detail === "badCredentials"
          ? `rpc error: code = Unknown desc = ${src}unable to retrieve auth token: invalid username/password: unauthorized: 401 Unauthorized`
          : `rpc error: code = Unknown desc = ${src}reading manifest ${reference} in ${ref.name}: unauthorized: authentication required`
      case "unreachable":
        return `rpc error: code = Unknown desc = pinging container registry ${ref.registry}: Get "https://${host}/v2/": dial tcp ${ip}:443: i/o timeout`
      case "platformMismatch":
        return `rpc error: code = Unknown desc = choosing an image from manifest list docker://${ref.normalized}: no image found in image index for architecture "${arch}", variant "", OS "${os}"`
    }
  }
  const pull = `failed to pull and unpack image "${ref.normalized}": `
  const resolve = `${pull}failed to resolve reference "${ref.normalized}": `
  switch (outcome) {
    case "notFound":
      return `rpc error: code = NotFound desc = ${resolve}${ref.normalized}: not found`
    case "unauthorized":
      return detail === "badCredentials"
        ? `rpc error: code = Unknown desc = ${resolve}failed to authorize: failed to fetch oauth token: unexpected status from GET request to ${tokenEndpoint(ref).url}: 401 Unauthorized`
        : ref.registry === "docker.io"
        // Docker Hub hands out anonymous tokens, then refuses the repository (also when it does not exist)
        ? `rpc error: code = Unknown desc = ${resolve}pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`
        // a private registry's token server refuses anonymous tokens
        : `rpc error: code = Unknown desc = ${resolve}failed to authorize: failed to fetch anonymous token: unexpected status from GET request to ${tokenEndpoint(ref).url}: 401 Unauthorized`
    case "unreachable":
      return `rpc error: code = Unknown desc = ${resolve}failed to do request: Head "https://${host}/v2/${ref.repository}/manifests/${reference}": dial tcp ${ip}:443: i/o timeout`
    case "platformMismatch":
      return `rpc error: code = NotFound desc = ${pull}no match for platform in manifest: not found`
  }
}
