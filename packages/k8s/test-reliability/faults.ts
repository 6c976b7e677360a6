/**
 * Fault schedules on kube-sim (issue 17 §1, first bullet): OOM incidents (k8s.oom.six-signal,
 * undersized_limit) injected over virtual time while a seeded schedule plays 410s on watches,
 * 429s with Retry-After, 500s at a rate, dropped watches, an apiserver restart and "applied, then
 * the connection dropped before the response" (kube-sim's `dropAfterApply`) against the agent.
 *
 * Each incident yields exactly one IncidentReport (0 missed), and each action is applied once:
 * the recorder shows at most one applied (2xx, not dryRun) PATCH per Deployment — one per
 * `k8s.patchMemoryLimit` idempotency key — and exactly one for every report that says the patch
 * was applied (0 duplicated). A retry after an ambiguous failure is conditional (the workload's
 * resourceVersion) and a 409 after it is settled by reading the limit (as `observe` does).
 *
 * `BYTEPORT_FAULT_INCIDENTS` (default 200) sets the incidents of the run, split over
 * `SHARDS` test files (faults-<n>.test.ts): each shard is its own kube-sim, agent and schedule
 * (seed `BYTEPORT_FUZZ_SEED + shard`), so the shards run on both cores in parallel. Every shard
 * prints its seed; `BYTEPORT_FUZZ_SEED=<n>` replays the same schedules.
 */
import { Runbook } from "@byteport/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { FaultSchedule } from "../../kube-sim/src/index"
import * as OomRunbook from "../src/runbooks/k8s.oom.six-signal"
import { quiesce, Scenario, servicesLayer, sim, type Sim } from "../test/oom/harness"
import { SEED } from "../../../scripts/fuzz-harness"

/** Incidents of a whole run (`BYTEPORT_FAULT_INCIDENTS`, default 200), over all shards. */
export const INCIDENTS = Number(process.env["BYTEPORT_FAULT_INCIDENTS"] ?? "") || 200
/** The shards (test files faults-1 … faults-4) the incidents are split over. */
export const SHARDS = 4
const DEPLOYMENTS = { group: "apps", version: "v1", resource: "deployments" }
const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

/** Waits (real time, up to `capMs`) until no request is in flight and none arrived during the last 3 ms. */
const settle = (s: Sim, capMs = 500) =>
  Effect.gen(function*() {
    for (let waited = 0; waited < capMs; waited += 3) {
      yield* quiesce(s)
      const before = s.api.recorder.count()
      yield* realDelay(3)
      if (s.api.recorder.count() === before) return
    }
  })

/** The incidents of one shard (1-based): an even split of `INCIDENTS`. */
export const shardIncidents = (shard: number): number => Math.floor(INCIDENTS / SHARDS) + (shard <= INCIDENTS % SHARDS ? 1 : 0)

