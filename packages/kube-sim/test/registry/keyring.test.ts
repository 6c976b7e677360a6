import { assert, describe, it } from "@effect/vitest"
import { ImageRegistry } from "../../src/registry/ImageRegistry"
import { entriesOf, lookup, normalizeKey, urlsMatch } from "../../src/registry/Keyring"
import { parse, withDefaultTag } from "../../src/registry/Reference"
import type { KubeObject } from "../../src/store/types"

const dockerconfig = (name: string, auths: Record<string, { username: string; password: string }>, encoded = true): KubeObject => {
  const text = JSON.stringify({ auths: Object.fromEntries(Object.entries(auths).map(([k, v]) => [k, encoded ? { auth: Buffer.from(`${v.username}:${v.password}`).toString("base64") } : v])) })
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "default" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(text).toString("base64") } }
}

describe("image references (containerd normalisation)", () => {
  it("normalises Docker Hub short names, hosts with ports and digests", () => {
    assert.deepInclude(parse("nginx"), { registry: "docker.io", repository: "library/nginx", tag: "latest", normalized: "docker.io/library/nginx:latest", familiar: "nginx:latest" })
    assert.deepInclude(parse("acme/api:2"), { registry: "docker.io", repository: "acme/api", normalized: "docker.io/acme/api:2" })
    assert.deepInclude(parse("index.docker.io/library/redis:7"), { registry: "docker.io", name: "docker.io/library/redis" })
    assert.deepInclude(parse("localhost:5000/team/app:1"), { registry: "localhost:5000", repository: "team/app", tag: "1" })
    assert.deepInclude(parse("registry.example.com/shop/api@sha256:abc"), { tag: undefined, digest: "sha256:abc", normalized: "registry.example.com/shop/api@sha256:abc" })
    assert.strictEqual(withDefaultTag("nginx"), "nginx:latest")
    assert.strictEqual(withDefaultTag("reg.example.com:5000/app"), "reg.example.com:5000/app:latest")
    assert.strictEqual(withDefaultTag("nginx@sha256:abc"), "nginx@sha256:abc")
  })
})

describe("pull-secret keyring (kubelet credentialprovider rules)", () => {
  it("keys drop the scheme and a /v1/ or /v2/ prefix", () => {
    assert.strictEqual(normalizeKey("https://index.docker.io/v1/"), "index.docker.io")
    assert.strictEqual(normalizeKey("docker.io"), "docker.io")
    assert.strictEqual(normalizeKey("http://reg.example.com:5000/v2/team"), "reg.example.com:5000/team")
    assert.strictEqual(normalizeKey("*.example.com"), "*.example.com")
  })

  it("docker.io, index.docker.io and https://index.docker.io/v1/ all serve Docker Hub images; other hosts do not", () => {
    for (const key of ["docker.io", "index.docker.io", "https://index.docker.io/v1/"]) {
      const entries = entriesOf(dockerconfig("hub", { [key]: { username: "u", password: "p" } }))
      for (const image of ["nginx", "acme/private:1", "docker.io/acme/private:1", "index.docker.io/acme/private"]) {
        assert.deepStrictEqual(lookup(entries, image).map((c) => c.username), ["u"], `${key} for ${image}`)
      }
      assert.deepStrictEqual(lookup(entries, "ghcr.io/acme/private:1"), [], key)
    }
  })

  it("host labels must match one by one (globs per label), ports must match, paths are prefixes; most specific key first", () => {
    assert.isTrue(urlsMatch("*.example.com", "registry.example.com/a/b"))
    assert.isFalse(urlsMatch("*.example.com", "example.com/a"))
    assert.isFalse(urlsMatch("registry.example.com", "registry.example.com.evil.io/a"))
    assert.isFalse(urlsMatch("registry.example.com", "registry.example.com:5000/a"))
    assert.isFalse(urlsMatch("registry.example.com/team", "registry.example.com/other/app"))
    const entries = entriesOf(dockerconfig("multi", {
      "registry.example.com": { username: "host", password: "p" },
      "registry.example.com/team": { username: "team", password: "p" }
    }, false))
    assert.deepStrictEqual(lookup(entries, "registry.example.com/team/app:1").map((c) => c.username), ["team", "host"])
    assert.deepStrictEqual(lookup(entries, "registry.example.com/other/app:1").map((c) => c.username), ["host"])
  })

  it("kubernetes.io/dockercfg secrets and stringData are read; other secret types and bad JSON give nothing", () => {
    const cfg: KubeObject = { apiVersion: "v1", kind: "Secret", metadata: { name: "old" }, type: "kubernetes.io/dockercfg", stringData: { ".dockercfg": JSON.stringify({ "quay.io": { username: "q", password: "p" } }) } }
    assert.deepStrictEqual(lookup(entriesOf(cfg), "quay.io/org/app:1").map((c) => [c.username, c.source, c.key]), [["q", "default/old", "quay.io"]])
    assert.deepStrictEqual(entriesOf({ ...cfg, type: "Opaque" }), [])
    assert.deepStrictEqual(entriesOf({ ...cfg, type: "kubernetes.io/dockerconfigjson", stringData: { ".dockerconfigjson": "{not json" } }), [])
  })
})

