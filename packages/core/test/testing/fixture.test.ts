import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Testing from "@byteport/core/testing"

const Pod = Schema.Struct({
  metadata: Schema.Struct({ name: Schema.String, namespace: Schema.String }),
  status: Schema.Struct({
    containerStatuses: Schema.Array(Schema.Struct({ name: Schema.String, restartCount: Schema.Number }))
  })
})

const rel = (f: string) => nodePath.relative(process.cwd(), nodePath.join(__dirname, "fixtures", f))

describe("fixtures", () => {
  it.effect("a malformed fixture fails naming the file, the bad field's path and what was there", () =>
    Effect.gen(function*() {
      const file = rel("pod-bad.json")
      const e = yield* Effect.flip(Testing.loadFixture(Pod, file))
      assert.strictEqual(e._tag, "FixtureError")
      assert.deepStrictEqual(e.path, ["status", "containerStatuses", 0, "restartCount"])
      assert.strictEqual(e.message, `${file}: at ["status"]["containerStatuses"][0]["restartCount"]: Expected number, got "3"`)
    }))

  it.effect("YAML fixtures decode by extension; a missing key is named too", () =>
    Effect.gen(function*() {
      const pod = yield* Testing.loadFixture(Pod, rel("pod.yaml"))
      assert.strictEqual(pod.status.containerStatuses[0]!.restartCount, 3)
      const e = yield* Effect.flip(Testing.decodeFixture(Pod, "inline.json", { metadata: { name: "x" }, status: { containerStatuses: [] } }))
      assert.strictEqual(e.message, `inline.json: at ["metadata"]["namespace"]: Missing key`)
    }))

  it.effect("unreadable and unparsable files are FixtureErrors too", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Testing.loadFixture(Pod, "no/such/file.json"))
      assert.match(missing.message, /^no\/such\/file\.json: cannot read/)
      const bad = yield* Effect.flip(Testing.parseFixture("x.json", "{ nope"))
      assert.match(bad.message, /^x\.json: not valid JSON/)
    }))

  it("facts() wraps decoded values as Known facts", () => {
    assert.deepStrictEqual(Testing.facts({ a: 1, b: "x" }), { a: { _tag: "Known", value: 1 }, b: { _tag: "Known", value: "x" } })
  })
})
