/**
 * A custom runbook composed from @byteport/k8s parts: the same OOM detectors, diagnosis and
 * classifier as k8s.oom.six-signal, but a team policy of its own — an undersized limit is not
 * bumped in place; BytePort opens a pull-request proposal with the new limit (p99 × 1.5) for the
 * manifest repo and escalates everything else.
 */
import { type Classification, Detector, Fact, Plan, Runbook, type Signal, Verifier } from "@byteport/core"
import { type Kube, type Metrics, MemoryPressureDetector, OomClassifier, OomKilledDetector, OomSignals, OomSixSignal, Quantity } from "@byteport/k8s"
import { Effect } from "effect"

/** The team's policy: propose a bigger limit for an undersized one, escalate everything else. */
export const proposeOnlyPlan = (
  c: Classification.Classified,
  facts: Fact.Facts<OomClassifier.OomFacts>,
  signal: Signal.Signal
): Plan.Plan => {
  const pod = Fact.value(facts.pod)
  if (c.class !== "undersized_limit" || !pod?.memoryLimitBytes) {
    return Plan.make("acme.oom.propose-only", c.class, "escalate to the owning team", Plan.escalate(`${c.class}: ${c.reasons.join("; ")}`))
  }
  const next = Quantity.formatBytes(Quantity.roundUpToMi(pod.memoryLimitBytes * 1.5))
  return Plan.make(
    "acme.oom.propose-only",
    c.class,
    `propose memory limit ${next} for ${pod.workload?.name ?? pod.pod}`,
    Plan.propose({
      title: `Raise the memory limit of ${pod.workload?.name ?? pod.pod}/${pod.container} to ${next}`,
      body: `The working set plateaus at the limit (${c.reasons.join("; ")}). Set resources.limits.memory to ${next}.`,
      target: signal.target
    })
  )
}

/** The runbook. */
export const proposeOnlyOom = Runbook.make<OomClassifier.OomFacts, Kube.Kube | Metrics.Metrics>({
  id: "acme.oom.propose-only",
  family: "k8s.oom",
  signals: [OomSignals.SignalTypes.oomKilled, OomSignals.SignalTypes.memoryPressure],
  precedence: 5, // ahead of k8s.oom.six-signal when both are enabled
  detector: Detector.merge("acme.oom", [OomKilledDetector.make(), MemoryPressureDetector.make()]),
  diagnose: OomSixSignal.diagnose(),
  classify: OomClassifier.classify({ ...OomClassifier.defaults, minConfidence: 0.8 }),
  remediate: (c, facts, signal) => Effect.sync(() => proposeOnlyPlan(c, facts, signal)),
  verify: Verifier.fromChecks(() => Effect.succeed([])),
  defaultMode: "dry_run"
})
