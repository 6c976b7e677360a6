/**
 * A Runbook composes the roles — Detector, Diagnoser, Classifier, Remediator, Verifier — with
 * runbook-level guardrails and escalation rules. `Runbook.handle` runs one incident and always
 * ends in an IncidentReport (any failure becomes an escalation inside it) or AwaitingApproval;
 * `Runbook.resume` continues a paused or interrupted incident from its journal; `Runbook.run`
 * consumes the detector stream with per-target leases, de-duplication, bounded concurrency and
 * clean interruption.
 *
 * @since 0.1.0
 */
export * from "./runbook/Definition"
/** Runs one incident to its report (or AwaitingApproval). */
export { handle } from "./runbook/Handle"
/** Resume, approval waits and follow-ups of journaled incidents. */
export { awaitApproval, type AwaitApprovalOptions, follow, resume } from "./runbook/Resume"
/** Consumes the detector stream: leases, de-duplication, bounded concurrency. */
export { run, type RunOptions } from "./runbook/Run"
