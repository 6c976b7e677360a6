/**
 * `byteport record` on kube-sim: for k8s.oom.six-signal and k8s.crashloop.five-branch, the live
 * dry_run's plan (the runbook's live probes through the real client-node) equals the plan
 * `byteport replay` gives from the recorded directory (the same signal); the files are
 * `kubectl get -o json` shapes, secrets are redacted before writing, and capture.json names the
 * time, the cluster version and the commands.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Plan, Runbook, type Signal } from "@byteport/core"
import { CrashloopFiveBranch, OomSixSignal } from "@byteport/k8s"
import { OomFixture } from "@byteport/k8s/testing"
import { Effect, Layer } from "effect"
import { IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import { clusterLayer, runWithSim, Scenario, servicesLayer, sim as startSim } from "../../k8s/test/oom/harness"
import * as Record from "../src/Record"
import * as Replay from "../src/Replay"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "byteport-record-"))

const kubeconfigOf = (s: { kubeconfig: () => string }) => {
  const file = path.join(tmp(), "kubeconfig")
  fs.writeFileSync(file, s.kubeconfig())
  return file
}

const dryRunPlan = (result: unknown): Plan.Plan => {
  const r = result as { status?: string; plan?: Plan.Plan }
  assert.strictEqual(r.status, "dry_run", JSON.stringify(r).slice(0, 500))
  assert.isDefined(r.plan)
  return r.plan!
}

describe("byteport record → replay equals the live dry_run", () => {
  it.effect("k8s.oom.six-signal (undersized limit)", () =>
    Effect.gen(function*() {
      const s = yield* startSim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      s.advance("6m")
      const pods = (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp)
      const killed = pods.find((p) => p.status?.containerStatuses?.[0]?.lastState?.terminated?.reason === "OOMKilled")
      assert.isDefined(killed)
      // a secret-looking env value on the pod: redacted before writing
      const out = path.join(tmp(), "oom")
      const rec = yield* Record.record({ runbook: OomSixSignal.ID, target: `default/${killed.metadata.name}`, out, kubeconfig: kubeconfigOf(s), now: s.now() })
      assert.deepStrictEqual([...rec.files].sort(), ["capture.json", "deployment.json", "hpas.json", "meta.json", "node.json", "pod.json", "podmetrics.json", "previous.log", "prometheus-memory.json", "prometheus-rps.json", "replicasets.json"])
      const capture = JSON.parse(fs.readFileSync(path.join(out, "capture.json"), "utf8"))
      assert.strictEqual(capture.recordedAt, new Date(s.now()).toISOString())
      assert.match(capture.cluster.version, /^v\d+\.\d+/)
      assert.include(capture.commands.map((c: { command: string }) => c.command), `kubectl get pod -n default ${killed.metadata.name} -o json`)
      assert.strictEqual(JSON.parse(fs.readFileSync(path.join(out, "pod.json"), "utf8")).kind, "Pod")

      const signal: Signal.Signal = yield* OomFixture.signal(out)
      const live = yield* runWithSim(s, Runbook.handle(OomSixSignal.make(), signal, { mode: "dry_run" }).pipe(Effect.provide(servicesLayer(s))), { max: "10 minutes" })
      const replayed = yield* Replay.replay(OomSixSignal.ID, out)
      assert.strictEqual(replayed.classification._tag === "Classified" ? replayed.classification.class : replayed.classification._tag, "undersized_limit")
      assert.deepStrictEqual(replayed.plan, dryRunPlan(live))
      assert.strictEqual(replayed.planDigest, Plan.digest(dryRunPlan(live)))
    }).pipe(Effect.scoped), 180_000)

  it.effect("k8s.crashloop.five-branch (dependency not ready)", () =>
    Effect.gen(function*() {
      const s = yield* startSim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.dependencyNotReady({ name: "api" })).build())
      s.advance("4m")
      const pods = (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp)
      const looping = pods.find((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0) ?? pods[0]
      assert.isDefined(looping)
      const out = path.join(tmp(), "five")
      const rec = yield* Record.record({ runbook: CrashloopFiveBranch.ID, target: `default/${looping.metadata.name}`, out, kubeconfig: kubeconfigOf(s), now: s.now(), cluster: "kube-sim" })
      assert.includeMembers([...rec.files], ["pod.json", "events.json", "nodes.json", "deployments.json", "replicasets.json", "services.json", "endpointslices.json", "previous.log", "meta.json", "capture.json"])
      const meta = JSON.parse(fs.readFileSync(path.join(out, "meta.json"), "utf8"))
      const signal = meta.signal as Signal.Signal
      const services = (() => {
        const cluster = clusterLayer(s)
        return Layer.mergeAll(cluster, CrashloopFiveBranch.registry().pipe(Layer.provide(cluster)), Layer.orDie(MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
      })()
      const live = yield* runWithSim(s, Runbook.handle(CrashloopFiveBranch.make(), signal, { mode: "dry_run" }).pipe(Effect.provide(services)), { max: "10 minutes" })
      const replayed = yield* Replay.replay(CrashloopFiveBranch.ID, out)
      assert.strictEqual(replayed.classification._tag === "Classified" ? replayed.classification.class : replayed.classification._tag, "dependency_not_ready")
      assert.isAbove(Plan.actions(replayed.plan!.root).length, 0)
      assert.deepStrictEqual(replayed.plan, dryRunPlan(live))
    }).pipe(Effect.scoped), 180_000)
})

describe("redaction before writing", () => {
  it("Secret data, docker configs (hosts kept), secret-named env values, last-applied annotations", () => {
    const secret = "hunter2-s3cr3t"
    const b64 = (t: string) => Buffer.from(t).toString("base64")
    const docker = b64(JSON.stringify({ auths: { "registry.example.com": { auth: b64(`u:${secret}`), password: secret } } }))
    const input = {
      items: [
        { kind: "Secret", type: "Opaque", metadata: { name: "db", annotations: { "kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"${b64(secret)}"}}` } }, data: { password: b64(secret) }, stringData: { token: secret } },
        { kind: "Secret", type: "kubernetes.io/dockerconfigjson", metadata: { name: "pull" }, data: { ".dockerconfigjson": docker } },
        { kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", env: [{ name: "DB_PASSWORD", value: secret }, { name: "URL", value: `postgres://app:${secret}@db:5432/x` }, { name: "MODE", value: "fast" }] }] } }
      ]
    }
    const text = JSON.stringify(Record.redactObject(input))
    assert.notInclude(text, secret)
    assert.notInclude(text, b64(secret))
    const out = Record.redactObject(input) as typeof input
    const cfg = JSON.parse(Buffer.from((out.items[1] as any).data[".dockerconfigjson"], "base64").toString("utf8"))
    assert.deepStrictEqual(Object.keys(cfg.auths), ["registry.example.com"])
    assert.notInclude(JSON.stringify(cfg), secret)
    assert.strictEqual((out.items[2] as any).spec.containers[0].env[2].value, "fast")
  })
})
