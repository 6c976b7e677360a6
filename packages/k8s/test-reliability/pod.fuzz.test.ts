/**
 * Fuzzing the pod crash-loop runbooks from recorded fixtures (issue 17 §1): see families.ts and scripts/fuzz-harness.ts.
 * Every mutated case ends as a typed decode error, or a Classification with a plan only when
 * Classified; no defect, no case over the budget. The seed is printed; BYTEPORT_FUZZ_SEED replays.
 */
import { describe, expect, it } from "@effect/vitest"
import { fuzzFiles } from "../../../scripts/fuzz-harness"
import { families } from "./families"

describe("fuzz: the pod crash-loop runbooks", () => {
  for (const id of ["k8s.crashloop.exit-code", "k8s.oom.exit-137", "k8s.crashloop.five-branch"]) {
    it(`${id}: every mutation of its fixtures ends typed, classified or escalated`, { timeout: 600_000 }, () => {
      const tally = fuzzFiles(families[id]!)
      expect(tally.decoded).toBeGreaterThan(0)
    })
  }
})
