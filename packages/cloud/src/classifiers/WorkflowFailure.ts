/**
 * `WorkflowFailure`: the `deploy.github-actions` classifier, in the seed's order —
 * test_failure, build_failure, deploy_step_failure, infra_timeout; nothing matched → escalate.
 *
 * The three step classes need a step concluded `failure` (in the first failed job) whose name
 * matches the class's step-name pattern, or, failing that, the failed job's log tail matching the
 * class's log pattern. infra_timeout: the run concluded `timed_out` or `startup_failure`, a job
 * `timed_out`, a failed job without a runner, or a runner-loss marker in the log. The seed gives
 * no confidences: 0.90, 0.88, 0.86, 0.82 (all ≥ 0.70). Every pattern is configurable.
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import type { WorkflowRunFacts } from "../diagnosers/WorkflowRunDiagnoser"

/** The classes, in the seed's order. */
export const Classes = ["test_failure", "build_failure", "deploy_step_failure", "infra_timeout"] as const
/** A class. */
export type Class = typeof Classes[number]

/** The patterns of the step classes and of runner loss. */
export interface Patterns {
  readonly testStep: RegExp
  readonly testLog: RegExp
  readonly buildStep: RegExp
  readonly buildLog: RegExp
  readonly deployStep: RegExp
  readonly deployLog: RegExp
  readonly runnerLoss: RegExp
}

/** The default patterns (JS, Python, Go, Java, Rust, containers, Kubernetes, Helm, Terraform). */
export const defaultPatterns: Patterns = {
  testStep: /\b(tests?|testing|specs?|jest|vitest|pytest|mocha|rspec|junit|e2e|unit|integration|go test|mvn test|gradle test)\b/i,
  testLog: /(\b\d+ (failing|failed)\b|Tests?:\s+\d+ failed|^FAIL\s|--- FAIL:|FAILED\s+\S+::|AssertionError|Test Suites:.*failed|There were test failures)/im,
  buildStep: /\b(build|compile|install|bundle|package|lint|typecheck|docker build|make|tsc)\b/i,
  buildLog: /(error TS\d+|npm ERR!|BUILD FAILED|[Cc]ompilation failed|error: could not compile|ERROR: failed to solve|Module not found|COMPILATION ERROR|cannot find package)/,
  deployStep: /\b(deploy|deployment|release|rollout|publish|helm|kubectl|terraform|apply|upload|push image)\b/i,
  deployLog: /(deploy(ment)? failed|Error from server|UPGRADE FAILED|timed out waiting for the condition|exceeded its progress deadline|rollout status)/i,
  runnerLoss: /(The runner has received a shutdown signal|lost communication with the server|The hosted runner encountered an error|exceeded the maximum execution time|The self-hosted runner: .* did not connect)/i
}

/** The default confidences (the seed gives none). */
export const defaultConfidences: Readonly<Record<Class, number>> = {
  test_failure: 0.9,
  build_failure: 0.88,
  deploy_step_failure: 0.86,
  infra_timeout: 0.82
}

type Needed = Pick<WorkflowRunFacts, "run" | "jobs" | "failedLog">

/** The first failed step of the first failed job, if any. */
export const failedStep = (f: Pick<WorkflowRunFacts, "jobs">): { readonly job: string; readonly step: string } | undefined => {
  for (const j of f.jobs) {
    const s = j.steps.find((x) => x.conclusion === "failure")
    if (s) return { job: j.name, step: s.name }
  }
  return undefined
}

const stepRule = (cls: Exclude<Class, "infra_timeout">, step: RegExp, log: RegExp) => (f: Needed): Classifier.RuleResult => {
  const failed = failedStep(f)
  if (!failed) return false
  if (step.test(failed.step)) {
    return { matched: true, reasons: [`step "${failed.step}" of job "${failed.job}" concluded failure and matches the ${cls} step pattern`], evidence: { job: failed.job, step: failed.step } }
  }
  const m = log.exec(f.failedLog.tail)
  if (m) {
    return { matched: true, reasons: [`step "${failed.step}" of job "${failed.job}" concluded failure; its log matches the ${cls} log pattern ("${m[0]}")`], evidence: { job: failed.job, step: failed.step, logMatch: m[0] } }
  }
  return false
}

/** The rules, in the seed's order. */
export const rules = (patterns: Partial<Patterns> = {}, confidences: Partial<Record<Class, number>> = {}): ReadonlyArray<Classifier.Rule<WorkflowRunFacts>> => {
  const p = { ...defaultPatterns, ...patterns }
  const c = { ...defaultConfidences, ...confidences }
  const rule = Classifier.rule<WorkflowRunFacts>()
  const needs = ["run", "jobs", "failedLog"] as const
  return [
    rule({ class: "test_failure", confidence: c.test_failure, needs, when: stepRule("test_failure", p.testStep, p.testLog) }),
    rule({ class: "build_failure", confidence: c.build_failure, needs, when: stepRule("build_failure", p.buildStep, p.buildLog) }),
    rule({ class: "deploy_step_failure", confidence: c.deploy_step_failure, needs, when: stepRule("deploy_step_failure", p.deployStep, p.deployLog) }),
    rule({
      class: "infra_timeout",
      confidence: c.infra_timeout,
      needs,
      when: (f) => {
        if (f.run.conclusion === "timed_out" || f.run.conclusion === "startup_failure") {
          return { matched: true, reasons: [`the run concluded ${f.run.conclusion}`], evidence: { conclusion: f.run.conclusion } }
        }
        const timedOut = f.jobs.find((j) => j.conclusion === "timed_out")
        if (timedOut) return { matched: true, reasons: [`job "${timedOut.name}" timed out`], evidence: { job: timedOut.name } }
        const lost = f.jobs.find((j) => j.conclusion === "failure" && j.runnerName === null)
        if (lost) return { matched: true, reasons: [`job "${lost.name}" failed without a runner (runner lost)`], evidence: { job: lost.name } }
        const m = p.runnerLoss.exec(f.failedLog.tail)
        if (m) return { matched: true, reasons: [`runner-loss marker in the log: "${m[0]}"`], evidence: { logMatch: m[0] } }
        return false
      }
    })
  ]
}

/** The classifier (first match in the seed's order, minimum confidence 0.70). */
export const classifier = (options: { readonly patterns?: Partial<Patterns>; readonly confidences?: Partial<Record<Class, number>>; readonly minConfidence?: number } = {}) =>
  Classifier.firstMatch(rules(options.patterns, options.confidences), { minConfidence: options.minConfidence ?? 0.7 })
