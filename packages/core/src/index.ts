/**
 * @byteport/core — the incident model, plans as data, the executor with permits, guardrails
 * and their stores, the incident journal, modes, approval, audit, escalation and reports.
 *
 * @since 0.1.0
 */

/** JSON values, canonical encoding and digests. */
export * as Json from "./Json"
/** What an incident is about: `{ kind, ref }`. */
export * as TargetRef from "./TargetRef"
/** What a Detector emits. */
export * as Signal from "./Signal"
/** Known / Unknown facts. */
export * as Fact from "./Fact"
/** Classified / Unclassified / Indeterminate. */
export * as Classification from "./Classification"
/** Actions as data. */
export * as Action from "./Action"
/** Plans as trees of steps. */
export * as Plan from "./Plan"
/** Changes proposed to humans, never applied. */
export * as ChangeProposal from "./ChangeProposal"
/** Guardrail decisions. */
export * as Decision from "./Decision"
/** Step outcomes. */
export * as Outcome from "./Outcome"
/** Verification verdicts. */
export * as Verdict from "./Verdict"
/** The escalation bundle. */
export * as Escalation from "./Escalation"
/** The incident report. */
export * as IncidentReport from "./IncidentReport"
/** Permits: leave to act, minted only by the executor. */
export { Permit, PermitRefused } from "./Permit"

/** Detectors: streams of signals. */
export * as Detector from "./Detector"
/** Diagnosers: concurrent probes with timeouts. */
export * as Diagnoser from "./Diagnoser"
/** Classifiers: pure, first match in declaration order. */
export * as Classifier from "./Classifier"
/** Verifiers and verification schedules. */
export * as Verifier from "./Verifier"
/** Action handlers, by kind. */
export * as ActionHandler from "./ActionHandler"
/** Registered checks, by kind. */
export * as Check from "./Check"
/** The registry of handlers and checks. */
export * as ActionRegistry from "./ActionRegistry"
/** Guardrails: interface and vocabulary. */
export * as Guardrail from "./GuardrailApi"
/** Backoff delays and schedules ("30s × 2^N, cap 300s"). */
export * as Backoff from "./Backoff"
/** The rules every GuardrailStore applies: validation, windows, leases (hierarchical), journal, JSON and redaction of writes. */
export * as StoreRules from "./StoreRules"
/** The store guardrails and incidents share. */
export * as GuardrailStore from "./GuardrailStore"
/** The in-memory store. */
export * as MemoryStore from "./stores/MemoryStore"
/** The embedded default store: a local directory, safe for several processes on one host. */
export * as FileStore from "./stores/FileStore"
/** The plan interpreter. */
export * as Executor from "./Executor"
/** Hand-offs between runbooks. */
export * as IncidentBus from "./IncidentBus"
/** Hand-off signal types and their evidence Schemas, shared by domain packages. */
export * as HandOffs from "./HandOffs"
/** Where plans, escalations, tickets and reports go. */
export * as Notifier from "./Notifier"
/** Runbooks: make, handle, resume, run. */
export * as Runbook from "./Runbook"
/** The agent identity that holds per-target leases (`BYTEPORT_AGENT_ID`). */
export * as AgentId from "./AgentId"
/** Production wiring from configuration: `Agent.layer`, `Agent.run`. */
export * as Agent from "./Agent"
/** Which runbook handles a target. */
export * as Catalog from "./Catalog"
/** Approval of paused incidents: the HTTP and CLI channels, `approve`, `awaitDecision`. */
export * as Approval from "./Approval"
/** Redaction of secrets from everything that leaves the process. */
export * as Redactor from "./Redactor"
/** Reports as JSON and Markdown postmortems, escalations as Markdown. */
export * as Report from "./Report"
/** The append-only audit log (JSONL by default; record never fails the caller). */
export * as Audit from "./Audit"
/** Sinks: Sink, SinkError, the OpsChannel / Pager / TicketSink roles, messages, and the console, file, webhook, Slack, PagerDuty and ticket sinks, plus SinkConfig. */
export * from "./sinks/index"
/** Validated configuration keys: positive timeouts and caps, ports, case-insensitive modes. */
export * as Settings from "./Settings"
/** Runbook modes from a file operators edit at run time (`Modes.fromFile`, JSON or YAML, re-read on change). */
export * as Modes from "./Modes"
/** Timed undos: changes with a TTL undone by BytePort when due, journaled, across restarts. */
export * as TimedUndo from "./TimedUndo"
/** Live annotations: the AnnotationSource read by `Guardrail.requireAnnotation` at acquire (never cached, audited), and the configuration source. */
export * as Annotations from "./annotations/Annotations"

/** OpenTelemetry: incident spans, metrics and redacted logs over OTLP/HTTP through Effect's exporters. */
export * as Telemetry from "./Telemetry"
/** Leadership (leader election) as the executor sees it: only the leader starts steps, its acquires carry its epoch. */
export * as Leadership from "./Leadership"
