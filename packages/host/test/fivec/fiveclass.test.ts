/**
 * host.memory.five-class without processes: the /dev/kmsg OOM reader on recorded real kernel lines
 * (and as a Stream over a file), the ≥ 90 % window under TestClock (89/90 %, 89/90 s), the seed's
 * classes in order with near misses and a failed probe → Indeterminate, golden plans per class,
 * and the restart guardrails (backoff 30 s × 2^N, ≤ 3 per service per hour) under TestClock.
 */
import { Catalog, GuardrailStore, HandOffs, Plan, Runbook, Signal, TargetRef, Verdict } from "@byteport/core"
import type { Fact } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as nodePath from "node:path"
import { FiveClassRuntime, FiveClassStats, HostMemoryFiveClass as F, HostMemorySaturation, Kmsg, Pods, ProcessControl, RequestRateHistory } from "../../src/index"

const here = nodePath.dirname(new URL(import.meta.url).pathname)
const MiB = 1024 * 1024
const tmp = () => fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-fivec-"))

describe("Kmsg: OOM kills from recorded real /dev/kmsg lines", () => {
  const text = fs.readFileSync(nodePath.join(here, "fixtures", "kmsg-oom.txt"), "utf8")
  it("one kill per oom-kill line, with memcg, task, pid and the anon-rss of the Killed process line", () => {
    const kills = Kmsg.parse(text)
    assert.deepStrictEqual(kills.map((k) => [k.pid, k.task]), [[11965, "python3"], [23559, "MainThread"], [16447, "MainThread"], [17404, "MainThread"], [21897, "MainThread"]])
    const first = kills[0]!
    assert.strictEqual(first.constraint, "CONSTRAINT_MEMCG")
    assert.strictEqual(first.memcg, true)
    assert.strictEqual(first.taskMemcg, "/process_api/eee460ecc828c7cb5ec3fce7ea8acb48/bptest")
    assert.strictEqual(first.anonRssBytes, 32384 * 1024)
    assert.strictEqual(first.usec, 41071256373)
  })
  it("the other lines (process table, call trace, loop0) are not kills; a host-wide kill line parses", () => {
    assert.strictEqual(Kmsg.parseLine("6,427,41071256367,-;[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"), undefined)
    assert.strictEqual(Kmsg.parseLine("4,431,41415421265,-;MainThread invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"), undefined)
    assert.strictEqual(Kmsg.parseLine(" SUBSYSTEM=memory"), undefined)
    const k = Kmsg.parseLine("3,900,5000,-;Out of memory: Killed process 77 (java) total-vm:100kB, anon-rss:2048kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0")
    assert.deepStrictEqual([k?.pid, k?.task, k?.memcg, k?.anonRssBytes], [77, "java", false, 2048 * 1024])
  })
  it.effect("oomKills streams a kmsg file's oom-kill lines after sinceUsec", () =>
    Effect.gen(function*() {
      const path = nodePath.join(tmp(), "kmsg")
      fs.writeFileSync(path, text)
      const all = yield* Stream.runCollect(Kmsg.oomKills(path))
      assert.strictEqual(all.length, 5)
      const later = yield* Stream.runCollect(Kmsg.oomKills(path, { sinceUsec: 43424703250 }))
      assert.deepStrictEqual(later.map((k) => k.pid), [17404, 21897])
    }))
  it("ownerOf maps a kill to the watched unit whose cgroup it names", () => {
    const kill = Kmsg.parse(text)[1]!
    const w = [{ unit: "a.service", cgroup: "/sys/fs/cgroup/memory/x/a.service" }, { unit: "bp-hog.service", cgroup: `/sys/fs/cgroup/memory${kill.taskMemcg}` }]
    assert.strictEqual(F.ownerOf(kill, w)?.unit, "bp-hog.service")
    assert.strictEqual(F.ownerOf(kill, w.slice(0, 1)), undefined)
  })
})

