/**
 * Issue 14 §1: under CI=true a missing test system fails the run instead of skipping its tests.
 * A service that is never up stands in for a missing one; the check throws before any suite is made.
 */
import { assert, describe, it } from "@effect/vitest"
import { describeWithServices } from "./sshd"

const withCI = <A>(value: string | undefined, f: () => A): A => {
  const before = process.env.CI
  if (value === undefined) delete process.env.CI
  else process.env.CI = value
  try {
    return f()
  } finally {
    if (before === undefined) delete process.env.CI
    else process.env.CI = before
  }
}

describe("test systems under CI=true", () => {
  it("a missing service throws, naming it (never a silent skip)", () => {
    withCI("true", () => {
      assert.throws(() => describeWithServices(["never-up" as never], "needs a missing service", () => {}), /test services are not available \(CI=true\): never-up/)
    })
    withCI("1", () => {
      assert.throws(() => describeWithServices(["hosttools", "never-up" as never], "needs a missing service", () => {}), /CI=true\): .*never-up/)
    })
  })
})
