/**
 * Which pull secrets could authenticate a pull, decided as the kubelet's keyring decides it —
 * never with a credential value. An image reference is normalised to its registry location
 * (`nginx` → `docker.io/library/nginx`; a first component with a `.` or `:`, or `localhost`, is
 * the registry host); a `kubernetes.io/dockerconfigjson` (`auths`) or `kubernetes.io/dockercfg`
 * key matches it when, with `https://`/`http://` and a trailing `/v1/` dropped, its host labels
 * match one by one (`*` globs within a label), the ports are equal and its path is a prefix of
 * the image's path; `docker.io`, `index.docker.io`, `registry-1.docker.io` and
 * `https://index.docker.io/v1/` all mean Docker Hub.
 *
 * Only the `auths` keys are kept (and whether an entry carries any credential at all): the
 * secret's data is decoded, its keys read and everything else dropped at once.
 *
 * @example
 * ```ts
 * import { PullSecrets } from "@byteport/k8s"
 * PullSecrets.matches("https://index.docker.io/v1/", "nginx:1.27") // true
 * PullSecrets.matches("*.example.com", "registry.example.com/shop/api:1.4.2") // true
 * ```
 *
 * @since 0.3.0
 */

/** Where an image (or an auths key) points: host (lower case, Docker Hub as `docker.io`), port and path. */
export interface Location {
  readonly host: string
  readonly port: string | null
  readonly path: string
}

const DOCKER_HUB = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"])

const splitHostPort = (hp: string): { readonly host: string; readonly port: string | null } => {
  const i = hp.lastIndexOf(":")
  return i > 0 && /^\d+$/.test(hp.slice(i + 1)) ? { host: hp.slice(0, i).toLowerCase(), port: hp.slice(i + 1) } : { host: hp.toLowerCase(), port: null }
}

/** The repository of an image reference without tag or digest (`registry.example.com/shop/api`). */
export const repositoryOf = (image: string): string => {
  const noDigest = image.split("@")[0]!
  const slash = noDigest.lastIndexOf("/")
  const colon = noDigest.lastIndexOf(":")
  return colon > slash ? noDigest.slice(0, colon) : noDigest
}

/** The tag of an image reference (`latest` when it names neither tag nor digest; null with a digest only). */
export const tagOf = (image: string): string | null => {
  const [name, digest] = image.split("@")
  const slash = name!.lastIndexOf("/")
  const colon = name!.lastIndexOf(":")
  if (colon > slash) return name!.slice(colon + 1)
  return digest !== undefined ? null : "latest"
}

/** The registry location of an image reference, as the runtime resolves it. */
export const imageLocation = (image: string): Location => {
  const repo = repositoryOf(image.trim())
  const parts = repo.split("/")
  const first = parts[0]!
  const isHost = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")
  if (!isHost) return { host: "docker.io", port: null, path: parts.length === 1 ? `library/${repo}` : repo }
  const { host, port } = splitHostPort(first)
  const rest = parts.slice(1).join("/")
  return { host: DOCKER_HUB.has(host) ? "docker.io" : host, port, path: DOCKER_HUB.has(host) && parts.length === 2 ? `library/${rest}` : rest }
}

/** The registry host of an image (`docker.io` for Docker Hub), with its port when it has one. */
export const registryOf = (image: string): string => {
  const l = imageLocation(image)
  return l.port ? `${l.host}:${l.port}` : l.host
}

/** An auths key normalised as the kubelet reads it (undefined when it names no host). */
export const keyLocation = (key: string): Location | undefined => {
  let k = key.trim().replace(/^https?:\/\//i, "")
  k = k.replace(/\/v1\/?$/, "").replace(/\/+$/, "")
  if (k === "") return undefined
  const slash = k.indexOf("/")
  const hp = slash >= 0 ? k.slice(0, slash) : k
  const path = slash >= 0 ? k.slice(slash + 1) : ""
  const { host, port } = splitHostPort(hp)
  if (host === "") return undefined
  return { host: DOCKER_HUB.has(host) ? "docker.io" : host, port, path }
}

const labelMatches = (glob: string, label: string): boolean =>
  new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^.]*")}$`).test(label)

/** Whether an auths key would be offered by the kubelet for pulling `image`. */
export const matches = (key: string, image: string): boolean => {
  const k = keyLocation(key)
  if (!k) return false
  const i = imageLocation(image)
  const kl = k.host.split(".")
  const il = i.host.split(".")
  if (kl.length !== il.length || !kl.every((g, n) => labelMatches(g, il[n]!))) return false
  if ((k.port ?? null) !== (i.port ?? null)) return false
  if (k.path === "") return true
  const kp = k.path.split("/")
  const ip = i.path.split("/")
  return kp.length <= ip.length && kp.every((seg, n) => seg === ip[n])
}

/** The auths keys a secret holds and whether each entry carries any credential (values never kept). */
export interface AuthKeys {
  readonly type: string | null
  readonly keys: ReadonlyArray<{ readonly key: string; readonly hasCredentials: boolean }>
  /** Why the keys could not be read (not a pull-secret type, undecodable data), else null. */
  readonly problem: string | null
}

/** A Secret as read (only `type` and `data` are looked at). */
export interface SecretLike {
  readonly type?: string | undefined
  readonly data?: { readonly [k: string]: string } | undefined
}

const hasCreds = (v: unknown): boolean => {
  if (v === null || typeof v !== "object") return false
  const o = v as Record<string, unknown>
  return ["auth", "username", "password", "identitytoken", "registrytoken"].some((f) => typeof o[f] === "string" && (o[f] as string).length > 0)
}

/** The auths keys of a pull secret (`kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`). */
export const authKeys = (secret: SecretLike): AuthKeys => {
  const type = secret.type ?? null
  const field = type === "kubernetes.io/dockerconfigjson" ? ".dockerconfigjson" : type === "kubernetes.io/dockercfg" ? ".dockercfg" : undefined
  if (field === undefined) return { type, keys: [], problem: `type ${type ?? "(none)"} is not a pull secret (kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg)` }
  const raw = secret.data?.[field]
  if (raw === undefined) return { type, keys: [], problem: `no ${field} in the secret's data` }
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(raw, "base64").toString("utf8"))
  } catch {
    return { type, keys: [], problem: `${field} is not base64 JSON` }
  }
  const auths = field === ".dockerconfigjson" ? (parsed as { auths?: unknown } | null)?.auths : parsed
  if (auths === null || typeof auths !== "object" || Array.isArray(auths)) return { type, keys: [], problem: `${field} has no auths object` }
  return { type, keys: Object.entries(auths as Record<string, unknown>).map(([key, v]) => ({ key, hasCredentials: hasCreds(v) })), problem: null }
}
