/**
 * host.disk.cleanup's full step order (the seed's "log rotation, journald vacuum, /tmp sweep,
 * optional Docker prune, optional package cache prune") as a golden plan from the recorded
 * fixture plus a big log and an archived journal.
 */
import { Plan, Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as path from "node:path"
import * as DiskCleanup from "../../src/classifiers/DiskCleanup"
import type { DiskFacts } from "../../src/diagnosers/DiskDiagnoser"
import * as R from "../../src/remediators/DiskCleanupRemediator"
import { diskFactsFields } from "../support/diskFixtures"

const here = path.dirname(new URL(import.meta.url).pathname)

const FixtureSchema = Schema.Struct({ signal: Signal.Signal, facts: Schema.Struct(diskFactsFields) })

describe("host.disk.cleanup: every step in the seed's order", () => {
  it.effect("logrotate > 100 MB, gzip > 7 d, journald vacuum 200M, tmp, then the opt-ins: Docker prune, package caches", () =>
    Effect.gen(function*() {
      const f = yield* Testing.loadFixture(FixtureSchema, path.join(here, "fixtures", "over-floor.json"))
      const raw = {
        ...f.facts,
        bigLogs: [{ path: "/var/log/myapp/huge.log.3", dev: "2049", ino: "131080", size: 2147483648, mtimeMs: 1764900000000 }],
        journal: [{ path: "/var/log/journal/0f3c/system@0123456789abcdef0123456789abcdef-0000000000000001-0006321c0a6f4000.journal", bytes: 134217728 }]
      } as unknown as DiskFacts
      const facts = Testing.facts(raw)
      const c = DiskCleanup.classifier()(facts)
      if (c._tag !== "Classified") return assert.fail("unclassified")
      const plan = R.planOf(c, facts, f.signal, { journal: {}, dockerPruneEnabled: true, packageCachePruneEnabled: true })
      Testing.expectPlan(plan, path.join(here, "golden", "every-step.plan.txt"))
      assert.deepStrictEqual(Plan.actions(plan.root).map((a) => a.action.kind), [
        "host.log.rotate", "host.log.gzip", "host.log.gzip", "host.journal.vacuum", "host.tmp.delete", "host.tmp.delete", "host.docker.prune",
        "host.package-cache.prune", "host.package-cache.prune", "host.package-cache.prune", "host.package-cache.prune", "host.package-cache.prune"
      ])
      assert.strictEqual(Plan.actions(plan.root).find((a) => a.action.kind === "host.journal.vacuum")!.action.params["vacuumSize"], "200M")
      // the opt-ins stay off unless set; no journal configured, no journal step
      const plain = R.planOf(c, facts, f.signal)
      assert.deepStrictEqual([...new Set(Plan.actions(plain.root).map((a) => a.action.kind))], ["host.log.rotate", "host.log.gzip", "host.tmp.delete"])
      // a Docker or package-cache opt-in alone is something to do: no "nothing to clean" escalation
      const only = R.planOf(c, Testing.facts({ ...raw, logs: [], tmp: [], bigLogs: [], journal: [] }), f.signal, { dockerPruneEnabled: true })
      assert.deepStrictEqual(Plan.actions(only.root).map((a) => a.action.kind), ["host.docker.prune"])
    }))
})
