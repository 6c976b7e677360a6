import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type * as Guardrail from "../../src/Guardrail"
import * as Guardrails from "../../src/Guardrails"
import { acquire, check, reasonOf, retryAfterOf, withStore } from "./helpers"

// 2026-11-23 is a Monday, 2026-11-27 a Friday, 2026-11-28 a Saturday.
const at = (iso: string) => TestClock.setTime(Date.parse(iso))
const tagAt = (g: Guardrail.Guardrail<never>, iso: string) =>
  Effect.gen(function*() {
    yield* at(iso)
    return (yield* check(g))._tag
  })

describe("changeWindow", () => {
  const business = Guardrails.changeWindow({ allow: { days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" } })

  it.effect("daily window: inclusive start, exclusive end, weekdays only (UTC by default)", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual(yield* tagAt(business, "2026-11-23T08:59:59.999Z"), "Deny")
      assert.strictEqual(yield* tagAt(business, "2026-11-23T09:00:00.000Z"), "Pass")
      assert.strictEqual(yield* tagAt(business, "2026-11-23T16:59:59.999Z"), "Pass")
      assert.strictEqual(yield* tagAt(business, "2026-11-23T17:00:00.000Z"), "Deny")
      assert.strictEqual(yield* tagAt(business, "2026-11-28T10:00:00.000Z"), "Deny")
      yield* at("2026-11-28T10:00:00.000Z")
      const r = yield* check(business)
      assert.include(reasonOf(r), "2026-11-28T10:00:00.000Z is outside the allowed windows: mon,tue,wed,thu,fri 09:00–17:00 (UTC)")
      // the Deny says when the next window opens: Monday 09:00
      assert.include(reasonOf(r), "next allowed at 2026-11-30T09:00:00.000Z")
      assert.strictEqual(retryAfterOf(r), Date.parse("2026-11-30T09:00:00.000Z") - Date.parse("2026-11-28T10:00:00.000Z"))
      yield* at("2026-11-23T08:59:59.999Z")
      assert.strictEqual(retryAfterOf(yield* check(business)), 1)
    })))

  it.effect("time zones, including daylight-saving changes", () =>
    withStore(Effect.gen(function*() {
      const berlin = Guardrails.changeWindow({ allow: { from: "09:00", to: "17:00" }, timeZone: "Europe/Berlin" })
      assert.strictEqual(yield* tagAt(berlin, "2026-11-23T07:59:59.999Z"), "Deny") // 08:59:59.999 CET
      assert.strictEqual(yield* tagAt(berlin, "2026-11-23T08:00:00.000Z"), "Pass") // 09:00 CET
      assert.strictEqual(yield* tagAt(berlin, "2026-11-23T16:00:00.000Z"), "Deny") // 17:00 CET
      const ny = Guardrails.changeWindow({ allow: { from: "09:00", to: "17:00" }, timeZone: "America/New_York" })
      assert.strictEqual(yield* tagAt(ny, "2026-03-06T14:00:00.000Z"), "Pass") // 09:00 EST
      assert.strictEqual(yield* tagAt(ny, "2026-03-06T13:59:59.999Z"), "Deny")
      assert.strictEqual(yield* tagAt(ny, "2026-03-09T13:00:00.000Z"), "Pass") // 09:00 EDT
      assert.strictEqual(yield* tagAt(ny, "2026-03-09T12:59:59.999Z"), "Deny")
    })))

  it.effect("a window past midnight belongs to the day it starts", () =>
    withStore(Effect.gen(function*() {
      const friNight = Guardrails.changeWindow({ allow: { days: ["fri"], from: "22:00", to: "02:00" } })
      assert.strictEqual(yield* tagAt(friNight, "2026-11-27T21:59:59.999Z"), "Deny")
      assert.strictEqual(yield* tagAt(friNight, "2026-11-27T22:00:00.000Z"), "Pass")
      assert.strictEqual(yield* tagAt(friNight, "2026-11-28T01:59:59.999Z"), "Pass") // Saturday morning, Friday's window
      assert.strictEqual(yield* tagAt(friNight, "2026-11-28T02:00:00.000Z"), "Deny")
      assert.strictEqual(yield* tagAt(friNight, "2026-11-28T23:00:00.000Z"), "Deny") // Saturday night
      assert.strictEqual(yield* tagAt(friNight, "2026-11-27T01:00:00.000Z"), "Deny") // Friday morning = Thursday's window
      const untilMidnight = Guardrails.changeWindow({ allow: { from: "20:00", to: "24:00" } })
      assert.strictEqual(yield* tagAt(untilMidnight, "2026-11-27T23:59:59.999Z"), "Pass")
      assert.strictEqual(yield* tagAt(untilMidnight, "2026-11-28T00:00:00.000Z"), "Deny")
    })))

  it.effect("cron windows match every minute the expression matches", () =>
    withStore(Effect.gen(function*() {
      const g = Guardrails.changeWindow({ allow: "* 9-16 * * 1-5" })
      assert.strictEqual(yield* tagAt(g, "2026-11-23T08:59:59.999Z"), "Deny")
      assert.strictEqual(yield* tagAt(g, "2026-11-23T09:00:00.000Z"), "Pass")
      assert.strictEqual(yield* tagAt(g, "2026-11-23T09:00:30.500Z"), "Pass")
      assert.strictEqual(yield* tagAt(g, "2026-11-23T16:59:59.999Z"), "Pass")
      assert.strictEqual(yield* tagAt(g, "2026-11-23T17:00:00.000Z"), "Deny")
      assert.strictEqual(yield* tagAt(g, "2026-11-28T12:00:00.000Z"), "Deny")
      const tokyo = Guardrails.changeWindow({ allow: "* 2-3 * * *", timeZone: "Asia/Tokyo" })
      assert.strictEqual(yield* tagAt(tokyo, "2026-11-23T17:00:00.000Z"), "Pass") // 02:00 JST
      assert.strictEqual(yield* tagAt(tokyo, "2026-11-23T16:59:59.999Z"), "Deny")
      assert.strictEqual(yield* tagAt(tokyo, "2026-11-23T19:00:00.000Z"), "Deny") // 04:00 JST
    })))

  it.effect("freeze windows deny, and win over allowed windows", () =>
    withStore(Effect.gen(function*() {
      const g = Guardrails.changeWindow({
        allow: { from: "00:00", to: "24:00" },
        deny: [{ start: "2026-12-20T00:00:00Z", end: "2027-01-04T00:00:00Z" }],
        name: "year_end_freeze"
      })
      assert.strictEqual(yield* tagAt(g, "2026-12-19T23:59:59.999Z"), "Pass")
      assert.strictEqual(yield* tagAt(g, "2026-12-20T00:00:00.000Z"), "Deny")
      yield* at("2027-01-03T23:59:59.999Z")
      const r = yield* check(g)
      assert.include(reasonOf(r), "year_end_freeze: 2027-01-03T23:59:59.999Z is inside the freeze window 2026-12-20T00:00:00.000Z – 2027-01-04T00:00:00.000Z")
      assert.strictEqual(retryAfterOf(r), 1)
      yield* at("2026-12-21T00:00:00.000Z")
      assert.strictEqual(retryAfterOf(yield* check(g)), Date.parse("2027-01-04T00:00:00.000Z") - Date.parse("2026-12-21T00:00:00.000Z"))
      assert.strictEqual(yield* tagAt(g, "2027-01-04T00:00:00.000Z"), "Pass")
      const noDeploysFridayAfternoon = Guardrails.changeWindow({ deny: { days: ["fri"], from: "12:00", to: "24:00" } })
      assert.strictEqual(yield* tagAt(noDeploysFridayAfternoon, "2026-11-27T11:59:59.999Z"), "Pass")
      assert.strictEqual(yield* tagAt(noDeploysFridayAfternoon, "2026-11-27T12:00:00.000Z"), "Deny")
      yield* at("2026-11-27T13:00:00.000Z")
      assert.strictEqual((yield* acquire(noDeploysFridayAfternoon)).result._tag, "Deny")
    })))

  it.effect("a Deny carries retryAfterMs: the next instant at which acting is allowed", () =>
    withStore(Effect.gen(function*() {
      const retryAt = (g: Guardrail.Guardrail<never>, iso: string) =>
        Effect.gen(function*() {
          yield* at(iso)
          const r = yield* check(g)
          const after = retryAfterOf(r)
          return after === undefined ? undefined : new Date(Date.parse(iso) + after).toISOString()
        })
      const cron = Guardrails.changeWindow({ allow: "* 9-16 * * 1-5" })
      assert.strictEqual(yield* retryAt(cron, "2026-11-27T17:00:00.000Z"), "2026-11-30T09:00:00.000Z") // Friday evening → Monday
      assert.strictEqual(yield* retryAt(cron, "2026-11-23T08:59:59.999Z"), "2026-11-23T09:00:00.000Z")
      const friNight = Guardrails.changeWindow({ allow: { days: ["fri"], from: "22:00", to: "02:00" } })
      assert.strictEqual(yield* retryAt(friNight, "2026-11-28T02:00:00.000Z"), "2026-12-04T22:00:00.000Z")
      // a freeze over the allowed window: acting resumes when the freeze ends if a window is open then …
      const frozenMidday = Guardrails.changeWindow({
        allow: { from: "09:00", to: "17:00" },
        deny: { start: "2026-11-23T10:00:00Z", end: "2026-11-23T12:30:00Z" }
      })
      assert.strictEqual(yield* retryAt(frozenMidday, "2026-11-23T10:00:00.000Z"), "2026-11-23T12:30:00.000Z")
      // … or at the next window after it
      const frozenEvening = Guardrails.changeWindow({
        allow: { from: "09:00", to: "17:00" },
        deny: { start: "2026-11-23T10:00:00Z", end: "2026-11-24T18:00:00Z" }
      })
      assert.strictEqual(yield* retryAt(frozenEvening, "2026-11-23T10:00:00.000Z"), "2026-11-25T09:00:00.000Z")
      // a recurring freeze given as cron: the weekend
      const noWeekends = Guardrails.changeWindow({ deny: "* * * * 0,6" })
      assert.strictEqual(yield* retryAt(noWeekends, "2026-11-28T10:00:00.000Z"), "2026-11-30T00:00:00.000Z")
      // across a daylight-saving change: 09:00 New York is 14:00Z before, 13:00Z after 8 March 2026
      const ny = Guardrails.changeWindow({ allow: { from: "09:00", to: "17:00" }, timeZone: "America/New_York" })
      assert.strictEqual(yield* retryAt(ny, "2026-03-07T22:00:00.000Z"), "2026-03-08T13:00:00.000Z")
      assert.strictEqual(yield* retryAt(ny, "2026-03-06T22:00:00.000Z"), "2026-03-07T14:00:00.000Z")
    })))

  it.effect("invalid windows deny every action, naming the problem", () =>
    withStore(Effect.gen(function*() {
      const cases: Array<[Guardrails.ChangeWindowOptions, string]> = [
        [{ allow: "61 * * * *" }, "invalid cron expression"],
        [{ allow: "* * *" }, "invalid cron expression"],
        [{ allow: { from: "9am", to: "17:00" } }, 'daily window needs "HH:MM" times'],
        [{ allow: { from: "09:00", to: "24:01" } }, 'daily window needs "HH:MM" times'],
        [{ allow: { days: ["funday" as Guardrails.Weekday], from: "09:00", to: "17:00" } }, "unknown weekday"],
        [{ allow: [] }, "allow is empty"],
        [{ deny: { start: "2026-12-20", end: "2026-12-01" } }, "ends before it starts"],
        [{ deny: { start: "soon", end: "2026-12-01" } }, "invalid date range"],
        [{ allow: "* * * * *", timeZone: "Mars/Olympus" }, "unknown time zone"]
      ]
      const never = yield* check(Guardrails.changeWindow({ allow: "* * 30 2 *" })) // February 30th
      assert.include(reasonOf(never), "no allowed time in the next 15 days")
      assert.strictEqual(retryAfterOf(never), undefined)
      for (const [options, message] of cases) {
        const r = yield* check(Guardrails.changeWindow(options))
        assert.strictEqual(r._tag, "Deny")
        assert.include(reasonOf(r), message)
      }
    })))
})
