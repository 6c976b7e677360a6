/**
 * Native sidecars (init containers with `restartPolicy: Always`, Kubernetes ≥ 1.29) from
 * `kubectl get pod -o json` recordings: the detectors and facts treat them as long-running
 * containers — a sidecar's crash loop, restarts and OOM kills are attributed to the sidecar, the
 * init-failure rules never fire for it — while a run-to-completion init container beside it still
 * fails as `Init:*` (the near misses).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as ExitCode from "../../src/classifiers/exitCode"
import * as SevenClass from "../../src/classifiers/sevenClass"
import * as CrashLoop from "../../src/detectors/crashLoop"
import * as InitFailure from "../../src/detectors/initFailure"
import * as OomKilled from "../../src/detectors/oomKilled"
import { Episodes, statusesOf, waitingIn } from "../../src/detectors/podSignals"
import * as Restarts from "../../src/detectors/restarts"
import * as RuntimeOomMarker from "../../src/detectors/runtimeOomMarker"
import * as ImageIds from "../../src/probes/imageIds"
import * as PodProbe from "../../src/probes/podFacts"
import * as PodWire from "../../src/probes/podWire"
import * as Wire from "../../src/probes/wire"
import * as OomRemediator from "../../src/remediators/oom"

const load = (name: string): PodWire.Pod =>
  Schema.decodeUnknownSync(PodWire.Pod)(JSON.parse(fs.readFileSync(path.join(__dirname, "../../fixtures/pod/sidecars", `${name}.json`), "utf8")))
const wire = (p: PodWire.Pod) => p as unknown as Wire.Pod

const crashloop = load("native-sidecar-crashloop")
const oom = load("native-sidecar-oom")
const initFails = load("init-failure-beside-sidecar")
const CRASH = new Set(["CrashLoopBackOff"])

describe("native sidecars are long-running containers", () => {
  it("the recordings decode; only the restartPolicy: Always init container is a sidecar", () => {
    assert.isTrue(Wire.isSidecar(crashloop, "log-shipper"))
    assert.isFalse(Wire.isSidecar(crashloop, "migrate"))
    assert.isFalse(Wire.isSidecar(crashloop, "checkout"))
    assert.deepStrictEqual(Wire.runningStatuses(crashloop).map((s) => s.name), ["checkout", "log-shipper"])
    assert.deepStrictEqual(statusesOf(crashloop).map((s) => [s.status.name, s.init]), [["migrate", true], ["log-shipper", false], ["checkout", false]])
  })

  it("a sidecar's CrashLoopBackOff is a crash loop of the sidecar, never an Init:* failure", () => {
    assert.deepStrictEqual(CrashLoop.scan(crashloop, new Episodes()).map((x) => x.container), ["log-shipper"])
    assert.isUndefined(InitFailure.initFailureOf(crashloop))
    assert.deepStrictEqual(InitFailure.scan(crashloop, new Episodes()), [])
    assert.deepStrictEqual(waitingIn(crashloop, CRASH, true), [], "no init container waits in back-off")
    assert.isUndefined(SevenClass.failedInit(crashloop), "seven-class's failed_init_container rule skips it")
  })

  it("a sidecar's restarts make a restart loop of the sidecar (3 in 10 min)", () => {
    const h = new Map<string, Restarts.History>()
    const at = (n: number, finished: string) => {
      const p = structuredClone(crashloop) as any
      p.status.initContainerStatuses[1].restartCount = n
      p.status.initContainerStatuses[1].lastState.terminated.finishedAt = finished
      return p as PodWire.Pod
    }
    const t0 = Date.parse("2026-03-02T09:31:39Z")
    Restarts.observe(at(6, "2026-03-02T09:31:39Z"), t0, h)
    Restarts.observe(at(7, "2026-03-02T09:33:00Z"), t0 + 90_000, h)
    Restarts.observe(at(8, "2026-03-02T09:35:00Z"), t0 + 210_000, h)
    const loops = Restarts.observe(at(9, "2026-03-02T09:37:00Z"), t0 + 330_000, h)
    assert.deepStrictEqual(loops.map((l) => [l.container, l.restarts, l.lastExitCode]), [["log-shipper", 3, 1]])
  })

  it("a sidecar's OOM kill is attributed to the sidecar: its limit, its termination; the bump patches initContainers", () => {
    assert.deepStrictEqual(OomKilled.oomTerminations(wire(oom)).map((t) => [t.container, t.exitCode]), [["log-shipper", 137]])
    assert.deepStrictEqual(OomKilled.oomTerminations(wire(crashloop)), [], "exit 1 is no OOM kill")
    const f = PodProbe.podFactsFrom(wire(oom), "log-shipper", { kind: "Deployment", name: "checkout", resourceVersion: "1" })
    assert.strictEqual(f.memoryLimitBytes, 64 * 2 ** 20)
    assert.strictEqual(f.restartCount, 6)
    assert.deepStrictEqual(f.lastTermination, { reason: "OOMKilled", exitCode: 137, finishedAt: "2026-03-02T09:31:39Z" })
    assert.isTrue(f.sidecar)
    const bump = OomRemediator.bumpAction({ type: "k8s.pod.oom_killed", target: { kind: "k8s.workload", ref: "c/shop/Deployment/checkout/log-shipper" }, observedAt: 0, evidence: {} }, f, 1.5, "test")
    assert.strictEqual(bump.params["initContainer"], true)
    assert.strictEqual(bump.params["toBytes"], 96 * 2 ** 20)
    // the app container's facts are the app's
    const app = PodProbe.podFactsFrom(wire(oom), "checkout", null)
    assert.strictEqual(app.memoryLimitBytes, 512 * 2 ** 20)
    assert.isUndefined(app.sidecar)
    assert.isUndefined(OomRemediator.bumpAction({ type: "x", target: { kind: "k8s.workload", ref: "c/shop/Deployment/checkout/checkout" }, observedAt: 0, evidence: {} }, app, 1.5, "test").params["initContainer"])
  })

  it("the runtime-OOM-marker candidates and image IDs count the sidecar as a running container", () => {
    assert.deepStrictEqual(RuntimeOomMarker.candidates(wire(crashloop)).map((c) => c.container), ["log-shipper"])
    const ids = ImageIds.imageIdsOf(crashloop)
    assert.deepStrictEqual(ids.map((i) => [i.container, i.init]), [["migrate", true], ["log-shipper", false], ["checkout", false]])
    assert.strictEqual(ids.find((i) => i.container === "log-shipper")?.image, "cr.fluentbit.io/fluent/fluent-bit:3.0.4")
  })

  it("exit-code: a crashing native sidecar beside a Ready app is a sidecar-only crash", () => {
    assert.strictEqual(ExitCode.mainContainer(crashloop), "checkout")
    assert.isTrue(ExitCode.sidecarOnly(crashloop, "log-shipper"))
    assert.isFalse(ExitCode.sidecarOnly(crashloop, "checkout"))
    assert.isFalse(ExitCode.sidecarOnly(crashloop, "migrate"), "a run-to-completion init container is no sidecar")
  })
})

describe("near misses: a run-to-completion init container beside a sidecar", () => {
  it("migrate failing is Init:CrashLoopBackOff; no crash loop, restart loop or OOM is reported for any container", () => {
    const f = InitFailure.initFailureOf(initFails)
    assert.deepStrictEqual([f?.container, f?.status, f?.exitCode], ["migrate", "Init:CrashLoopBackOff", 1])
    assert.deepStrictEqual(CrashLoop.scan(initFails, new Episodes()), [])
    assert.strictEqual(SevenClass.failedInit(initFails)?.name, "migrate")
    const h = new Map<string, Restarts.History>()
    Restarts.observe(initFails, Date.parse("2026-03-02T09:20:41Z"), h)
    assert.deepStrictEqual([...h.keys()].map((k) => k.split("/").at(-1)).sort(), ["checkout", "log-shipper"], "the init container's restarts are never tracked as a loop")
    assert.deepStrictEqual(OomKilled.oomTerminations(wire(initFails)), [])
  })

  it("without restartPolicy: Always the same container is an init container again", () => {
    const p = structuredClone(crashloop) as any
    delete p.spec.initContainers[1].restartPolicy
    const plain = p as PodWire.Pod
    assert.isFalse(Wire.isSidecar(plain, "log-shipper"))
    assert.deepStrictEqual(CrashLoop.scan(plain, new Episodes()), [])
    assert.strictEqual(InitFailure.initFailureOf(plain)?.container, "log-shipper")
    assert.deepStrictEqual(Wire.runningStatuses(plain).map((s) => s.name), ["checkout"])
  })
})
