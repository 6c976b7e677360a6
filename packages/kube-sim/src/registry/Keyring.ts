/**
 * The kubelet's pull-credential keyring (`pkg/credentialprovider`): `kubernetes.io/dockerconfigjson`
 * (`.dockerconfigjson` with an `auths` map) and `kubernetes.io/dockercfg` (`.dockercfg`) secrets
 * become entries keyed by a schemeless URL (`https://` and a `/v1/` or `/v2/` path prefix dropped),
 * matched against the image's normalised name (`docker.io/library/nginx`) host label by host label
 * (globs such as `*.example.com` allowed, ports equal) with a path prefix; more specific keys first.
 * Docker Hub images also fall back to an `index.docker.io` entry, so `docker.io`, `index.docker.io`
 * and `https://index.docker.io/v1/` all serve Docker Hub pulls, as on a real node.
 */
import type { KubeObject } from "../store/types"
import { parse } from "./Reference"

/** One credential pair from a pull secret. */
export interface Credential {
  readonly username: string
  readonly password: string
  /** The secret it came from (`namespace/name`). */
  readonly source: string
  /** The `auths` key it was found under, as written. */
  readonly key: string
}

/** A keyring entry: the normalised key and its credential. */
export interface KeyringEntry {
  readonly key: string
  readonly credential: Credential
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

/** The keyring key of an `auths` entry (`https://index.docker.io/v1/` → `index.docker.io`). */
export const normalizeKey = (loc: string): string | undefined => {
  const value = loc.startsWith("https://") || loc.startsWith("http://") ? loc : `https://${loc}`
  let u: URL
  try {
    u = new URL(value)
  } catch {
    return undefined
  }
  let path = decodeURIComponent(u.pathname)
  if (path.startsWith("/v2/") || path.startsWith("/v1/")) path = path.slice(3)
  // Go's url.Parse keeps the host as written (a `*.` glob included); URL lower-cases it
  const host = value.replace(/^https?:\/\//, "").split("/")[0]!
  return path.length > 0 && path !== "/" ? `${host}${path}` : host
}

const decodeData = (secret: KubeObject, key: string): string | undefined => {
  const string = secret["stringData"]
  if (isObj(string) && typeof string[key] === "string") return string[key]
  const data = secret["data"]
  if (isObj(data) && typeof data[key] === "string") return Buffer.from(data[key], "base64").toString("utf8")
  return undefined
}

const credentialOf = (v: unknown, source: string, key: string): Credential | undefined => {
  if (!isObj(v)) return undefined
  let username = typeof v["username"] === "string" ? v["username"] : ""
  let password = typeof v["password"] === "string" ? v["password"] : ""
  if (typeof v["auth"] === "string" && v["auth"] !== "") {
    const decoded = Buffer.from(v["auth"], "base64").toString("utf8")
    const i = decoded.indexOf(":")
    if (i >= 0) {
      username = decoded.slice(0, i)
      password = decoded.slice(i + 1)
    }
  }
  return { username, password, source, key }
}

/** The keyring entries of one pull secret (none for other secret types or unparsable data). */
export const entriesOf = (secret: KubeObject): Array<KeyringEntry> => {
  const source = `${secret.metadata.namespace ?? "default"}/${secret.metadata.name}`
  let auths: unknown
  try {
    if (secret["type"] === "kubernetes.io/dockerconfigjson") {
      const text = decodeData(secret, ".dockerconfigjson")
      auths = text === undefined ? undefined : (JSON.parse(text) as Obj)["auths"]
    } else if (secret["type"] === "kubernetes.io/dockercfg") {
      const text = decodeData(secret, ".dockercfg")
      auths = text === undefined ? undefined : JSON.parse(text)
    }
  } catch {
    return []
  }
  if (!isObj(auths)) return []
  const out: Array<KeyringEntry> = []
  for (const [loc, v] of Object.entries(auths)) {
    const key = normalizeKey(loc)
    const credential = credentialOf(v, source, loc)
    if (key !== undefined && credential) out.push({ key, credential })
  }
  return out
}

const splitHost = (host: string): { parts: Array<string>; port: string } => {
  const m = /^(.*):(\d+)$/.exec(host)
  return m ? { parts: m[1]!.split("."), port: m[2]! } : { parts: host.split("."), port: "" }
}

const globMatch = (glob: string, s: string): boolean => {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`)
  return re.test(s)
}

/** `URLsMatchStr`: whether a keyring key (a glob) matches an image name. */
export const urlsMatch = (key: string, target: string): boolean => {
  const [gHost, ...gPath] = key.split("/")
  const [tHost, ...tPath] = target.split("/")
  const g = splitHost(gHost!)
  const t = splitHost(tHost!)
  if (g.parts.length !== t.parts.length || g.port !== t.port) return false
  for (let i = 0; i < g.parts.length; i++) if (!globMatch(g.parts[i]!, t.parts[i]!)) return false
  const gp = gPath.length ? `/${gPath.join("/")}` : ""
  const tp = tPath.length ? `/${tPath.join("/")}` : ""
  return tp.startsWith(gp)
}

/** Whether an image pulls from Docker Hub (`isDefaultRegistryMatch`). */
export const isDefaultRegistryMatch = (image: string): boolean => {
  const parts = image.split("/")
  if (parts[0] === "") return false
  if (parts.length === 1) return true
  if (parts[0] === "docker.io" || parts[0] === "index.docker.io") return true
  return !/[.:]/.test(parts[0]!)
}

/** The credentials the kubelet would try for `image`, in its order (most specific key first). */
export const lookup = (entries: ReadonlyArray<KeyringEntry>, image: string): Array<Credential> => {
  const name = parse(image).name
  const keys = [...new Set(entries.map((e) => e.key))].sort().reverse()
  const out: Array<Credential> = []
  for (const k of keys) {
    if (urlsMatch(k, name)) for (const e of entries) if (e.key === k) out.push(e.credential)
  }
  if (out.length > 0) return out
  if (isDefaultRegistryMatch(name)) return entries.filter((e) => e.key === "index.docker.io").map((e) => e.credential)
  return []
}
