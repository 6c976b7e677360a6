/**
 * @byteport/cloud — delivery and cloud for BytePort: the GitHub Actions deploy-failure runbook
 * (`deploy.github-actions`) and its parts. Fakes of the APIs live in `@byteport/cloud/testing`.
 *
 * @since 0.1.0
 */

/** The GitHub REST client service (fetch, ETag cache, typed errors). */
export * as GitHub from "./github/GitHub"
/** The start-up check of the GitHub token's permissions. */
export * as Permissions from "./github/Permissions"
/** Failed deploy-workflow runs by conditional polling; the run-id claim (dedup). */
export * as WorkflowRuns from "./detectors/WorkflowRuns"
/** Failed deploy-workflow runs by `workflow_run` webhook (signed, deduplicated). */
export * as WorkflowRunWebhook from "./detectors/WorkflowRunWebhook"
/** The facts of a failed run: run, jobs, failed log tail, previous success. */
export * as WorkflowRunDiagnoser from "./diagnosers/WorkflowRunDiagnoser"
/** The classifier: test_failure, build_failure, deploy_step_failure, infra_timeout. */
export * as WorkflowFailure from "./classifiers/WorkflowFailure"
/** The `github.dispatchWorkflow` action handler. */
export * as DispatchWorkflow from "./actions/DispatchWorkflow"
/** The rollback plan. */
export * as WorkflowRollback from "./remediators/WorkflowRollback"
/** The rollback run's verifier. */
export * as RollbackRunSucceeded from "./verifiers/RollbackRunSucceeded"
/** The `deploy.github-actions` runbook. */
export * as GitHubActions from "./runbooks/deploy.github-actions"
/** The default catalog of the package's runbooks. */
export * as CloudCatalog from "./catalog"
/** Deploy webhooks of GitHub, Argo CD, Flux and Spinnaker, decoded from their wire shapes. */
export * as DeployEvents from "./webhook/Events"
/** The one deploy-webhook receiver (authenticity, dedup, journal): a `Catalog.run` source. */
export * as DeployWebhooks from "./webhook/Receiver"
/** The per-target deploy history in the GuardrailStore (revisions seen healthy, the soak). */
export * as DeployJournal from "./webhook/DeployJournal"
/** Re-derives a reported failure from its source (GitHub, Argo CD, Flux, Spinnaker). */
export * as DeploySources from "./webhook/Sources"
/** A Spinnaker Gate client (executions, pipeline triggers). */
export * as SpinnakerGate from "./webhook/SpinnakerGate"
/** The `spinnaker.triggerPipeline` and `deploy.notifyAuthor` action kinds. */
export * as DeployActions from "./webhook/Actions"
/** The decision parts of `deploy.webhook.rollback`: facts, classifier, target, plan, gates, verifier. */
export * as WebhookRollback from "./webhook/Decision"
/** The `deploy.webhook.rollback` runbook. */
export * as DeployWebhookRollback from "./runbooks/deploy.webhook.rollback"
