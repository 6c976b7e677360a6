/**
 * `Quantity.parse` on an overflowing quantity (issue 17 §1, found by the fuzzing:
 * `BYTEPORT_FUZZ_SEED=1001`, a node's allocatable memory "1e999" reached an action's params as
 * Infinity and `Action.make` threw `InvalidAction`): it is not a quantity, so `undefined`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Quantity from "../../src/Quantity"

describe("Quantity.parse: overflow", () => {
  it("a quantity that overflows to Infinity is no quantity", () => {
    for (const q of ["1e999", "9".repeat(400), "9e300Ei", "-1e999"]) expect(Quantity.parse(q), q).toBeUndefined()
    expect(() => Quantity.parseOrFail("1e999")).toThrow(/not a Kubernetes quantity/)
  })

  it("large finite quantities still parse", () => {
    expect(Quantity.parse("1e18")).toBe(1e18)
    expect(Quantity.parse("8Ei")).toBe(8 * 2 ** 60)
    expect(Quantity.parse("512Mi")).toBe(512 * 2 ** 20)
  })
})
