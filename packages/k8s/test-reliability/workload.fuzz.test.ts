/**
 * Fuzzing rollouts and nodes from recorded fixtures (issue 17 §1): see families.ts and scripts/fuzz-harness.ts.
 * Every mutated case ends as a typed decode error, or a Classification with a plan only when
 * Classified; no defect, no case over the budget. The seed is printed; BYTEPORT_FUZZ_SEED replays.
 */
import { describe, expect, it } from "@effect/vitest"
import { fuzzFiles } from "../../../scripts/fuzz-harness"
import { families } from "./families"

describe("fuzz: rollouts and nodes", () => {
  for (const id of ["k8s.deploy.failed-rollout", "k8s.node.pressure-drain"]) {
    it(`${id}: every mutation of its fixtures ends typed, classified or escalated`, { timeout: 600_000 }, () => {
      const tally = fuzzFiles(families[id]!)
      expect(tally.decoded).toBeGreaterThan(0)
    })
  }
})
