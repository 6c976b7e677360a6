import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { version } from "@byteport/core"
it.effect("loads from source", () => Effect.sync(() => assert.strictEqual(version, "0.1.0")))
