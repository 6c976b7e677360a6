/**
 * The classifier of `host.disk.cleanup`: the seed describes one situation, so there is a single
 * class.
 *
 * | class | rule | confidence |
 * |---|---|---|
 * | disk_over_floor | the mount is at or over the floor (df's Use% ≥ floor, default 80) or has ≤ 5 % inodes free | 0.90 |
 *
 * The seed gives no confidence: this is the runbook's (≥ 0.70, RUNBOOKS.md). A mount already
 * under the floor when diagnosed matches nothing: the incident escalates as unclassified (info).
 * Whether anything is safe to clean is the remediator's question (nothing → escalation).
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import * as DiskFloor from "../DiskFloor"
import type { DiskFacts } from "../diagnosers/DiskDiagnoser"

/** The single class. */
export const CLASS = "disk_over_floor"

/** Its confidence (the seed gives none). */
export const CONFIDENCE = 0.9

/** The rules. */
export const rules = (floorPercent: number = DiskFloor.DEFAULT_FLOOR_PERCENT): ReadonlyArray<Classifier.Rule<DiskFacts>> => [
  Classifier.rule<DiskFacts>()({
    class: CLASS,
    confidence: CONFIDENCE,
    needs: ["usage"],
    when: ({ usage }) => ({
      matched: !DiskFloor.below(usage, floorPercent),
      reasons: [`${usage.path}: ${usage.usedPercent}% used (floor ${floorPercent}%), ${usage.freeInodes}/${usage.totalInodes} inodes free`],
      evidence: { usedPercent: usage.usedPercent, floorPercent, freeInodes: usage.freeInodes, totalInodes: usage.totalInodes }
    })
  })
]

/** The classifier: first match, minimum confidence 0.70. */
export const classifier = (floorPercent?: number): Classifier.Classifier<DiskFacts> =>
  Classifier.firstMatch(rules(floorPercent), { minConfidence: 0.7 })
