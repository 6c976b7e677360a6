/**
 * Recorded fixtures from the package: `OomFixture.recorded(name)` resolves the directory shipped
 * inside @byteport/k8s (from src/ here, from dist/ or node_modules in an installed package),
 * `names()` lists them, an unknown name is a typed error; `OomFixture.record` records a user's
 * own fixture from a running cluster into their directory and never into node_modules.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { startSim } from "../../../kube-sim/src/scenario/index"
import * as OomClassifier from "../../src/classifiers/oom"
import * as Recorded from "../../src/testing/Recorded"
import { OomFixture } from "../../src/testing/index"
import { Scenario } from "./harness"

const shipped = path.join(import.meta.dirname, "../../fixtures/oom")
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "byteport-record-"))
const classOf = (c: ReturnType<ReturnType<typeof OomClassifier.classify>>) => (c._tag === "Classified" ? c.class : c._tag)

describe("OomFixture.recorded / names", () => {
  it("names() lists every shipped fixture directory", () => {
    const onDisk = fs.readdirSync(shipped).filter((n) => fs.existsSync(path.join(shipped, n, "meta.json"))).sort()
    assert.deepStrictEqual([...OomFixture.names()], onDisk)
    assert.isAtLeast(onDisk.length, 13)
    assert.include(OomFixture.names(), "undersized_limit")
  })

  it.effect("recorded(name) is the shipped directory; decode and signal read it", () =>
    Effect.gen(function*() {
      const dir = yield* OomFixture.recorded("undersized_limit")
      assert.strictEqual(dir, path.join(shipped, "undersized_limit"))
      const facts = yield* OomFixture.decode(dir)
      assert.strictEqual(classOf(OomClassifier.classify()(facts)), "undersized_limit")
      const signal = yield* OomFixture.signal(dir)
      assert.strictEqual(signal.type, "k8s.pod.oom_killed")
    }))

  it.effect("an unknown name (or a path) fails with UnknownFixture listing the available names", () =>
    Effect.gen(function*() {
      for (const name of ["undersized", "../oom/undersized_limit", "undersized_limit/", ""]) {
        const e = yield* Effect.flip(OomFixture.recorded(name))
        assert.strictEqual(e._tag, "UnknownFixture")
        assert.strictEqual(e.family, "oom")
        assert.strictEqual(e.name, name)
        assert.deepStrictEqual([...e.available], [...OomFixture.names()])
        assert.include(e.message, "available: ")
        assert.include(e.message, "undersized_limit")
      }
    }))

  it("the fixtures root is found from src/ and from an installed package's dist/ chunks", () => {
    const t = tmp()
    const pkg = path.join(t, "node_modules", "@byteport", "k8s")
    fs.mkdirSync(path.join(pkg, "dist", "testing"), { recursive: true })
    fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "@byteport/k8s" }))
    const other = path.join(t, "node_modules", "other")
    fs.mkdirSync(path.join(other, "dist"), { recursive: true })
    fs.writeFileSync(path.join(other, "package.json"), JSON.stringify({ name: "other" }))
    assert.strictEqual(Recorded.rootFrom(pathToFileURL(path.join(pkg, "dist", "memoryTrend-abc123.js")).href), path.join(pkg, "fixtures"))
    assert.strictEqual(Recorded.rootFrom(pathToFileURL(path.join(pkg, "dist", "testing", "index.js")).href), path.join(pkg, "fixtures"))
    assert.strictEqual(Recorded.rootFrom(pathToFileURL(path.join(other, "dist", "index.js")).href), undefined)
    assert.strictEqual(Recorded.root(), path.resolve(shipped, ".."))
  })
})

describe("OomFixture.record", () => {
  it.effect("records an OOM-killed pod from kube-sim into the user's directory; the recording decodes and classifies", () =>
    Effect.gen(function*() {
      const sim = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startSim({ seed: 7, now: "2026-01-01T00:00:00Z", scenario: Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build() })
        ),
        (s) => Effect.promise(() => s.close())
      )
      sim.advance("6m")
      const pods = (yield* Effect.promise(() => fetch(`${sim.url}/api/v1/namespaces/default/pods`).then((r) => r.json()))) as { items: Array<any> }
      const killed = pods.items.find((p) => p.status?.containerStatuses?.[0]?.lastState?.terminated?.reason === "OOMKilled")
      assert.isDefined(killed)
      const parent = path.join(tmp(), "fixtures", "oom")
      const dir = yield* OomFixture.record({ name: "my_undersized", server: sim.url, pod: killed.metadata.name, dir: parent, now: sim.now() })
      assert.strictEqual(dir, path.join(parent, "my_undersized"))
      assert.deepStrictEqual(
        fs.readdirSync(dir).sort(),
        ["deployment.json", "hpas.json", "meta.json", "node.json", "pod.json", "podmetrics.json", "previous.log", "prometheus-memory.json", "prometheus-rps.json", "replicasets.json"]
      )
      assert.match(fs.readFileSync(path.join(dir, "previous.log"), "utf8"), /\S/, "the previous container's log")
      const meta = JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8"))
      assert.deepStrictEqual(meta, { container: "api", now: sim.now(), scenario: "my_undersized" })
      const facts = yield* OomFixture.decode(dir)
      assert.strictEqual(classOf(OomClassifier.classify()(facts)), "undersized_limit")
      const signal = yield* OomFixture.signal(dir)
      assert.strictEqual(signal.evidence["pod"], killed.metadata.name)
      assert.match(signal.target.ref, /\/default\/Deployment\/api\/api$/)
    }).pipe(Effect.scoped), 60_000)

  it.effect("never into node_modules (directly or through a symlink), only plain names; nothing is written", () =>
    Effect.gen(function*() {
      const t = tmp()
      const installed = path.join(t, "node_modules", "@byteport", "k8s", "fixtures", "oom")
      fs.mkdirSync(installed, { recursive: true })
      fs.symlinkSync(installed, path.join(t, "link"))
      for (const dir of [installed, path.join(t, "node_modules", "new"), path.join(t, "link")]) {
        const e = yield* Effect.flip(OomFixture.record({ name: "x", server: "http://127.0.0.1:1", pod: "p", dir }))
        assert.strictEqual(e._tag, "RecordError")
        assert.match(e.message, /inside node_modules/)
      }
      for (const name of ["../x", "a/b", "..", ""]) {
        const e = yield* Effect.flip(OomFixture.destination({ name, dir: t }))
        assert.match(e.message, /plain directory name/)
      }
      assert.deepStrictEqual(fs.readdirSync(installed), [])
      assert.isFalse(fs.existsSync(path.join(t, "node_modules", "new")))
      // the default: ./fixtures/oom/<name> under the current directory
      assert.strictEqual(yield* OomFixture.destination({ name: "mine" }), path.resolve("fixtures", "oom", "mine"))
    }))

  it.effect("an unreachable server is a RecordError, not a defect", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(OomFixture.record({ name: "x", server: "http://127.0.0.1:9", pod: "p", dir: tmp() }))
      assert.strictEqual(e._tag, "RecordError")
    }))
})