/** Registers the fault-schedule test of one shard. */
export const faultShard = (shard: number): void => {
  const incidents = shardIncidents(shard)
  const seed = SEED + shard
  describe(`fault schedules on kube-sim: OOM incidents (shard ${shard}/${SHARDS})`, () => {
    it.effect(`${incidents} undersized_limit incidents under a seeded fault schedule: one report each, one applied patch per key`, () =>
    Effect.gen(function*() {
      const names = Array.from({ length: incidents }, (_, i) => `oom-${shard}-${i}`)
      const spec = names.reduce((b, name) => b.with(Scenario.oom.undersizedLimit({ name, limit: "512Mi", replicas: 1 })), Scenario.cluster({ nodes: Math.max(3, Math.ceil(incidents / 4)) })).build()
      const s = yield* sim(spec, { seed: seed % 100_000 })
      const schedule = FaultSchedule.make({ seed, durationMs: 30 * 60_000, meanGapMs: Number(process.env["BYTEPORT_FAULT_GAP_MS"] ?? "") || 20_000 })
      const started = performance.now()
      const cpu0 = process.cpuUsage()
      console.log(`[faults] shard ${shard}/${SHARDS}: seed ${seed} (replay: BYTEPORT_FUZZ_SEED=${SEED}), ${incidents} incidents, ${schedule.length} faults: ${schedule.map((x) => `${Math.round(x.at / 1000)}s ${x.kind}`).join(", ")}`)
      const player = FaultSchedule.player(s.api, schedule, { dropOn: { method: "PATCH", resource: "deployments" } })
      // on top of the schedule, every other memory patch is applied and then loses its response (seeded): the ambiguous failure is exercised every run
      const ambiguous = s.api.faults.dropAfterApply({ method: "PATCH", resource: "deployments", rate: 0.5 })
      const runbook = OomRunbook.make()
      const reports = new Map<string, Array<any>>()
      const program = Effect.gen(function*() {
        // every workload's first OOM signal, handled as it arrives (the detector's stream survives the faults)
        const seen = new Set<string>()
        const handled: Array<Fiber.Fiber<unknown, unknown>> = []
        yield* runbook.detector!.signals.pipe(
          Stream.filter((sig: any) => {
            const w = names.find((n) => String(sig.evidence?.pod ?? "").startsWith(`${n}-`))
            if (w === undefined || seen.has(w)) return false
            seen.add(w)
            return true
          }),
          Stream.take(incidents),
          Stream.runForEach((sig: any) =>
            Effect.gen(function*() {
              const w = names.find((n) => String(sig.evidence.pod).startsWith(`${n}-`))!
              handled.push(yield* Effect.forkChild(Effect.map(Runbook.handle(runbook, sig, { mode: "auto" }), (r) => void reports.set(w, [...(reports.get(w) ?? []), r]))))
            })
          )
        )
        for (const f of handled) yield* Fiber.join(f)
      })
      // the runbook on the TestClock in lockstep with kube-sim's clock; the schedule plays as virtual time passes
      yield* TestClock.setTime(s.now())
      const fiber = yield* Effect.forkChild(Effect.provide(program, servicesLayer(s)))
      const step = 1_000
      const max = 60 * 60_000
      let elapsed = 0
      for (;;) {
        yield* realDelay(3)
        if (fiber.pollUnsafe() !== undefined) break
        if (elapsed >= max) {
          yield* Fiber.interrupt(fiber)
          break
        }
        yield* Effect.promise(() => player.at(elapsed))
        // virtual time moves only once the agent is quiet: no request to kube-sim in flight and
        // none arriving for a few real ms (with dozens of incidents at once, requests queue in the
        // client; a probe's 15 s timeout must not fire while its request waits for a socket)
        yield* settle(s)
        s.advance(step)
        yield* TestClock.adjust(step)
        elapsed += step
      }
      player.stop()
      ambiguous.remove()
      const exit = yield* Fiber.await(fiber)
      const applied = (name: string) => s.api.recorder.requests({ method: "PATCH" }).filter((r) => r.path.endsWith(`/deployments/${name}`) && !r.dryRun && r.status >= 200 && r.status < 300)
      const summary = names.map((n) => {
        const rs = reports.get(n) ?? []
        const r = rs[0]
        const patched = (r?.outcomes ?? []).filter((o: any) => o.kind === "k8s.patchMemoryLimit" && o.status === "applied").length
        return { name: n, reports: rs.length, status: r?.status, class: r?.classification?.class, why: String(r?.escalation?.reason ?? "").slice(0, 120), patched, appliedOnServer: applied(n).length, limit: (s.api.store.get(DEPLOYMENTS, "default", n) as any).spec.template.spec.containers[0].resources.limits.memory }
      })
      const cpu = process.cpuUsage(cpu0)
      console.log(`[faults] shard ${shard}/${SHARDS}: ${incidents} incidents in ${((performance.now() - started) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU; fired ${JSON.stringify(player.fired)}, answered ${JSON.stringify(player.hits)}, ${ambiguous.hits} more memory patches dropped after applying; after ${Duration.format(Duration.millis(elapsed))} of virtual time:\n${summary.map((x) => `  ${x.name}: ${x.reports} report(s), ${x.status} ${x.class ?? ""}, patch applied ${x.patched}×, on the server ${x.appliedOnServer}×, limit ${x.limit}${x.why ? ` (${x.why})` : ""}`).join("\n")}`)
      expect(exit._tag, `the program ended (${elapsed} ms of virtual time)`).toBe("Success")
      for (const x of summary) {
        expect(x.reports, `${x.name}: exactly one IncidentReport`).toBe(1)
        expect(x.appliedOnServer, `${x.name}: at most one applied mutation per idempotency key`).toBeLessThanOrEqual(1)
        expect(x.appliedOnServer, `${x.name}: the report's applied patches match the server's`).toBe(x.patched)
        expect(x.limit, `${x.name}: the limit is the planned one when applied, else unchanged`).toBe(x.patched === 1 ? "768Mi" : "512Mi")
      }
      expect(Object.values(player.fired).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
      expect(ambiguous.hits + player.hits.droppedAfterApply, "some patch was applied and lost its response").toBeGreaterThan(0)
    }).pipe(Effect.scoped), 900_000)
  })
}