/** A v1-style cgroup directory the sampler reads. */
const cgroupDir = (limit: number | "max", v: 1 | 2 = 1) => {
  const dir = tmp()
  const write = (usage: number) => {
    if (v === 2) {
      fs.writeFileSync(nodePath.join(dir, "memory.current"), `${usage}\n`)
      fs.writeFileSync(nodePath.join(dir, "memory.max"), `${limit}\n`)
    } else {
      fs.writeFileSync(nodePath.join(dir, "memory.usage_in_bytes"), `${usage}\n`)
      fs.writeFileSync(nodePath.join(dir, "memory.limit_in_bytes"), `${limit === "max" ? "9223372036854771712" : limit}\n`)
    }
  }
  return { dir, write }
}

const run = (percents: ReadonlyArray<number>, v: 1 | 2 = 1) =>
  Effect.gen(function*() {
    const cg = cgroupDir(1000 * MiB, v)
    const recorder = FiveClassStats.recorder()
    const sample = F.sampler([{ unit: "web.service", cgroup: cg.dir }], { recorder, host: "h1" })
    const fired: Array<number> = []
    for (let i = 0; i < percents.length; i++) {
      if (i > 0) yield* TestClock.adjust("1 second")
      cg.write(Math.round((percents[i]! / 100) * 1000 * MiB))
      const s = yield* sample
      if (s.length > 0) fired.push(i)
    }
    return { fired, history: recorder.history("web.service") }
  })
const repeat = (v: number, n: number) => Array.from({ length: n }, () => v)

describe("detection window (TestClock)", () => {
  it.effect("90 % of the cgroup limit for 90 s fires at 90 s; 89 s does not", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* run(repeat(90, 90))).fired, [])
      const r = yield* run(repeat(90, 92))
      assert.deepStrictEqual(r.fired, [90, 91])
      assert.strictEqual(r.history.length, 92)
    }))
  it.effect("89 % never fires; a dip resets the window (cgroup v2 files too)", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* run(repeat(89, 200))).fired, [])
      assert.deepStrictEqual((yield* run([...repeat(95, 60), 50, ...repeat(95, 91)], 2)).fired, [151])
    }))
  it.effect("no cgroup limit: the limit is MemTotal", () =>
    Effect.gen(function*() {
      const cg = cgroupDir("max", 2)
      cg.write(1000)
      const u = yield* F.usage({ unit: "x.service", cgroup: cg.dir })
      assert.strictEqual(u.limitSource, "ram")
      assert.strictEqual(u.limitBytes, os.totalmem() - (os.totalmem() % 1024))
    }))
})

// ---------------------------------------------------------------------------------------------
// classes

const LIMIT = 1024 * MiB
const usage = (percent: number, limitSource: "cgroup" | "ram" = "cgroup"): F.Usage => ({ unit: "web.service", cgroup: "/sys/fs/cgroup/memory/web.service", usageBytes: Math.round((percent / 100) * LIMIT), limitBytes: LIMIT, limitSource, percent })
const history = (from: number, to: number, hours: number, rps?: (i: number) => number) =>
  FiveClassStats.summarize(Array.from({ length: 25 }, (_, i) => ({ at: i * (hours * 3_600_000 / 24), bytes: Math.round(((from + ((to - from) * i) / 24) / 100) * LIMIT), rps: rps?.(i) })))
const node = (usedPercent: number): F.Node => ({ usedPercent, memTotal: 8 * LIMIT, memAvailable: 0, top: [{ pid: 4242, comm: "batch-indexer", rssBytes: 5 * LIMIT, cgroup: "/system.slice/indexer.service" }] })
const jvm = (xmx?: string): FiveClassRuntime.Runtime => FiveClassRuntime.classify({ pid: 3100, starttime: 555, comm: "java", argv: ["/usr/bin/java", ...(xmx ? [`-Xmx${xmx}`] : []), "-jar", "app.jar"], env: {} })
const nodeRt = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => FiveClassRuntime.classify({ pid: 3200, starttime: 777, comm: "node", argv: ["/usr/bin/node", ...args, "server.js"], env })
const signal = Signal.make({ type: F.SIGNAL_TYPE, target: F.target("web.service", "h1"), observedAt: 1_700_000_000_000, source: "test", evidence: { unit: "web.service", cgroup: "/sys/fs/cgroup/memory/web.service", percent: 95 } })