describe("ImageRegistry", () => {
  it("tags resolve to stable digests; a re-push moves the tag and keeps the old digest pullable", () => {
    const r = new ImageRegistry()
    const before = r.resolve("registry.example.com/shop/api:1.4.2")!
    assert.match(before, /^sha256:[0-9a-f]{64}$/)
    assert.strictEqual(r.resolve("registry.example.com/shop/api:1.4.2"), before)
    const after = r.push("registry.example.com/shop/api:1.4.2")
    assert.notStrictEqual(after, before)
    assert.deepStrictEqual(r.history("registry.example.com/shop/api:1.4.2"), [before, after])
    const pulled = r.pull("registry.example.com/shop/api:1.4.2")
    assert.deepInclude(pulled, { ok: true, digest: after, imageID: `registry.example.com/shop/api@${after}` })
    assert.deepInclude(r.pull(`registry.example.com/shop/api@${before}`), { ok: true, digest: before })
    r.deleteTag("registry.example.com/shop/api:1.4.2")
    assert.deepInclude(r.pull("registry.example.com/shop/api:1.4.2"), { ok: false, outcome: "notFound" })
    assert.deepInclude(r.pull("registry.example.com/shop/api:1.4.1"), { ok: true })
  })

  it("runtime error texts: containerd, Docker Engine (cri-dockerd), CRI-O", () => {
    const r = new ImageRegistry()
    r.setOutcome("nginx:nope", "notFound")
    r.setOutcome("acme/arm:1", "platformMismatch")
    const msg = (image: string, runtime: "containerd" | "docker" | "crio") => {
      const p = r.pull(image, { runtime })
      return p.ok ? "" : p.message
    }
    assert.strictEqual(msg("nginx:nope", "containerd"), 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:nope": failed to resolve reference "docker.io/library/nginx:nope": docker.io/library/nginx:nope: not found')
    assert.strictEqual(msg("nginx:nope", "docker"), "rpc error: code = Unknown desc = Error response from daemon: manifest for nginx:nope not found: manifest unknown: manifest unknown")
    assert.strictEqual(msg("nginx:nope", "crio"), "rpc error: code = Unknown desc = initializing source docker://docker.io/library/nginx:nope: reading manifest nope in docker.io/library/nginx: manifest unknown")
    assert.strictEqual(msg("acme/arm:1", "containerd"), 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/acme/arm:1": no match for platform in manifest: not found')
    assert.strictEqual(msg("acme/arm:1", "docker"), "rpc error: code = Unknown desc = Error response from daemon: no matching manifest for linux/amd64 in the manifest list entries")
    assert.deepInclude(r.pull("acme/arm:1", { platform: "linux/arm64" }), { ok: true })
    r.setOutcome("acme/arm:1", "ok")
    assert.deepInclude(r.pull("acme/arm:1"), { ok: true })
  })

  it("auth: anonymous Docker Hub pulls are 'pull access denied', wrong credentials 401, right ones pull", () => {
    const r = new ImageRegistry()
    r.requireAuth("docker.io/acme/private", [{ username: "bot", password: "right" }])
    const anon = r.pull("acme/private:1")
    assert.isFalse(anon.ok)
    if (!anon.ok) {
      assert.strictEqual(anon.message, 'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/acme/private:1": failed to resolve reference "docker.io/acme/private:1": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed')
    }
    const wrong = r.pull("acme/private:1", { credentials: [{ username: "bot", password: "old", source: "default/x", key: "docker.io" }] })
    assert.isFalse(wrong.ok)
    if (!wrong.ok) assert.include(wrong.message, "failed to fetch oauth token: unexpected status from GET request to https://auth.docker.io/token?scope=repository%3Aacme%2Fprivate%3Apull&service=registry.docker.io: 401 Unauthorized")
    const right = r.pull("acme/private:1", { credentials: [{ username: "bot", password: "old", source: "default/x", key: "docker.io" }, { username: "bot", password: "right", source: "default/y", key: "docker.io" }] })
    assert.deepInclude(right, { ok: true })
    if (right.ok) assert.strictEqual(right.credential?.source, "default/y")
    assert.deepInclude(r.pull("acme/public:1"), { ok: true })
    r.setReachable("docker.io", false)
    const down = r.pull("acme/public:1")
    assert.deepInclude(down, { ok: false, outcome: "unreachable", timeoutMs: 30_000 })
    if (!down.ok) assert.match(down.message, /^rpc error: code = Unknown desc = failed to pull and unpack image "docker\.io\/acme\/public:1": failed to resolve reference "docker\.io\/acme\/public:1": failed to do request: Head "https:\/\/registry-1\.docker\.io\/v2\/acme\/public\/manifests\/1": dial tcp [\d.]+:443: i\/o timeout$/)
  })
})

describe("ImageRegistry: a registry unreachable from some nodes only", () => {
  it("fails the pull on those nodes (dial timeout), others pull; node-scoped reachability and the global switch compose", () => {
    const r = new ImageRegistry()
    const img = "registry.internal.example.com/team/api:2.0.0"
    r.setReachable("registry.internal.example.com", false, { nodes: ["node-1"] })
    const bad = r.pull(img, { node: "node-1" })
    assert.isFalse(bad.ok)
    assert.strictEqual(bad.ok === false && bad.outcome, "unreachable")
    assert.strictEqual(bad.ok === false && bad.timeoutMs, 30_000)
    assert.isTrue(r.pull(img, { node: "node-2" }).ok, "another node pulls")
    assert.isTrue(r.pull(img).ok, "a pull without a node is not node-scoped")
    assert.isTrue(r.pull("docker.io/library/nginx:1.27", { node: "node-1" }).ok, "other registries are reachable from node-1")
    r.setReachable("registry.internal.example.com", true, { nodes: ["node-1"] })
    assert.isTrue(r.pull(img, { node: "node-1" }).ok)
    // the global switch: unreachable everywhere; reachable again clears node-scoped faults too
    r.setReachable("registry.internal.example.com", false, { nodes: ["node-3"] })
    r.setReachable("registry.internal.example.com", false)
    assert.isFalse(r.pull(img, { node: "node-2" }).ok)
    r.setReachable("registry.internal.example.com", true)
    assert.isTrue(r.pull(img, { node: "node-3" }).ok)
  })
})
