import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Fact } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { PodFixture } from "../../src/testing/index"

const facts = (name: string) => Effect.flatMap(PodFixture.recorded(name), PodFixture.decode)
const known = <A>(f: Fact.Fact<A>): A => {
  assert.strictEqual(f._tag, "Known", f._tag === "Unknown" ? f.reason : "")
  return (f as Fact.Known<A>).value
}

describe("PodFixture: recorded kubectl output → pod facts", () => {
  it("ships one fixture per recorded scenario", () => {
    assert.includeMembers([...PodFixture.names()], ["app_panic_on_boot", "bad_image_or_tag", "failed_init_container", "image_pull_auth", "missing_configmap", "missing_secret", "pending_insufficient_memory", "pending_untolerated_taint", "probe_misconfigured", "registry_unreachable"])
  })

  it.effect("probe_misconfigured: liveness kills (exit 137, reason Error), refused probes, a previous log", () =>
    Effect.gen(function*() {
      const f = yield* facts("probe_misconfigured")
      const t = known(f.termination)!
      assert.deepStrictEqual([t.exitCode, t.reason, t.meaning], [137, "Error", "sigkill"])
      const probes = known(f.probeFailures)
      assert.isTrue(probes.some((p) => p.probe === "Liveness" && p.failure === "refused"))
      assert.isTrue(probes.some((p) => p.kill && p.container === "api"))
      assert.strictEqual(known(f.waiting)?.reason, "CrashLoopBackOff")
      assert.isAbove(known(f.previousLog).lines.length, 0)
      assert.match(known(f.imageIds)[0]!.digest ?? "", /^sha256:[0-9a-f]{64}$/)
    }))

  it.effect("bad_image_or_tag: not found; image_pull_auth (events.k8s.io shape): ambiguous denial; registry_unreachable: timeout", () =>
    Effect.gen(function*() {
      const bad = yield* facts("bad_image_or_tag")
      assert.strictEqual(known(bad.imagePull)?.cause, "not_found")
      assert.strictEqual(bad.previousLog._tag, "Unknown", "a container that never started has no previous instance")
      const auth = yield* facts("image_pull_auth")
      assert.strictEqual(known(auth.imagePull)?.cause, "denied_or_not_found")
      assert.strictEqual(known(auth.imagePull)?.registry, "private.registry.example.com")
      assert.isAbove(known(auth.events).length, 3, "events.k8s.io/v1 events decode")
      const net = yield* facts("registry_unreachable")
      assert.deepStrictEqual([known(net.imagePull)?.cause, known(net.imagePull)?.network], ["timeout", true])
    }))

  it.effect("missing_configmap / missing_secret: the object CreateContainerConfigError misses; no previous instance → Unknown", () =>
    Effect.gen(function*() {
      const cm = yield* facts("missing_configmap")
      assert.deepStrictEqual(known(cm.configError), { kind: "ConfigMap", name: "api-config", namespace: null, key: null })
      assert.strictEqual(cm.previousLog._tag, "Unknown")
      assert.match((cm.previousLog as Fact.Unknown).reason, /no previous instance: previous terminated container "api" in pod "api-[a-z0-9-]+" not found/)
      const sec = yield* facts("missing_secret")
      assert.deepStrictEqual(known(sec.configError)?.kind, "Secret")
    }))

  it.effect("failed_init_container and app_panic_on_boot: exit codes and the redacted stack", () =>
    Effect.gen(function*() {
      const init = yield* facts("failed_init_container")
      assert.deepStrictEqual([known(init.termination)?.exitCode, known(init.waiting)?.reason], [1, "CrashLoopBackOff"])
      const panic = yield* facts("app_panic_on_boot")
      assert.strictEqual(known(panic.termination)?.exitCode, 2)
      assert.match(known(panic.previousLog).lines.join("\n"), /panic/)
    }))

  it.effect("pending: the scheduler's per-reason node counts", () =>
    Effect.gen(function*() {
      const mem = known((yield* facts("pending_insufficient_memory")).scheduling)!
      assert.deepStrictEqual([mem.total, mem.reasons[0]?.count, mem.reasons[0]?.resource], [3, 3, "memory"])
      const taint = known((yield* facts("pending_untolerated_taint")).scheduling)!
      assert.deepStrictEqual([taint.reasons[0]?.category, taint.reasons[0]?.taint], ["taint", "dedicated"])
      assert.strictEqual(taint.preemption?.reasons[0]?.reason, "Preemption is not helpful for scheduling")
    }))

  it.effect("an unknown name lists the available ones", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(PodFixture.recorded("nope"))
      assert.strictEqual(e._tag, "UnknownFixture")
      assert.include(e.message, "probe_misconfigured")
    }))
})

describe("PodFixture: malformed and partial fixtures", () => {
  const copy = (name: string, edit: (dir: string) => void) =>
    Effect.gen(function*() {
      const from = yield* PodFixture.recorded(name)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "podfixture-"))
      for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(dir, f))
      edit(dir)
      return dir
    })
  const patchJson = (dir: string, file: string, f: (j: any) => void) => {
    const j = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"))
    f(j)
    fs.writeFileSync(path.join(dir, file), JSON.stringify(j))
  }

  it.effect("a bad field fails naming the file and the field's path", () =>
    Effect.gen(function*() {
      const dir = yield* copy("probe_misconfigured", (d) => patchJson(d, "pod.json", (j) => { j.status.containerStatuses[0].restartCount = "three" }))
      const e = yield* Effect.flip(PodFixture.decode(dir))
      assert.strictEqual(e._tag, "FixtureError")
      assert.include(e.message, "pod.json")
      assert.match(e.message, /containerStatuses.*restartCount/)
      const dir2 = yield* copy("probe_misconfigured", (d) => patchJson(d, "meta.json", (j) => { delete j.container }))
      assert.match((yield* Effect.flip(PodFixture.decode(dir2))).message, /meta\.json[\s\S]*container/)
      const dir3 = yield* copy("probe_misconfigured", (d) => patchJson(d, "events.json", (j) => { j.items[0].count = "x" }))
      assert.match((yield* Effect.flip(PodFixture.decode(dir3))).message, /events\.json/)
    }))

  it.effect("missing optional files make their facts Unknown, naming the file", () =>
    Effect.gen(function*() {
      const dir = yield* copy("probe_misconfigured", (d) => {
        fs.rmSync(path.join(d, "events.json"))
        fs.rmSync(path.join(d, "previous.log"))
      })
      const f = yield* PodFixture.decode(dir)
      assert.strictEqual(f.events._tag, "Unknown")
      assert.match((f.events as Fact.Unknown).reason, /events\.json/)
      assert.strictEqual(f.previousLog._tag, "Unknown")
      assert.strictEqual(f.termination._tag, "Known")
    }))
})
