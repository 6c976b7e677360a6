/** cert-manager's pure rules: Go durations, the renewal time (± 1 min edges), the failure back-off. */
import * as fc from "fast-check"
import { assert, describe, it } from "vitest"
import * as R from "../src/certmanager/Resources"

const H = 3_600_000
const DAY = 24 * H

describe("cert-manager rules", () => {
  it("parses Go durations and rejects anything else", () => {
    assert.strictEqual(R.parseDuration("2160h"), 90 * DAY)
    assert.strictEqual(R.parseDuration("1h30m"), 90 * 60_000)
    assert.strictEqual(R.parseDuration("2160h0m0s"), 90 * DAY)
    assert.strictEqual(R.parseDuration("500ms"), 500)
    for (const bad of ["", "90d", "1h 30m", "h", "-1h", "1.5"]) assert.isUndefined(R.parseDuration(bad), bad)
  })

  it("renewalTime: renewBefore, renewBeforePercentage, else a third; a renewBefore not shorter than the duration falls back", () => {
    const nb = Date.UTC(2026, 11, 1)
    const na = nb + 90 * DAY
    assert.strictEqual(R.renewalTime({}, nb, na), na - 30 * DAY)
    assert.strictEqual(R.renewalTime({ renewBefore: "720h" }, nb, na), na - 30 * DAY)
    assert.strictEqual(R.renewalTime({ renewBefore: "48h" }, nb, na), na - 2 * DAY)
    assert.strictEqual(R.renewalTime({ renewBeforePercentage: 10 }, nb, na), na - 9 * DAY)
    assert.strictEqual(R.renewalTime({ renewBefore: "2160h" }, nb, na), na - 30 * DAY)
    assert.strictEqual(R.renewalTime({ renewBefore: "nonsense" }, nb, na), na - 30 * DAY)
  })

  it("renewalTime is always inside the validity (property)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 60_000, max: 400 * DAY }),
      fc.option(fc.integer({ min: 1, max: 800 * 24 }), { nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 99 }), { nil: undefined }),
      (duration, hours, pct) => {
        const nb = Date.UTC(2026, 0, 1)
        const rt = R.renewalTime({ ...(hours !== undefined ? { renewBefore: `${hours}h` } : {}), ...(pct !== undefined ? { renewBeforePercentage: pct } : {}) }, nb, nb + duration)
        return rt > nb && rt < nb + duration
      }
    ))
  })

  it("back-off: 1 h doubling, at most 32 h", () => {
    assert.deepStrictEqual([1, 2, 3, 4, 5, 6, 7, 20].map((n) => R.backoffMillis(n) / H), [1, 2, 4, 8, 16, 32, 32, 32])
  })

  it("conditions", () => {
    const cert = { status: { conditions: [{ type: "Ready", status: "True" as const }, { type: "Issuing", status: "True" as const, reason: R.MANUALLY_TRIGGERED }] } }
    assert.isTrue(R.isReady(cert))
    assert.isTrue(R.isIssuing(cert))
    assert.isFalse(R.isIssuing({ status: { conditions: [{ type: "Issuing", status: "False" }] } }))
    assert.strictEqual(R.rfc3339(Date.UTC(2026, 11, 7, 18, 0, 0, 123)), "2026-12-07T18:00:00Z")
  })
})