interface Case {
  readonly usage: F.Usage
  readonly history: FiveClassStats.Summary
  readonly node: F.Node
  readonly runtime: FiveClassRuntime.Runtime | null
  readonly heap: FiveClassRuntime.Heap
  readonly k8s: F.K8s
}
const base = (o: Partial<Case>): Fact.Facts<F.FiveClassFacts> =>
  Testing.facts<F.FiveClassFacts>({ usage: usage(95), history: history(94, 95, 3), node: node(50), runtime: jvm("512m"), heap: { kind: "jvm", usedBytes: 300 * MiB, totalBytes: 512 * MiB, detail: "" }, k8s: { source: "none" }, ...o })

export const CASES: Record<string, Fact.Facts<F.FiveClassFacts>> = {
  memory_leak: base({ history: history(40, 95, 3, () => 100) }),
  memory_leak_node: base({ history: history(40, 95, 3), runtime: nodeRt(["--heapsnapshot-signal=SIGUSR2"]) }),
  memory_leak_node_bare: base({ history: history(40, 95, 3), runtime: nodeRt([]) }),
  traffic_spike: base({ history: history(40, 95, 1, (i) => 100 + i * 50) }),
  undersized_limit: base({ history: history(92, 93, 4) }),
  noisy_neighbor: base({ usage: usage(50), history: history(50, 50, 1), node: node(96) }),
  runtime_misconfig: base({ usage: usage(60), history: history(60, 60, 1), runtime: jvm("2g") })
}

const classOf = (f: Fact.Facts<F.FiveClassFacts>) => {
  const c = F.classifier()(f)
  return c._tag === "Classified" ? c.class : c._tag
}

describe("classification (the seed's classes and order)", () => {
  it("each class from its facts, with its documented confidence", () => {
    for (const [name, f] of Object.entries(CASES)) {
      const c = F.classifier()(f)
      const cls = name.replace(/_node(_bare)?$/, "")
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, cls, name)
      if (c._tag === "Classified") assert.strictEqual(c.confidence, F.CONFIDENCES[cls as keyof typeof F.CONFIDENCES])
    }
    for (const v of Object.values(F.CONFIDENCES)) assert.isAtLeast(v, 0.7)
  })
  it("near misses: a climb over exactly 2 h is not a leak; r 0.69 vs 0.70; p99 80 % vs 81 %; victim 70 % vs 69 %", () => {
    assert.notStrictEqual(classOf(base({ history: history(40, 95, 2) })), "memory_leak")
    assert.strictEqual(classOf(base({ history: history(40, 95, 2.01) })), "memory_leak")
    const corrHistory = (r: number) => {
      // bytes climb linearly; rps = r·z(bytes) + √(1−r²)·noise with noise orthogonal to bytes
      const xs = Array.from({ length: 24 }, (_, i) => i - 11.5)
      const noise = xs.map((x, i) => (i % 2 === 0 ? 1 : -1) * (Math.abs(x) < 6 ? 1 : -1))
      const sx = Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length)
      return FiveClassStats.summarize(xs.map((x, i) => ({ at: i * 150_000, bytes: Math.round((0.4 + ((0.95 - 0.4) * i) / 23) * LIMIT), rps: 1000 + 100 * (r * (x / sx) + Math.sqrt(1 - r * r) * noise[i]!) })))
    }
    const h69 = corrHistory(0.69)
    assert.strictEqual(Math.round(h69.rpsCorrelation! * 100), 69)
    assert.notStrictEqual(classOf(base({ history: h69 })), "traffic_spike")
    assert.strictEqual(classOf(base({ history: corrHistory(0.7001) })), "traffic_spike")
    assert.notStrictEqual(classOf(base({ usage: usage(80), history: history(80, 80, 4) })), "undersized_limit")
    assert.strictEqual(classOf(base({ usage: usage(81), history: history(81, 81, 4) })), "undersized_limit")
    assert.notStrictEqual(classOf(base({ usage: usage(70), history: history(70, 70, 1), node: node(96), runtime: null })), "noisy_neighbor")
    assert.strictEqual(classOf(base({ usage: usage(69), history: history(69, 69, 1), node: node(96), runtime: null })), "noisy_neighbor")
    assert.strictEqual(classOf(base({ usage: usage(69), history: history(69, 69, 1), node: node(89), runtime: null })), "Unclassified")
  })
  it("a failed heap probe (jcmd) → Indeterminate where runtime_misconfig needs it; earlier classes still match", () => {
    const failed = { ...CASES["runtime_misconfig"]!, heap: { _tag: "Unknown" as const, probe: "heap", reason: "HeapProbeError: jcmd exited 1" } }
    const c = F.classifier()(failed)
    assert.strictEqual(c._tag, "Indeterminate")
    assert.strictEqual(classOf({ ...CASES["memory_leak"]!, heap: failed.heap }), "memory_leak")
  })
  it("runtime flags: -Xmx and JAVA_TOOL_OPTIONS, --max-old-space-size and NODE_OPTIONS, GOMEMLIMIT; --heapsnapshot-signal only where set", () => {
    assert.strictEqual(jvm("2g").heapMaxBytes, 2 * 1024 * MiB)
    assert.strictEqual(FiveClassRuntime.classify({ pid: 1, starttime: 1, comm: "java", argv: ["java", "-Xmx1g"], env: { JAVA_TOOL_OPTIONS: "-Xmx4g" } }).heapMaxBytes, 1024 * MiB)
    const n = nodeRt([], { NODE_OPTIONS: "--max-old-space-size=3072 --heapsnapshot-signal=SIGUSR2" })
    assert.deepStrictEqual([n.heapMaxBytes, n.heapSnapshotSignal], [3072 * MiB, "SIGUSR2"])
    assert.strictEqual(nodeRt([]).heapSnapshotSignal, undefined)
    assert.strictEqual(FiveClassRuntime.classify({ pid: 1, starttime: 1, comm: "app", argv: ["/srv/app"], env: { GOMEMLIMIT: "1GiB" } }).heapMaxBytes, 1024 * MiB)
  })
})

