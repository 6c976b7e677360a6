import { assert, describe, it } from "@effect/vitest"
import { type Classification, Fact } from "@byteport/core"
import { Effect } from "effect"
import * as NodeClassifier from "../../src/classifiers/nodeNotReady"
import * as F from "./fixtures"

const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

describe("k8s.node.not-ready classification (recorded node JSON and node command output)", () => {
  // [fixture, expected] — both sides of every threshold edge: disk 85%, inode_free 5%, NRestarts 2
  const table: ReadonlyArray<readonly [string, string, number?]> = [
    ["hardware_cloud_failure", "hardware_cloud_failure", 0.94],
    ["hardware_cloud_failure-panic-previous-boot", "hardware_cloud_failure", 0.94],
    ["hardware_cloud_failure-global-oom", "hardware_cloud_failure", 0.94],
    ["cgroup-oom-is-not-hardware", "transient_kubelet_hang"],
    ["network_plugin_failure", "network_plugin_failure", 0.88],
    ["network_plugin_failure-no-cni-pod", "network_plugin_failure"],
    ["network-without-cni-errors", "Unclassified"],
    ["runtime_crash", "runtime_crash", 0.91],
    ["runtime_crash-crio", "runtime_crash", 0.91],
    ["resource_pressure_disk", "resource_pressure_disk", 0.9],
    ["resource_pressure_disk-85pct", "resource_pressure_disk"],
    ["disk-84pct", "Unclassified"],
    ["resource_pressure_disk-inodes-5pct", "resource_pressure_disk"],
    ["inodes-5.1pct", "Unclassified"],
    ["resource_pressure_mem_pid", "resource_pressure_mem_pid", 0.88],
    ["resource_pressure_mem_pid-pid", "resource_pressure_mem_pid"],
    ["transient_kubelet_hang", "transient_kubelet_hang", 0.82],
    ["transient_kubelet_hang-2-restarts", "transient_kubelet_hang"],
    ["kubelet-3-restarts", "Unclassified"],
    ["kubelet-failed", "Unclassified"],
    ["control-plane-hang", "transient_kubelet_hang"],
    // a failed, refused, timed-out or unreadable command, or no shell: Unknown → Indeterminate
    ["no-shell", "Indeterminate"],
    ["no-systemd", "Indeterminate"],
    ["kernel-timeout", "Indeterminate"],
    ["kernel-refused", "Indeterminate"],
    ["kernel-truncated-json", "Indeterminate"],
    ["df-dash-capacity", "Indeterminate"]
  ]
  it("every fixture is in the table", () => {
    assert.deepStrictEqual([...F.names()].sort(), table.map((t) => t[0]).sort())
  })
  for (const [fixture, expected, confidence] of table) {
    it.effect(`${fixture} → ${expected}`, () =>
      Effect.gen(function*() {
        const facts = yield* F.diagnose(fixture)
        const c = NodeClassifier.classify()(facts)
        assert.strictEqual(classOf(c), expected, JSON.stringify({ c, unknown: Fact.unknownKeys(facts).map((k) => facts[k]) }))
        if (confidence !== undefined && c._tag === "Classified") assert.strictEqual(c.confidence, confidence)
      }))
  }

  it.effect("the threshold edges read the numbers they claim", () =>
    Effect.gen(function*() {
      assert.strictEqual(Fact.value((yield* F.diagnose("resource_pressure_disk-85pct")).disk)?.usedPercent, 85)
      assert.strictEqual(Fact.value((yield* F.diagnose("disk-84pct")).disk)?.usedPercent, 84)
      assert.strictEqual(Fact.value((yield* F.diagnose("resource_pressure_disk-inodes-5pct")).inodes)?.freePercent, 5)
      assert.strictEqual(Fact.value((yield* F.diagnose("inodes-5.1pct")).inodes)?.freePercent, 5.1)
      assert.strictEqual(Fact.value((yield* F.diagnose("transient_kubelet_hang-2-restarts")).kubelet)?.restarts, 2)
      assert.strictEqual(Fact.value((yield* F.diagnose("kubelet-3-restarts")).kubelet)?.restarts, 3)
    }))

  it.effect("file-nr keeps values beyond 2^53 exactly (bigint)", () =>
    Effect.gen(function*() {
      const f = Fact.value((yield* F.diagnose("transient_kubelet_hang")).fileNr)!
      assert.strictEqual(f.max, "9223372036854775807")
      assert.strictEqual(f.allocated, "7424")
    }))

  it.effect("a cgroup OOM is not a global OOM; an MCE and a previous-boot panic are hardware", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(Fact.value((yield* F.diagnose("cgroup-oom-is-not-hardware")).kernel), { globalOom: [], hardwareErrors: [], panics: [] })
      assert.lengthOf(Fact.value((yield* F.diagnose("hardware_cloud_failure")).kernel)!.hardwareErrors, 4)
      assert.lengthOf(Fact.value((yield* F.diagnose("hardware_cloud_failure-panic-previous-boot")).kernel)!.panics, 1)
      assert.isNotEmpty(Fact.value((yield* F.diagnose("hardware_cloud_failure-global-oom")).kernel)!.globalOom)
    }))

  it.effect("no shell: every host fact is Unknown, the node is still described", () =>
    Effect.gen(function*() {
      const facts = yield* F.diagnose("no-shell")
      assert.strictEqual(facts.node._tag, "Known")
      assert.sameMembers(Fact.unknownKeys(facts), ["kubelet", "kernel", "kubeletJournal", "runtime", "disk", "inodes", "fileNr", "images"])
      const c = NodeClassifier.classify()(facts)
      assert.strictEqual(c._tag, "Indeterminate")
      assert.match(JSON.stringify(c), /no NodeShell reaches node node-2/)
    }))

  it.effect("thresholds are configurable: disk 84% matches at 84", () =>
    Effect.gen(function*() {
      const facts = yield* F.diagnose("disk-84pct")
      const c = NodeClassifier.classify({ ...NodeClassifier.defaults, diskUsedPercent: 84 })(facts)
      assert.strictEqual(classOf(c), "resource_pressure_disk")
    }))

  it.effect("the seed's order, not the confidences, decides: runtime_crash (0.91) loses to network (0.88) when both match", () =>
    Effect.gen(function*() {
      const net = yield* F.diagnose("network_plugin_failure")
      const rt = yield* F.diagnose("runtime_crash")
      const both = { ...net, runtime: rt.runtime }
      assert.strictEqual(classOf(NodeClassifier.classify()(both)), "network_plugin_failure")
    }))
})
