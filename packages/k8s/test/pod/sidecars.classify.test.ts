/**
 * A crashing native sidecar (an init container with `restartPolicy: Always`) is classified by the
 * sidecar container itself — the same classes as an app container, the sidecar named — never as
 * `failed_init_container`: seven-class's OOM-at-startup recording (`kubectl get -o json`) rewritten
 * so the OOM-killed container is a native sidecar beside a Ready app. Near misses: the same
 * container without `restartPolicy: Always` is a run-to-completion init container again
 * (`failed_init_container`), and the sidecar-only crash leaves the app container out of it.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Plan } from "@byteport/core"
import { Effect } from "effect"
import * as ExitCode from "../../src/classifiers/exitCode"
import * as SevenClass from "../../src/classifiers/sevenClass"
import * as Remediator from "../../src/remediators/sevenClass"
import * as SevenClassFixture from "../../src/testing/sevenClassFixture"

const SIDECAR = "log-shipper"

/** The OOM-at-startup recording with its `api` container turned into the native sidecar `log-shipper` beside a Ready `app`. */
const sidecarRecording = (native: boolean, crash: "oom" | "error" = "oom") =>
  Effect.gen(function*() {
    const src = yield* SevenClassFixture.recorded("oom_at_startup")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-sidecar-"))
    for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f))
    const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"))
    const write = (f: string, v: unknown) => fs.writeFileSync(path.join(dir, f), JSON.stringify(v, null, 2))
    const app = { name: "app", image: "registry.example.com/shop/app:2.0.0", resources: { limits: { memory: "512Mi" } } }
    const toSidecar = (spec: any) => {
      const c = { ...spec.containers[0], name: SIDECAR, ...(native ? { restartPolicy: "Always" } : {}) }
      return { ...spec, initContainers: [c], containers: [app] }
    }
    const rewritePod = (p: any) => {
      const last = p.status.containerStatuses[0]
      const cs = { ...last, name: SIDECAR, ...(crash === "error" ? { lastState: { terminated: { ...last.lastState.terminated, exitCode: 1, reason: "Error", signal: undefined } } } : {}) }
      const appStatus = { name: "app", state: { running: { startedAt: "2026-01-01T00:00:05Z" } }, ready: true, started: true, restartCount: 0, image: app.image, imageID: "registry.example.com/shop/app@sha256:" + "a".repeat(64) }
      const status = native
        ? { ...p.status, initContainerStatuses: [cs], containerStatuses: [appStatus] }
        : { ...p.status, initContainerStatuses: [{ ...cs, state: { waiting: { reason: "CrashLoopBackOff", message: cs.state.waiting.message } } }], containerStatuses: [{ ...appStatus, state: { waiting: { reason: "PodInitializing" } }, ready: false, started: false }] }
      return { ...p, spec: toSidecar(p.spec), status }
    }
    write("pod.json", rewritePod(read("pod.json")))
    const pods = read("pods.json")
    write("pods.json", { ...pods, items: pods.items.map((p: any) => (p.metadata.name === read("pod.json").metadata.name ? read("pod.json") : p)) })
    const d = read("deployment.json")
    write("deployment.json", { ...d, spec: { ...d.spec, template: { ...d.spec.template, spec: toSidecar(d.spec.template.spec) } } })
    const meta = read("meta.json")
    write("meta.json", { ...meta, container: SIDECAR, signal: { ...meta.signal, target: { ...meta.signal.target, ref: meta.signal.target.ref.replace(/\/api$/, `/${SIDECAR}`) }, evidence: { ...meta.signal.evidence, container: SIDECAR } } })
    return yield* SevenClassFixture.decode(dir)
  })

describe("a native sidecar's crash is classified by the sidecar itself", () => {
  it.effect("seven-class: the OOM-killed native sidecar is oom_at_startup of log-shipper (not failed_init_container); the bump patches initContainers", () =>
    Effect.gen(function*() {
      const { facts, signal } = yield* sidecarRecording(true)
      const c = SevenClass.classify()(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : `${c._tag}: ${c.reasons.join("; ")}`, "oom_at_startup")
      assert.include(JSON.stringify(c.reasons), SIDECAR)
      assert.isUndefined(SevenClass.failedInit((facts as any).pod.value), "no Init:* failure")
      const plan = Remediator.plan(c as any, facts, signal)
      const bump = Plan.actions(plan.root).map((a) => a.action)
      assert.deepStrictEqual(bump.map((a) => a.kind), ["k8s.patchMemoryLimit"])
      assert.strictEqual(bump[0]!.params["container"], SIDECAR)
      assert.strictEqual(bump[0]!.params["initContainer"], true)
    }))

  it.effect("a native sidecar exiting 1 in back-off is never failed_init_container (classified as an app container would be)", () =>
    Effect.gen(function*() {
      const { facts } = yield* sidecarRecording(true, "error")
      const c = SevenClass.classify()(facts)
      assert.notStrictEqual(c._tag === "Classified" ? c.class : c._tag, "failed_init_container")
      assert.notStrictEqual(c._tag === "Classified" ? c.class : c._tag, "oom_at_startup", "exit 1 is no OOM")
      assert.isUndefined(SevenClass.failedInit((facts as any).pod.value))
    }))

  it.effect("near miss: without restartPolicy: Always the same container exiting 1 is a run-to-completion init container: failed_init_container", () =>
    Effect.gen(function*() {
      const { facts } = yield* sidecarRecording(false, "error")
      const c = SevenClass.classify()(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : `${c._tag}: ${c.reasons.join("; ")}`, "failed_init_container")
      assert.include(JSON.stringify(c.reasons), SIDECAR)
    }))

  it.effect("near miss, sidecar-only crash: the app container beside it is Ready and never the subject; exit-code names the sidecar", () =>
    Effect.gen(function*() {
      const { facts } = yield* sidecarRecording(true)
      const pod = (facts as any).pod.value
      assert.isTrue(ExitCode.sidecarOnly(pod, SIDECAR))
      assert.isFalse(ExitCode.sidecarOnly(pod, "app"))
      assert.strictEqual(ExitCode.mainContainer(pod), "app")
    }))
})
