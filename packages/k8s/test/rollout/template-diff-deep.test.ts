/**
 * `LastDeploy.templateChanges` on a 5,000-deep value in a ReplicaSet template (issue 17 §1, found by
 * the fuzzing: `BYTEPORT_FUZZ_SEED=892594564`, `RangeError: Maximum call stack size exceeded` in
 * its JSON round trip). The apiserver accepts 10,000 levels; the diff now compares without
 * recursion, stops descending at 64 levels and reports a value deeper than that as text.
 */
import { assert, describe, it } from "@effect/vitest"
import * as LastDeploy from "../../src/probes/lastDeploy"

const nested = (depth: number): unknown => {
  let v: unknown = 0
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
  return v
}
const template = (image: string, extra: unknown) => ({
  metadata: { labels: { app: "api", "pod-template-hash": image.length.toString() }, annotations: { deep: extra } },
  spec: { containers: [{ name: "api", image, args: extra }] }
})

describe("template diff: deep nesting", () => {
  it("a 10,000-level value on both sides: no stack overflow, the image change found, the deep change reported as text", () => {
    const before = template("shop/api:1", nested(10_000))
    const after = template("shop/api:2", nested(10_001))
    const changes = LastDeploy.templateChanges(before, after)
    const image = changes.find((c) => c.path === "spec.containers[api].image")
    assert.deepStrictEqual([image?.before, image?.after], ["shop/api:1", "shop/api:2"])
    const args = changes.find((c) => c.path.startsWith("spec.containers[api].args"))
    assert.isDefined(args)
    assert.match(String(args!.after), /nested deeper than 64 levels/)
    assert.doesNotThrow(() => JSON.stringify(changes))
  })

  it("equal deep values are no change; pod-template-hash is still ignored", () => {
    const a = template("shop/api:1", nested(10_000))
    const b = { ...template("shop/api:1", nested(10_000)), metadata: { ...a.metadata, labels: { app: "api", "pod-template-hash": "other" } } }
    assert.deepStrictEqual(LastDeploy.templateChanges(a, b), [])
  })

  it("a retyped container list (a number, an object) reads as no containers (fuzzing, BYTEPORT_FUZZ_SEED=2002)", () => {
    const deployment = { metadata: { name: "api", uid: "u1", annotations: { "deployment.kubernetes.io/revision": "2" } } }
    const rs = (name: string, revision: number, containers: unknown) => ({
      metadata: { name, annotations: { "deployment.kubernetes.io/revision": String(revision) }, ownerReferences: [{ kind: "Deployment", name: "api", uid: "u1", controller: true }] },
      spec: { template: { spec: { containers, initContainers: { length: 1 } } } }
    })
    const d = LastDeploy.templateDiff(deployment as any, [rs("api-a", 1, -1), rs("api-b", 2, [{ name: "api", image: "shop/api:2" }])] as any)
    assert.deepStrictEqual(d.previous?.images, [])
    assert.deepStrictEqual(d.current?.images, [{ container: "api", image: "shop/api:2" }])
  })
})