describe("golden plans per class", () => {
  const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)
  const expected: Record<string, ReadonlyArray<string>> = {
    memory_leak: [F.HEAP_DUMP, ProcessControl.RESTART],
    memory_leak_node: [ProcessControl.SIGNAL, ProcessControl.RESTART],
    memory_leak_node_bare: [ProcessControl.RESTART],
    traffic_spike: [F.MEMORY_MAX],
    undersized_limit: [],
    noisy_neighbor: [],
    runtime_misconfig: []
  }
  for (const [name, f] of Object.entries(CASES)) {
    it(`${name} → ${expected[name]!.join(", ") || "no action"}`, () => {
      const c = F.classifier()(f)
      if (c._tag !== "Classified") return assert.fail(c._tag)
      const plan = F.planOf(c, f, signal, { dumpDirectory: "/var/tmp/byteport" })
      Testing.expectPlan(plan, nodePath.join(here, "golden", `${name}.plan.txt`))
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(kinds(plan), expected[name])
      const text = Plan.render(plan)
      if (name === "memory_leak_node_bare") assert.notInclude(text, "SIGUSR1")
      if (name === "traffic_spike") assert.deepStrictEqual(Plan.actions(plan.root)[0]!.action.params["bytes"], 2 * LIMIT)
      if (name === "undersized_limit") {
        assert.strictEqual(plan.root._tag, "Propose")
        assert.include(text, `${Math.ceil((f.history._tag === "Known" ? f.history.value.p99Bytes : 0) * 1.5 / MiB)}M`)
      }
      if (name === "runtime_misconfig") assert.include(text, "-Xmx768m")
      if (name === "noisy_neighbor") assert.include(text, "batch-indexer (pid 4242")
    })
  }
  it("a kubepods cgroup: memory_leak and traffic_spike escalate naming the pod, no action", () => {
    const podUsage = { ...usage(95), cgroup: "/sys/fs/cgroup/memory/kubepods/burstable/pod1b2c3d4e-0000-4000-8000-00000000abcd/c0ffee" }
    for (const name of ["memory_leak", "traffic_spike"]) {
      const f = { ...CASES[name]!, usage: { _tag: "Known" as const, value: podUsage } }
      const c = F.classifier()(f)
      if (c._tag !== "Classified") return assert.fail(c._tag)
      const plan = F.planOf(c, f, signal)
      assert.deepStrictEqual(Plan.actions(plan.root), [])
      assert.include(Plan.render(plan), "pod 1b2c3d4e-0000-4000-8000-00000000abcd")
    }
  })
  it.effect("an OOM kill in a kubepods container: the oom.observed hand-off to its pod's workload (named from the kubelet's log links), never an escalation or an action", () =>
    Effect.gen(function*() {
      const logRoot = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-pods-"))
      const uid = "1b2c3d4e-0000-4000-8000-00000000abcd"
      const cid = "c0ffee".padEnd(64, "0")
      fs.mkdirSync(nodePath.join(logRoot, "containers"))
      fs.writeFileSync(nodePath.join(logRoot, "containers", `web-7d9f-abcde_shop_app-${cid}.log`), "")
      const cgroup = `/sys/fs/cgroup/memory/kubepods/burstable/pod${uid}/cri-containerd-${cid}.scope`
      const podUsage = { ...usage(95), cgroup }
      const killed = Signal.make({ ...signal, evidence: { ...signal.evidence, cgroup, trigger: "oom-kill", killedTask: "java", killedPid: 77 } })
      for (const name of ["memory_leak", "traffic_spike"]) {
        const f = { ...CASES[name]!, usage: { _tag: "Known" as const, value: podUsage } }
        const c = F.classifier()(f)
        if (c._tag !== "Classified") return assert.fail(c._tag)
        const plan = yield* F.remediator({ podLogRoot: logRoot, cluster: "prod-eu" })(c, f, killed)
        assert.deepStrictEqual(Plan.actions(plan.root), [])
        assert.strictEqual(plan.root._tag, "HandOff")
        if (plan.root._tag !== "HandOff") return
        assert.strictEqual(plan.root.signal.type, HandOffs.OomObserved.type)
        assert.deepStrictEqual(plan.root.signal.target, TargetRef.make("k8s.workload", "prod-eu/shop/Pod/web-7d9f-abcde"))
        // the evidence is what core's OomObserved hand-off accepts
        const ev = yield* HandOffs.decode(HandOffs.OomObserved, plan.root.signal)
        assert.deepStrictEqual(ev, { container: "app", count: 1, lastAt: killed.observedAt, limitBytes: LIMIT })
        assert.notInclude(Plan.render(plan), "Escalate")
      }
      // pressure without a kill in the same pod: no OOM was observed → escalation naming the pod
      const f = { ...CASES["memory_leak"]!, usage: { _tag: "Known" as const, value: podUsage } }
      const c = F.classifier()(f)
      if (c._tag !== "Classified") return assert.fail(c._tag)
      const pressured = yield* F.remediator({ podLogRoot: logRoot })(c, f, Signal.make({ ...signal, evidence: { ...signal.evidence, cgroup, trigger: "pressure" } }))
      assert.strictEqual(pressured.root._tag, "Escalate")
      assert.include(Plan.render(pressured), "shop/web-7d9f-abcde")
      // a kill in a pod the log links do not name: escalation naming the pod uid
      const unknown = yield* F.remediator({ podLogRoot: nodePath.join(logRoot, "nowhere") })(c, f, killed)
      assert.strictEqual(unknown.root._tag, "Escalate")
      assert.include(Plan.render(unknown), uid)
      fs.rmSync(logRoot, { recursive: true, force: true })
    }))
  it("Pods: a kubepods cgroup's pod uid and container id; the pod from /var/log/pods when no container link names it", () => {
    const root = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-pods-"))
    const uid = "0a1b2c3d-1111-4222-8333-444455556666"
    fs.mkdirSync(nodePath.join(root, "pods", `shop_db-0_${uid}`, "postgres"), { recursive: true })
    assert.strictEqual(Pods.podUidOf(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replace(/-/g, "_")}.slice`), uid)
    assert.strictEqual(Pods.podUidOf("/system.slice/web.service"), undefined)
    assert.strictEqual(Pods.containerIdOf(`/kubepods/pod${uid}/${"ab".repeat(32)}`), "ab".repeat(32))
    assert.strictEqual(Pods.containerIdOf(`/kubepods/pod${uid}`), undefined)
    assert.deepStrictEqual(Pods.resolve(`/sys/fs/cgroup/memory/kubepods/pod${uid}/${"ab".repeat(32)}`, root), { uid, namespace: "shop", name: "db-0", container: "postgres" })
    assert.strictEqual(Pods.resolve("/sys/fs/cgroup/memory/web.service", root), undefined)
    fs.rmSync(root, { recursive: true, force: true })
  })
  it("traffic_spike under a policy cap below 2×: the cap", () => {
    const f = CASES["traffic_spike"]!
    const c = F.classifier()(f)
    if (c._tag !== "Classified") return assert.fail(c._tag)
    const plan = F.planOf(c, f, signal, { maxLimitBytes: 1536 * MiB })
    assert.strictEqual(Plan.actions(plan.root)[0]!.action.params["bytes"], 1536 * MiB)
  })
})

describe("restart guardrails (TestClock): backoff 30 s × 2^N, ≤ 3 per service per hour", () => {
  const rb = Runbook.make<F.FiveClassFacts>({
    id: F.ID,
    family: "host.memory",
    description: "test",
    signals: [F.SIGNAL_TYPE],
    diagnose: () => Effect.succeed(CASES["memory_leak_node_bare"]!),
    classify: F.classifier(),
    remediate: F.remediator(),
    verify: () => Effect.succeed(Verdict.fromChecks([{ name: "x", ok: true, detail: "" }], 0)),
    guardrails: F.guardrails(),
    baseline: F.baseline,
    cooldown: "0 seconds"
  })
  it.effect("restarts at 0, 30 s, 90 s (30 + 60); a 4th within the hour is denied; after the hour it may again", () =>
    Effect.gen(function*() {
      const restart = Testing.recordingHandler(ProcessControl.RESTART)
      const attempt = Effect.gen(function*() {
        const before = restart.writes.length
        yield* Runbook.handle(rb, signal, { mode: "auto" })
        return restart.writes.length > before
      })
      const at: Array<number> = []
      yield* Effect.gen(function*() {
        for (let s = 0; s <= 400; s += 5) {
          if (yield* attempt) at.push(s)
          yield* TestClock.adjust("5 seconds")
        }
        assert.deepStrictEqual(at, [0, 30, 90])
        yield* TestClock.adjust("1 hour")
        assert.isTrue(yield* attempt)
      }).pipe(Effect.provide(Testing.layer({ handlers: [restart] })))
    }), 60_000)
})

describe("family default, the Node heap endpoint and the k8s hand-off", () => {
  it("host.memory.five-class is the enabled runbook of family host.memory by default", () => {
    const c = Catalog.make([HostMemorySaturation.make(), F.make()])
    assert.deepStrictEqual(c.entries.filter((e) => e.enabled).map((e) => e.runbook.id), [F.ID])
  })
  it.live("the Node heap endpoint is read; an endpoint that fails → HeapProbeError (Unknown fact)", () =>
    Effect.gen(function*() {
      const server = http.createServer((req, res) => {
        if (req.url === "/heap") {
          const m = process.memoryUsage()
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ heapUsed: m.heapUsed, heapTotal: m.heapTotal }))
        } else res.writeHead(500).end("no")
      })
      yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r())))
      const port = (server.address() as { port: number }).port
      const ok = yield* FiveClassRuntime.nodeHeap(`http://127.0.0.1:${port}/heap`)
      assert.strictEqual(ok.kind, "node")
      assert.isAbove(ok.usedBytes!, 0)
      const bad = yield* Effect.flip(FiveClassRuntime.nodeHeap(`http://127.0.0.1:${port}/other`))
      assert.strictEqual(bad._tag, "HeapProbeError")
      server.close()
    }))
  it.effect("k8s events via the oom.observed hand-off: decoded into the k8s fact; bad evidence fails the probe", () =>
    Effect.gen(function*() {
      const s = yield* HandOffs.signal(HandOffs.OomObserved, { target: F.target("web.service", "h1"), evidence: { container: "web", count: 2, lastAt: 1000, limitBytes: LIMIT }, observedAt: 1000 })
      assert.deepStrictEqual(yield* F.k8s(s), { source: "hand-off", container: "web", count: 2, lastAt: 1000, limitBytes: LIMIT })
      assert.deepStrictEqual(yield* F.k8s(signal), { source: "none" })
      const bad = yield* Effect.flip(F.k8s({ ...s, evidence: { container: "" } }))
      assert.strictEqual((bad as { readonly _tag: string })._tag, "InvalidHandOff")
    }))
})

