import { Catalog, type Runbook } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import * as Families from "../../src/runbooks/families"

describe("pod families: ids, families and precedence", () => {
  it("the seed's families", () => {
    assert.deepStrictEqual(Families.members("k8s.crashloop"), ["k8s.crashloop.five-branch", "k8s.crashloop.seven-class", "k8s.crashloop.exit-code", "k8s.restart-loop.container"])
    assert.deepStrictEqual(Families.members("k8s.oom"), ["k8s.oom.six-signal", "k8s.oom.exit-137"])
    assert.deepStrictEqual(Families.members("k8s.image-pull"), ["k8s.image-pull"])
    assert.deepStrictEqual(Families.members("k8s.pending"), ["k8s.pending"])
  })

  it("the default catalog: OOM first, then image-pull/pending, then crash loops; the first of each family enabled", () => {
    const ids = Object.values(Families.Ids)
    // declared in reverse so only the precedence can produce the order
    const runbooks = [...ids].reverse().map((id) => ({ id, family: Families.familyOf[id], precedence: Families.precedenceOf(id), signals: [] }) as unknown as Runbook.Any<never>)
    const catalog = Catalog.make(runbooks)
    const ranked = catalog.entries.map((e) => e.runbook.id)
    assert.deepStrictEqual(ranked.slice(0, 2), ["k8s.oom.six-signal", "k8s.oom.exit-137"])
    assert.sameMembers(ranked.slice(2, 4), ["k8s.image-pull", "k8s.pending"])
    assert.deepStrictEqual(ranked.slice(4), ["k8s.crashloop.five-branch", "k8s.crashloop.seven-class", "k8s.crashloop.exit-code", "k8s.restart-loop.container"])
    assert.sameMembers(catalog.entries.filter((e) => e.enabled).map((e) => e.runbook.id), ["k8s.oom.six-signal", "k8s.image-pull", "k8s.pending", "k8s.crashloop.five-branch"])
    for (const id of ids) assert.strictEqual(Math.floor(Families.Precedence[id] / 10) * 10, Families.FamilyPrecedence[Families.familyOf[id]])
  })
})
