/**
 * Deep nesting (issue 17 §1, found by the fuzzing: a 5,000-deep value overflowed the stack):
 * `canonical` and `digest` refuse a value nested deeper than 2,500 levels with a typed
 * `NonJsonValue`, never a `RangeError`; `check` names it; shallower values still encode.
 */
import { describe, expect, it } from "@effect/vitest"
import { Json } from "@byteport/core"

const nested = (depth: number): unknown => {
  let v: unknown = 0
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
  return v
}

describe("Json: deep nesting", () => {
  it("a value 10,000 levels deep (the apiserver's own limit) is a NonJsonValue, not a stack overflow", () => {
    const deep = { metadata: { annotations: { x: nested(10_000) } } }
    expect(() => Json.canonical(deep)).toThrow(Json.NonJsonValue)
    expect(() => Json.digest(deep)).toThrow(/nested deeper than 2500 levels/)
    const bad = Json.check(deep)
    expect(bad?._tag).toBe("NonJsonValue")
    expect(Json.isJson(deep)).toBe(false)
  })

  it("2,000 levels still encode, canonically (keys sorted)", () => {
    const v = { b: nested(2_000), a: 1 }
    expect(Json.canonical(v).startsWith(`{"a":1,"b":`)).toBe(true)
    expect(Json.digest(v)).toMatch(/^[0-9a-f]{64}$/)
  })
})