describe("RequestRateHistory: the request rate traffic_spike reads", () => {
  const HOUR = 3_600_000
  const climbing = Array.from({ length: 25 }, (_, i) => ({ at: i * (HOUR / 24), bytes: Math.round(((40 + (55 * i) / 24) / 100) * LIMIT) }))
  const classify = (h: FiveClassStats.Summary) => classOf({ ...CASES["traffic_spike"]!, history: { _tag: "Known", value: h } })

  it.effect("the store-backed default records samples in the GuardrailStore; the history joins them: rps rising with memory → traffic_spike", () =>
    Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const rates = RequestRateHistory.fromStore(store)
      for (const [i, m] of climbing.entries()) yield* rates.record("web.service", { at: m.at + 5_000, rps: 100 + i * 40 })
      // another service's rate is not this one's
      yield* rates.record("api.service", { at: 0, rps: 9999 })
      assert.strictEqual((yield* rates.range("web.service", 0, 2 * HOUR)).length, 25)
      // the diagnoser's history: no RequestRateHistory provided → the default over the store
      const h = yield* F.history("web.service", () => Effect.succeed(climbing))
      assert.isAbove(h.rpsCorrelation!, 0.99)
      assert.strictEqual(classify(h), "traffic_spike")
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("a provided RequestRateHistory wins; flat rps (no correlation) or no rps → not traffic_spike", () =>
    Effect.gen(function*() {
      const flat: RequestRateHistory.RequestRateHistoryShape = {
        record: () => Effect.void,
        range: (_unit, from, to) => Effect.succeed(climbing.filter((m) => m.at >= from && m.at <= to).map((m, i) => ({ at: m.at, rps: i % 2 === 0 ? 100 : 101 })))
      }
      const h = yield* F.history("web.service", () => Effect.succeed(climbing)).pipe(Effect.provideService(RequestRateHistory.RequestRateHistory, flat))
      assert.isBelow(Math.abs(h.rpsCorrelation ?? 0), 0.7)
      assert.notStrictEqual(classify(h), "traffic_spike")
      // no store, no provided history: memory only, no rps
      const bare = yield* F.history("web.service", () => Effect.succeed(climbing))
      assert.isUndefined(bare.rpsCorrelation)
      assert.notStrictEqual(classify(bare), "traffic_spike")
    }))

  it.effect("the store keeps 3 h per service and drops older samples; samples out of the ±60 s tolerance are not joined", () =>
    Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const rates = RequestRateHistory.fromStore(store)
      yield* rates.record("web.service", { at: 0, rps: 1 })
      yield* rates.record("web.service", { at: 4 * HOUR, rps: 2 })
      assert.deepStrictEqual(yield* rates.range("web.service", 0, 5 * HOUR), [{ at: 4 * HOUR, rps: 2 }])
      const joined = RequestRateHistory.join([{ at: 0, bytes: 1 }, { at: 4 * HOUR - 30_000, bytes: 2 }], [{ at: 4 * HOUR, rps: 2 }])
      assert.deepStrictEqual(joined.map((x) => x.rps), [undefined, 2])
    }).pipe(Effect.provide(Testing.layer())))
})
