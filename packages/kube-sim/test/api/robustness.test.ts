import fc from "fast-check"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { startSim } from "./helpers"

let sim: KubeSimInstance

beforeAll(async () => {
  sim = (await startSim()).sim
  await fetch(`${sim.url}/api/v1/namespaces/default/pods`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ metadata: { name: "p" }, spec: { containers: [{ name: "app", image: "a:1" }] } })
  })
})
afterAll(() => sim.close())

const segment = fc.oneof(
  fc.constantFrom("api", "apis", "v1", "apps", "namespaces", "default", "pods", "p", "status", "log", "eviction", "scale", "deployments", "watch", "nodes", "%E0%A4%A", "..", "events.k8s.io", "events"),
  fc.stringMatching(/^[a-zA-Z0-9.%-]{1,8}$/)
)
const body = fc.oneof(
  fc.constant(""),
  fc.constant("{"),
  fc.constant("[]"),
  fc.constant("null"),
  fc.constant('"str"'),
  fc.constant('[{"op":"bogus","path":"/x"}]'),
  fc.constant('{"metadata":{"name":5,"labels":[1]},"spec":"x"}'),
  fc.constant('{"spec":{"containers":{"name":"x"}}}'),
  fc.constant('{"metadata":{"name":"p"},"spec":{"containers":[{"$patch":"delete"}]}}'),
  fc.constant("a: [b\n"),
  fc.json()
)
const contentType = fc.constantFrom(
  "application/json",
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
  "application/yaml",
  "application/vnd.kubernetes.protobuf",
  "text/plain"
)
const query = fc.constantFrom("", "?watch=true&timeoutSeconds=1", "?labelSelector=a%20in%20(", "?fieldSelector=%3D%3D", "?limit=-3&continue=%%%", "?dryRun=All", "?fieldManager=x", "?tailLines=abc&previous=true", "?resourceVersion=abc&watch=1&timeoutSeconds=1")

const validPath = fc.constantFrom(
  "api/v1/namespaces/default/pods",
  "api/v1/namespaces/default/pods/p",
  "api/v1/namespaces/default/pods/p/status",
  "api/v1/namespaces/default/pods/p/log",
  "api/v1/namespaces/default/pods/p/eviction",
  "api/v1/namespaces/default/configmaps",
  "api/v1/namespaces/default/configmaps/c",
  "api/v1/nodes",
  "api/v1/nodes/n1/status",
  "api/v1/namespaces/default",
  "apis/apps/v1/namespaces/default/deployments",
  "apis/apps/v1/namespaces/default/deployments/d/scale",
  "apis/policy/v1/namespaces/default/poddisruptionbudgets",
  "apis/events.k8s.io/v1/namespaces/default/events",
  "apis/events.k8s.io/v1/namespaces/default/events/e"
)
const path = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 7 }).map((s) => s.join("/")),
  validPath,
  fc.tuple(validPath, segment).map(([a, b]) => `${a}/${b}`)
)

describe("robustness", () => {
  it("bad input gets a 4xx Status, never a 5xx or a crash", async () => {
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE"),
        body,
        contentType,
        query,
        async (p, method, text, ct, q) => {
          const ac = new AbortController()
          const t = setTimeout(() => ac.abort(), 3000)
          try {
            const res = await fetch(`${sim.url}/${p}${q}`, {
              method,
              headers: { "Content-Type": ct },
              ...(method === "GET" ? {} : { body: text }),
              signal: ac.signal
            })
            const isStream = res.headers.get("transfer-encoding") === "chunked" && res.status === 200
            if (isStream) await res.body?.cancel()
            else await res.text()
            assert.isBelow(res.status, 500, `${method} /${p}${q} [${ct}] ${text}`)
          } finally {
            clearTimeout(t)
          }
        }
      ),
      { numRuns: 400, seed: Number(process.env["KUBE_SIM_FUZZ_SEED"] ?? 20261128) }
    )
    // the server is still up and consistent (the random requests may have deleted things)
    const alive = await fetch(`${sim.url}/api/v1/pods`)
    assert.strictEqual(alive.status, 200)
    assert.strictEqual(((await alive.json()) as { kind: string }).kind, "PodList")
  }, 60_000)
})
