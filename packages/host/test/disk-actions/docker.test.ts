/**
 * host.docker.prune against the loopback Engine API fake (@byteport/host/testing) on a unix
 * socket: the calls the docker CLI makes, never /volumes/prune; dry_run and observe only read.
 */
import { Action, TargetRef } from "@byteport/core"
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Docker from "../../src/actions/Docker"
import * as DockerEngineFake from "../../src/testing/DockerEngineFake"

const MiB = 1024 * 1024
const state = (): Partial<DockerEngineFake.State> => ({
  images: [
    { Id: "sha256:dangling1", RepoTags: ["<none>:<none>"], Size: 50 * MiB },
    { Id: "sha256:dangling2", RepoTags: [], Size: 20 * MiB },
    { Id: "sha256:old-tagged", RepoTags: ["app:1.0"], Size: 300 * MiB },
    { Id: "sha256:running", RepoTags: ["app:2.0"], Size: 310 * MiB }
  ],
  containers: [
    { Id: "c-running", Image: "sha256:running", State: "running" },
    { Id: "c-exited", Image: "sha256:running", State: "exited" }
  ],
  buildCache: [
    { ID: "cache-free", Size: 40 * MiB, InUse: false },
    { ID: "cache-shared", Size: 10 * MiB, InUse: false, Shared: true },
    { ID: "cache-busy", Size: 5 * MiB, InUse: true }
  ],
  networks: [{ Name: "bridge", used: true }, { Name: "old-net", used: false }],
  volumes: [{ Name: "pgdata", Size: 900 * MiB, used: false }]
})

const action = (aggressive: boolean) =>
  Action.make({ kind: Docker.KIND, target: TargetRef.make("host.docker", "engine"), params: { aggressive }, idempotencyKey: `d:${aggressive}`, description: "prune" })

describe("host.docker.prune through the Engine API (loopback fake)", () => {
  let dir: string
  let fake: DockerEngineFake.DockerEngineFake
  beforeEach(async () => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-docker-"))
    fake = await DockerEngineFake.start({ socketPath: nodePath.join(dir, "docker.sock"), state: state() })
  })
  afterEach(async () => {
    await fake.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const spec = () => Docker.spec({ socketPath: fake.socketPath! })
  const posts = () => fake.requests.filter((r) => r.method === "POST").map((r) => `${r.path} ${JSON.stringify(r.query)}`)

  it.live("default: dangling images and unused build cache only (image prune + builder prune); tagged images, containers, networks, volumes kept", () =>
    Effect.gen(function*() {
      const s = spec()
      assert.strictEqual((yield* s.observe({ aggressive: false }, { action: action(false), incidentId: "i", since: 0 }))._tag, "NotApplied")
      const r = yield* s.apply({ aggressive: false }, { action: action(false), dryRun: false, incidentId: "i" })
      assert.deepStrictEqual(posts(), [
        `/v1.43/images/prune {"filters":"{\\"dangling\\":[\\"true\\"]}"}`,
        "/v1.43/build/prune {}"
      ])
      assert.strictEqual(fake.requests[0]!.path, "/_ping", "the API version is negotiated first")
      assert.strictEqual(r.result["spaceReclaimed"], 110 * MiB)
      assert.deepStrictEqual(fake.state.images.map((i) => i.Id), ["sha256:old-tagged", "sha256:running"])
      assert.deepStrictEqual(fake.state.buildCache.map((b) => b.ID), ["cache-shared", "cache-busy"])
      assert.strictEqual(fake.state.containers.length, 2)
      assert.deepStrictEqual(fake.state.volumes.map((v) => v.Name), ["pgdata"])
      assert.isFalse(fake.requests.some((q) => q.path.includes("/volumes")))
      assert.strictEqual((yield* s.observe({ aggressive: false }, { action: action(false), incidentId: "i", since: 0 }))._tag, "Applied")
    }))

  it.live("aggressivePrune: docker system prune -af's calls (stopped containers, networks, every unused image, all build cache), never volumes", () =>
    Effect.gen(function*() {
      const r = yield* spec().apply({ aggressive: true }, { action: action(true), dryRun: false, incidentId: "i" })
      assert.deepStrictEqual(posts(), [
        "/v1.43/containers/prune {}",
        "/v1.43/networks/prune {}",
        `/v1.43/images/prune {"filters":"{\\"dangling\\":[\\"false\\"]}"}`,
        "/v1.43/build/prune {\"all\":\"1\"}"
      ])
      // the image a running container uses stays; the volume stays whatever its use
      assert.deepStrictEqual(fake.state.images.map((i) => i.Id), ["sha256:running"])
      assert.deepStrictEqual(fake.state.containers.map((c) => c.Id), ["c-running"])
      assert.deepStrictEqual(fake.state.networks.map((n) => n.Name), ["bridge"])
      assert.deepStrictEqual(fake.state.buildCache.map((b) => b.ID), ["cache-busy"])
      assert.deepStrictEqual(fake.state.volumes.map((v) => v.Name), ["pgdata"])
      assert.strictEqual(r.result["spaceReclaimed"], (50 + 20 + 300 + 40 + 10) * MiB)
      assert.isFalse(fake.requests.some((q) => q.path.includes("/volumes")))
    }))

  it.live("dry_run and observe only read (GET /system/df): nothing changes", () =>
    Effect.gen(function*() {
      const before = JSON.stringify(fake.state)
      for (const aggressive of [false, true]) {
        const r = yield* spec().apply({ aggressive }, { action: action(aggressive), dryRun: true, incidentId: "i" })
        assert.strictEqual(r.result["dryRun"], true)
        yield* spec().observe({ aggressive }, { action: action(aggressive), incidentId: "i", since: 0 })
      }
      assert.strictEqual(JSON.stringify(fake.state), before)
      assert.deepStrictEqual([...new Set(fake.requests.map((q) => `${q.method} ${q.path.replace(/^\/v[\d.]+/, "")}`))].sort(), ["GET /_ping", "GET /system/df"])
    }))

  it.live("an Engine error fails the action with the Engine's message; no socket fails typed", () =>
    Effect.gen(function*() {
      const c = Docker.client({ socketPath: fake.socketPath! })
      const e = yield* Effect.flip(c.call("POST", "/nope"))
      assert.strictEqual(e.status, 404)
      assert.match(e.message, /page not found/)
      const none = yield* Effect.flip(Docker.spec({ socketPath: nodePath.join(dir, "absent.sock") }).apply({ aggressive: false }, { action: action(false), dryRun: false, incidentId: "i" }))
      assert.strictEqual(none._tag, "ActionFailed")
      assert.match(none.message, /ENOENT/)
    }))

  it("the calls are pure data: never /volumes/prune in either mode", () => {
    for (const a of [false, true]) assert.isFalse(Docker.calls(a).some((c) => c.path.includes("volumes")))
  })
})
