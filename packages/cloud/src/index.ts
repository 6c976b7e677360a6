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
/** GitOps resources (Argo CD, Flux): groups, kinds, the freeze annotation, history and revision readers. */
export * as GitOpsResources from "./gitops/Resources"
/** The Argo CD REST client service (applications, patch, rollback, version). */
export * as ArgoCd from "./gitops/ArgoCd"
/** The Kubernetes calls the Flux actions make (get, merge patch with dryRun=All). */
export * as FluxKube from "./gitops/FluxKube"
/** Whether a Git revision contains a commit (by sha or by the `Byteport-Incident` trailer). */
export * as GitRevisions from "./gitops/Revisions"
/** `cloud.argocd.freeze`: automated.enabled=false (older: remove `automated`), annotated byteport.io/frozen-by. */
export * as ArgoCdFreeze from "./actions/ArgoCdFreeze"
/** `cloud.argocd.rollback`: roll an Application back to a history id. */
export * as ArgoCdRollback from "./actions/ArgoCdRollback"
/** `cloud.flux.suspend`: spec.suspend=true on a Kustomization or HelmRelease. */
export * as FluxSuspend from "./actions/FluxSuspend"
/** `GitWriter` (`cloud.git.revert`): the good revision back in Git, as a pull request or (configured) straight to the tracked branch. */
export * as GitWriter from "./actions/GitWriter"
/** `cloud.unfreeze`: resume the reconciler only once its tracked revision contains the revert. */
export * as Unfreeze from "./actions/Unfreeze"
/** The GitOps action handlers and their registry layer. */
export * as GitOpsHandlers from "./gitops/Handlers"
