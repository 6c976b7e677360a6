import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { scrub } from "../src/DbError"
import * as Dsn from "../src/Dsn"

describe("scrub and Dsn", () => {
  it("removes passwords from URLs, key/value pairs and given secrets", () => {
    assert.strictEqual(scrub("connect postgres://app:hunter2@db:5432/x failed"), "connect postgres://app:***@db:5432/x failed")
    assert.strictEqual(scrub("host=db password=hunter2 user=app"), "host=db password=*** user=app")
    assert.strictEqual(scrub("auth failed for hunter2 / hunter%40x", ["hunter2", "hunter@x"]), "auth failed for *** / ***")
  })

  it.effect("parses DSNs and never puts the password in an error", () =>
    Effect.gen(function*() {
      const d = yield* Dsn.parse(Redacted.make("postgresql://app:p%40ss@127.0.0.1:25432/appdb?application_name=x"))
      assert.deepStrictEqual([d.scheme, d.host, d.port, d.user, d.database, d.params.application_name], ["postgres", "127.0.0.1", 25432, "app", "appdb", "x"])
      assert.strictEqual(Redacted.value(d.password), "p@ss")
      assert.notInclude(String(d.password), "p@ss")
      const m = yield* Dsn.parse(Redacted.make("mysql://u:pw@h/db"))
      assert.strictEqual(m.port, 3306)
      const bad = yield* Effect.flip(Dsn.parse(Redacted.make("redis://u:topsecret@h/0")))
      assert.strictEqual(bad._tag, "DbInvalidInput")
      assert.notInclude(bad.message, "topsecret")
      const junk = yield* Effect.flip(Dsn.parse(Redacted.make("not a url with secret topsecret")))
      assert.notInclude(junk.message, "topsecret")
    }))
})
