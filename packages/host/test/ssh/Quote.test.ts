/** `Ssh.quote` / `Ssh.commandLine` without a server: every argv survives dash and bash unchanged. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Shell } from "@byteport/core/shell"
import * as fc from "fast-check"
import { Ssh } from "../../src/index"
import { hostileArg } from "../support/shellContract"

describe("Ssh.commandLine", () => {
  it("quotes with single quotes only ('\\'' for a quote)", () => {
    assert.strictEqual(Ssh.quote(""), "''")
    assert.strictEqual(Ssh.quote("it's"), `'it'\\''s'`)
    assert.strictEqual(Ssh.commandLine(["echo", "$HOME", "a b"]), `'echo' '$HOME' 'a b'`)
  })

  for (const shell of ["dash", "bash"]) {
    it.live(`argv round-trip through ${shell} -c (property)`, () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(hostileArg, { minLength: 1, maxLength: 8 }), async (args) => {
            const r = await Effect.runPromise(Shell.local.run([shell, "-c", Ssh.commandLine(["printf", "%s\\0", ...args])]))
            assert.strictEqual(r.exitCode, 0, r.stderr)
            assert.deepStrictEqual(r.stdout.split("\0").slice(0, -1), args)
          }),
          { numRuns: 60 }
        )
      ))
  }
})
