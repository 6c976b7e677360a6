/**
 * The kube-sim catalogue's pod-family incidents name, for every runbook they list, a class that
 * runbook really has (`incidentClass`: the scenario's `classes` entry, else its `class`). The seed's
 * names are kept in the runbooks — k8s.image-pull's `bad_tag`, seven-class's `bad_image_or_tag`,
 * five-branch's `image_pull_failure` — and the scenarios map to them, so no scenario suggests a
 * class a runbook does not have ("unclassified": that runbook escalates without a class).
 */
import { assert, describe, it } from "@effect/vitest"
import { Scenario } from "../../../kube-sim/src/scenario/index"
import { incidentClass } from "../../../kube-sim/src/scenario/types"
import * as ExitCode from "../../src/classifiers/exitCode"
import * as FiveBranch from "../../src/classifiers/fiveBranch"
import * as ImagePull from "../../src/classifiers/imagePull"
import * as Pending from "../../src/classifiers/pending"
import * as RestartLoop from "../../src/classifiers/restartLoop"
import * as SevenClass from "../../src/classifiers/sevenClass"
import * as OomExit137 from "../../src/runbooks/k8s.oom.exit-137"

const classesOf: Record<string, ReadonlyArray<string>> = {
  "k8s.crashloop.five-branch": FiveBranch.CLASSES,
  "k8s.crashloop.seven-class": SevenClass.CLASSES,
  "k8s.crashloop.exit-code": ExitCode.Classes,
  "k8s.restart-loop.container": RestartLoop.CLASSES,
  "k8s.image-pull": ImagePull.CLASSES,
  "k8s.pending": Pending.CLASSES,
  "k8s.oom.exit-137": OomExit137.Classes
}

const parts = [
  ...Object.entries(Scenario.crashloop).map(([name, f]) => [`crashloop.${name}`, (f as (o?: object) => { incident?: any })()] as const),
  ...Object.entries(Scenario.pending).map(([name, f]) => [`pending.${name}`, (f as (o?: object) => { incident?: any })()] as const)
]

describe("kube-sim catalogue incidents name each runbook's own class", () => {
  it("every pod-family runbook an incident lists has the class the scenario names for it", () => {
    const wrong: Array<string> = []
    for (const [name, part] of parts) {
      const incident = part.incident
      if (!incident) continue
      for (const runbook of incident.runbooks as ReadonlyArray<string>) {
        const known = classesOf[runbook]
        if (!known) continue
        const cls = incidentClass(incident, runbook)
        if (cls !== "unclassified" && !known.includes(cls)) wrong.push(`${name} → ${runbook}: ${cls}`)
      }
    }
    assert.deepStrictEqual(wrong, [])
  })

  it("the bad-tag scenario: k8s.image-pull's bad_tag, seven-class's bad_image_or_tag, five-branch's image_pull_failure", () => {
    const i = Scenario.crashloop.badImageTag().incident!
    assert.strictEqual(incidentClass(i, "k8s.image-pull"), "bad_tag")
    assert.strictEqual(incidentClass(i, "k8s.crashloop.seven-class"), "bad_image_or_tag")
    assert.strictEqual(incidentClass(i, "k8s.crashloop.five-branch"), "image_pull_failure")
    assert.strictEqual(incidentClass(Scenario.crashloop.platformMismatch().incident!, "k8s.image-pull"), "unclassified")
  })
})
