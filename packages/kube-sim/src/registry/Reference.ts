/**
 * Image references normalised the way containerd and the kubelet do (`distribution/reference`'s
 * `ParseNormalizedNamed`): `nginx` is `docker.io/library/nginx:latest`, `index.docker.io/x/y` is
 * `docker.io/x/y`, a first path component with a `.` or `:` (or `localhost`) is a registry host.
 */

/** A parsed, normalised image reference. */
export interface Reference {
  /** The reference as written in the pod spec. */
  readonly raw: string
  /** Registry host (with port), `docker.io` for Docker Hub. */
  readonly registry: string
  /** Repository path inside the registry (`library/nginx`). */
  readonly repository: string
  /** Tag (`latest` when neither tag nor digest is given; undefined for a digest-only reference). */
  readonly tag: string | undefined
  /** `sha256:…` when the reference pins a digest. */
  readonly digest: string | undefined
  /** `registry/repository` (the kubelet keyring looks credentials up by this). */
  readonly name: string
  /** `registry/repository:tag` or `registry/repository@digest`, as containerd prints it. */
  readonly normalized: string
  /** The short form Docker prints (`nginx`, `org/app`, `registry.example.com/app`). */
  readonly familiar: string
}

/** Docker Hub's canonical registry name. */
export const DOCKER_HUB = "docker.io"

const isHost = (s: string): boolean => s.includes(".") || s.includes(":") || s === "localhost"

/** Parse and normalise an image reference (`nginx`, `org/app:1`, `reg:5000/a/b@sha256:…`). */
export const parse = (image: string): Reference => {
  let rest = image.trim()
  let digest: string | undefined
  const at = rest.indexOf("@")
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(":")
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
  }
  const parts = rest.split("/")
  let registry = DOCKER_HUB
  if (parts.length > 1 && isHost(parts[0]!)) registry = parts.shift()!
  if (registry === "index.docker.io") registry = DOCKER_HUB
  let repository = parts.join("/")
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`
  if (tag === undefined && digest === undefined) tag = "latest"
  const name = `${registry}/${repository}`
  const normalized = digest !== undefined ? `${name}@${digest}` : `${name}:${tag}`
  const shortRepo = registry === DOCKER_HUB ? repository.replace(/^library\//, "") : name
  const familiar = digest !== undefined ? `${shortRepo}@${digest}` : `${shortRepo}:${tag}`
  return { raw: image, registry, repository, tag, digest, name, normalized, familiar }
}

/**
 * The image name the kubelet pulls and prints in its events: the reference as written, with
 * `:latest` appended when it has neither tag nor digest (`applyDefaultImageTag`).
 */
export const withDefaultTag = (image: string): string => {
  const r = parse(image)
  return r.digest === undefined && !image.endsWith(`:${r.tag}`) ? `${image}:${r.tag}` : image
}

/** The host a registry is contacted on (`registry-1.docker.io` for Docker Hub). */
export const endpointHost = (registry: string): string => (registry === DOCKER_HUB ? "registry-1.docker.io" : registry)
