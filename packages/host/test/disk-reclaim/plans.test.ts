/**
 * Golden plans of host.disk.reclaim: recorded facts → the classifier → the plan, compared with
 * reviewed golden files (core's `expectPlan`; `BYTEPORT_UPDATE_GOLDEN=1` rewrites them). The seed's
 * order, the opt-ins (off by default), the growth hand-off last, the +25 % / cap arithmetic.
 */
import { HandOffs, Plan, Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as path from "node:path"
import * as VolumeGrowth from "../../src/actions/VolumeGrowth"
import * as DiskCleanup from "../../src/classifiers/DiskCleanup"
import type { ReclaimFacts } from "../../src/diagnosers/ReclaimDiagnoser"
import * as R from "../../src/remediators/ReclaimRemediator"
import * as Safety from "../../src/safety/Safety"
import { diskFactsFields } from "../support/diskFixtures"

const here = path.dirname(new URL(import.meta.url).pathname)
const GiB = 1024 ** 3

const FixtureSchema = Schema.Struct({
  signal: Signal.Signal,
  facts: Schema.Struct({
    ...diskFactsFields,
    bigLogs: Schema.Array(Safety.Candidate),
    journal: Schema.Array(Schema.Struct({ path: Schema.String, bytes: Schema.Number })),
    docker: Schema.Struct({ images: Schema.Number, caches: Schema.Number, containers: Schema.Number, bytes: Schema.Number }),
    volume: Schema.Struct({ mount: Schema.String, device: Schema.String, fstype: Schema.String, volumeId: Schema.String, byId: Schema.String, sizeBytes: Schema.Number })
  })
})

const load = Effect.map(Testing.loadFixture(FixtureSchema, path.join(here, "fixtures", "over-floor.json")), (f) => ({ signal: f.signal, raw: f.facts as unknown as ReclaimFacts }))

const classify = (raw: ReclaimFacts) => {
  const facts = Testing.facts(raw)
  const c = DiskCleanup.classifier()(facts)
  if (c._tag !== "Classified") throw new Error("unclassified")
  return { facts, c }
}

describe("host.disk.reclaim plans", () => {
  it.effect("defaults: logrotate > 100 MB, gzip > 7 d, journal vacuum 7d, tmp > 24 h — in the seed's order inside Plan.until(floor); no prune, no package caches, no growth", () =>
    Effect.gen(function*() {
      const { raw, signal } = yield* load
      const { facts, c } = classify(raw)
      const plan = yield* R.planOf(c, facts, signal, { journal: {} })
      Testing.expectPlan(plan, path.join(here, "golden", "defaults.plan.txt"))
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(Plan.actions(plan.root).map((a) => a.action.kind), [
        "host.log.rotate", "host.log.gzip", "host.log.gzip", "host.journal.vacuum", "host.tmp.delete", "host.tmp.delete"
      ])
      const journal = Plan.actions(plan.root).find((a) => a.action.kind === "host.journal.vacuum")!
      assert.strictEqual(journal.action.params["vacuumTime"], "7d")
      // without a journal configured, no journal step
      const noJournal = yield* R.planOf(c, facts, signal)
      assert.isFalse(Plan.actions(noJournal.root).some((a) => a.action.kind === "host.journal.vacuum"))
    }))

  it.effect("every opt-in on: Docker prune after the journal, package caches after tmp, the awaited volume-growth hand-off and growfs last", () =>
    Effect.gen(function*() {
      const { raw, signal } = yield* load
      const { facts, c } = classify(raw)
      const plan = yield* R.planOf(c, facts, signal, {
        journal: {},
        dockerPruneEnabled: true,
        packageCachePruneEnabled: true,
        volumeGrowthEnabled: true,
        maxVolumeGb: 500
      })
      Testing.expectPlan(plan, path.join(here, "golden", "all-opt-ins.plan.txt"))
      assert.deepStrictEqual(Plan.actions(plan.root).map((a) => a.action.kind), [
        "host.log.rotate", "host.log.gzip", "host.log.gzip", "host.journal.vacuum", "host.docker.prune", "host.tmp.delete", "host.tmp.delete",
        "host.package-cache.prune", "host.package-cache.prune", "host.package-cache.prune", "host.package-cache.prune", "host.package-cache.prune",
        "host.volume.growfs"
      ])
      if (plan.root._tag !== "Fallback" || plan.root.primary._tag !== "Until") return assert.fail("not an until loop")
      const steps = plan.root.primary.steps
      const handOff = steps[steps.length - 2]!
      assert.strictEqual(handOff._tag, "HandOff")
      if (handOff._tag !== "HandOff") return
      assert.strictEqual(handOff.signal.type, HandOffs.VolumeGrowRequested.type)
      assert.deepStrictEqual(handOff.signal.target, { kind: "host.volume", ref: "vol-0a1b2c3d4e5f60718" })
      // 10 GiB + 25 % = 12.5 → 13 GiB (whole GiB, rounded up)
      assert.strictEqual(handOff.signal.evidence["requestedBytes"], 13 * GiB)
      assert.isDefined(handOff.await)
      // aggressive: the same step, aggressive params
      const aggressive = yield* R.planOf(c, facts, signal, { dockerPruneEnabled: true, aggressivePrune: true })
      assert.strictEqual(Plan.actions(aggressive.root).find((a) => a.action.kind === "host.docker.prune")!.action.params["aggressive"], true)
      // crictl on Kubernetes nodes, same opt-in
      const cri = yield* R.planOf(c, facts, signal, { dockerPruneEnabled: true, containerRuntime: "crictl" })
      assert.deepStrictEqual(Plan.actions(cri.root).filter((a) => a.action.kind.includes("prune")).map((a) => a.action.kind), ["host.crictl.prune"])
    }))

  it.effect("growth at policy.maxVolumeGb: no hand-off, the summary says why", () =>
    Effect.gen(function*() {
      const { raw, signal } = yield* load
      const { facts, c } = classify(raw)
      const plan = yield* R.planOf(c, facts, signal, { volumeGrowthEnabled: true, maxVolumeGb: 10 })
      assert.isFalse(Plan.actions(plan.root).some((a) => a.action.kind === "host.volume.growfs"))
      assert.match(plan.summary, /at policy\.maxVolumeGb \(10 GiB\)/)
    }))

  it("+25 % rounded up to whole GiB, capped, never shrinks", () => {
    assert.strictEqual(VolumeGrowth.requestedBytes(100 * GiB, 1000), 125 * GiB)
    assert.strictEqual(VolumeGrowth.requestedBytes(10.5 * GiB, 1000), 14 * GiB)
    assert.strictEqual(VolumeGrowth.requestedBytes(64 * 1024 * 1024, 1000), 1 * GiB)
    assert.strictEqual(VolumeGrowth.requestedBytes(900 * GiB, 1000), 1000 * GiB)
    assert.strictEqual(VolumeGrowth.requestedBytes(1000 * GiB, 1000), undefined)
    assert.strictEqual(VolumeGrowth.requestedBytes(1200 * GiB, 1000), undefined)
    assert.strictEqual(VolumeGrowth.volumeIdOf("nvme-Amazon_Elastic_Block_Store_vol0a1b2c3d4e5f60718"), "vol-0a1b2c3d4e5f60718")
    assert.strictEqual(VolumeGrowth.volumeIdOf("nvme-Amazon_Elastic_Block_Store_vol0a1b2c3d4e5f60718-part1"), "vol-0a1b2c3d4e5f60718")
    assert.strictEqual(VolumeGrowth.volumeIdOf("google-data-disk-1"), "data-disk-1")
    assert.strictEqual(VolumeGrowth.volumeIdOf("scsi-0Google_PersistentDisk_data-disk-1"), "data-disk-1")
    const base = { mount: "/data", device: "/dev/nvme1n1p1", requestedBytes: 2, fsBytes: 1 }
    assert.deepStrictEqual(VolumeGrowth.commands({ ...base, fstype: "ext4", partition: { disk: "/dev/nvme1n1", number: 1 } }), [["growpart", "/dev/nvme1n1", "1"], ["resize2fs", "/dev/nvme1n1p1"]])
    assert.deepStrictEqual(VolumeGrowth.commands({ ...base, fstype: "xfs" }), [["xfs_growfs", "/data"]])
    assert.deepStrictEqual(VolumeGrowth.commands({ ...base, fstype: "btrfs" }), [])
  })
})
