import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "../../../kube-sim/src/store/selectors"
import * as Selectors from "../../src/informers/Selectors"

// The shared watch filters on the client what a dedicated watch filtered on the server, so the
// client's selectors must agree with the server's. kube-sim's selector engine (the one its list
// and watch handlers use) is the reference here.

const keys = ["app", "tier", "example.com/team"]
const values = ["web", "db", "a-1", ""]

const requirement = fc.oneof(
  fc.tuple(fc.constantFrom(...keys), fc.constantFrom("=", "==", "!="), fc.constantFrom(...values.filter((v) => v !== ""))).map(([k, op, v]) => `${k}${op}${v}`),
  fc.tuple(fc.constantFrom(...keys), fc.constantFrom("in", "notin"), fc.uniqueArray(fc.constantFrom(...values.filter((v) => v !== "")), { minLength: 1, maxLength: 3 })).map(([k, op, vs]) => `${k} ${op} (${vs.join(",")})`),
  fc.tuple(fc.constantFrom("", "!"), fc.constantFrom(...keys)).map(([neg, k]) => `${neg}${k}`)
)
const labelSelector = fc.array(requirement, { minLength: 0, maxLength: 3 }).map((rs) => rs.join(","))
const labels = fc.dictionary(fc.constantFrom(...keys), fc.constantFrom(...values), { maxKeys: 3 })

const objectArb = fc.record({
  metadata: fc.record({ name: fc.constantFrom("a", "b"), namespace: fc.constantFrom("default", "shop"), labels }),
  spec: fc.record({ nodeName: fc.option(fc.constantFrom("node-1", "node-2"), { nil: undefined }), unschedulable: fc.option(fc.boolean(), { nil: undefined }) }),
  status: fc.record({ phase: fc.constantFrom("Running", "Failed") })
})
const fieldReq = fc.tuple(fc.constantFrom("metadata.name", "metadata.namespace", "spec.nodeName", "status.phase", "spec.unschedulable"), fc.constantFrom("=", "==", "!="), fc.constantFrom("a", "shop", "node-1", "", "Failed", "true")).map(
  ([f, op, v]) => `${f}${op}${v}`
)
const fieldSelector = fc.array(fieldReq, { minLength: 0, maxLength: 3 }).map((rs) => rs.join(","))

describe("client-side selectors", () => {
  it("label selectors agree with the server's on every object (property)", () => {
    fc.assert(
      fc.property(labelSelector, labels, (sel, l) => {
        const mine = Selectors.makeUnsafe({ labelSelector: sel })
        assert.strictEqual(mine.matches({ metadata: { name: "x", labels: l } }), matchesLabels(parseLabelSelector(sel), l), `${sel} on ${JSON.stringify(l)}`)
      }),
      { numRuns: 2000 }
    )
  })

  it("field selectors agree with the server's on every object (property)", () => {
    fc.assert(
      fc.property(fieldSelector, objectArb, (sel, obj) => {
        const mine = Selectors.makeUnsafe({ fieldSelector: sel })
        assert.strictEqual(mine.matches(obj), matchesFields(parseFieldSelector(sel), obj as never), `${sel} on ${JSON.stringify(obj)}`)
      }),
      { numRuns: 2000 }
    )
  })

  it("namespace: namespaced objects of another namespace are not selected; cluster-scoped objects are", () => {
    const s = Selectors.makeUnsafe({ namespace: "shop" })
    assert.isTrue(s.matches({ metadata: { name: "a", namespace: "shop" } }))
    assert.isFalse(s.matches({ metadata: { name: "a", namespace: "default" } }))
    assert.isTrue(s.matches({ metadata: { name: "node-1" } }))
  })

  it("selectors that do not parse are InvalidSelector", () => {
    for (const bad of ["app in (web", "=web", "a b c", "app==web,!"]) {
      const r = Selectors.make({ labelSelector: bad })
      assert.instanceOf(r, Selectors.InvalidSelector, bad)
    }
    assert.instanceOf(Selectors.make({ fieldSelector: "metadata.name" }), Selectors.InvalidSelector)
    assert.throws(() => Selectors.makeUnsafe({ labelSelector: "app in (web" }))
  })
})
