import fc from "fast-check"
import { assert, describe, it } from "@effect/vitest"
import { Patch } from "../../src/index"

const key = fc.stringMatching(/^[a-z]{1,4}$/)
const scalar = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean())
/** JSON objects without arrays (where strategic merge must equal RFC 7386). */
const mapOnly: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  obj: fc.dictionary(key, fc.oneof({ depthSize: "small" }, scalar, tie("obj")), { maxKeys: 4 })
})).obj as fc.Arbitrary<Record<string, unknown>>
const patchOnly: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  obj: fc.dictionary(key, fc.oneof({ depthSize: "small" }, scalar, fc.constant(null), tie("obj")), { maxKeys: 4 })
})).obj as fc.Arbitrary<Record<string, unknown>>

describe("patch engines (properties)", () => {
  it("RFC 7386 merge patch is idempotent", () => {
    fc.assert(
      fc.property(mapOnly, patchOnly, (t, p) => {
        const once = Patch.applyMergePatch(t, p)
        assert.deepStrictEqual(Patch.applyMergePatch(once, p), once)
      })
    )
  })

  it("strategic merge equals RFC 7386 merge on objects without lists", () => {
    fc.assert(
      fc.property(mapOnly, patchOnly, (t, p) => {
        assert.deepStrictEqual(Patch.applyStrategicMergePatch(t, p, "ConfigMap"), Patch.applyMergePatch(t, p))
      })
    )
  })

  it("JSON patch: add then remove of a fresh key restores the document; test after replace passes", () => {
    fc.assert(
      fc.property(mapOnly, scalar, (t, v) => {
        const k = "fresh-key"
        const added = Patch.applyJsonPatch(t, [{ op: "add", path: `/${k}`, value: v }])
        assert.deepStrictEqual(Patch.applyJsonPatch(added, [{ op: "remove", path: `/${k}` }]), t)
        const replaced = Patch.applyJsonPatch(added, [{ op: "replace", path: `/${k}`, value: "x" }, { op: "test", path: `/${k}`, value: "x" }])
        assert.strictEqual((replaced as Record<string, unknown>)[k], "x")
      })
    )
  })

  it("strategic merge keeps containers by name: union in order, untouched ones unchanged", () => {
    const names = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,3}$/), { maxLength: 5 })
    fc.assert(
      fc.property(names, names, (have, patchNames) => {
        const target = { spec: { containers: have.map((n) => ({ name: n, image: `${n}:1` })) } }
        const patch = { spec: { containers: patchNames.map((n) => ({ name: n, image: `${n}:2` })) } }
        const out = Patch.applyStrategicMergePatch(target, patch, "Pod") as { spec: { containers: Array<{ name: string; image: string }> } }
        const expected = [...have, ...patchNames.filter((n) => !have.includes(n))]
        assert.deepStrictEqual(out.spec.containers.map((c) => c.name), expected)
        for (const c of out.spec.containers) assert.strictEqual(c.image, `${c.name}:${patchNames.includes(c.name) ? 2 : 1}`)
      })
    )
  })
})
