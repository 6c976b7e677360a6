/**
 * @byteport/cloud — delivery and cloud for BytePort: the `deploy` family (`deploy.webhook.rollback`,
 * `deploy.github-actions`, `deploy.render.rollback`, `deploy.sentry.classify`), the GitOps freeze and
 * rollback actions, the cloud hand-off runbooks (EC2 node replacement, EBS / Compute Engine volume
 * growth, Render restarts) and their parts. Fakes of the APIs live in `@byteport/cloud/testing`.
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
/** EC2 and Auto Scaling through the official clients (typed errors, narrowed reads). */
export * as Ec2 from "./aws/Ec2"
/** Compute Engine zonal disks and zone operations over fetch. */
export * as GcpCompute from "./gcp/GcpCompute"
/** The `cloud.ec2.replaceNode` action kind: terminate in the Auto Scaling group, capacity kept. */
export * as ReplaceEc2Node from "./actions/ReplaceEc2Node"
/** The `cloud.ebs.modifyVolume` action kind: grow an EBS volume, 6 h apart, never shrinks. */
export * as ModifyEbsVolume from "./actions/ModifyEbsVolume"
/** The `cloud.gcp.resizeDisk` action kind: grow a Compute Engine disk, operation DONE. */
export * as ResizeGcpDisk from "./actions/ResizeGcpDisk"
/** The `cloud.handoff.node-replacement` runbook: owner of *node replacement requested* on EC2. */
export * as NodeReplacement from "./runbooks/cloud.handoff.node-replacement"
/** The `cloud.handoff.volume-grow` runbook: owner of *volume grow requested* for EBS and Compute Engine. */
export * as VolumeGrow from "./runbooks/cloud.handoff.volume-grow"
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
/** The Render REST API v1 client service and the health probe. */
export * as Render from "./render/Render"
/** Suspect Render deploys by polling (health streak, crash events, error-rate window). */
export * as RenderDeploys from "./detectors/RenderDeploys"
/** The facts of a suspect Render deploy. */
export * as RenderDeployDiagnoser from "./diagnosers/RenderDeployDiagnoser"
/** The classifier: error_rate_spike, health_check_failing, crash_loop. */
export * as RenderBadDeploy from "./classifiers/RenderBadDeploy"
/** The Render action kinds: render.setAutoDeploy, render.rollback, render.deployCommit, cloud.render.restart. */
export * as RenderActions from "./actions/RenderActions"
/** The Render rollback plan. */
export * as RenderRollback from "./remediators/RenderRollback"
/** The Render rollback's verifier. */
export * as RenderRecovered from "./verifiers/RenderRecovered"
/** The `deploy.render.rollback` runbook. */
export * as RenderRollbackRunbook from "./runbooks/deploy.render.rollback"
/** The `cloud.handoff.render-restart` runbook. */
export * as RenderRestart from "./runbooks/cloud.handoff.render-restart"
/** The Sentry web API client service. */
export * as Sentry from "./sentry/Sentry"
/** New Sentry issues by polling and by signed integration webhooks. */
export * as SentryIssues from "./detectors/SentryIssues"
/** The facts of a Sentry issue: issue, latest event, deploy of its first release. */
export * as SentryIssueDiagnoser from "./diagnosers/SentryIssueDiagnoser"
/** The classifier: db_connection, oom, deploy_correlation, upstream_5xx, unknown. */
export * as SentryErrorClass from "./classifiers/SentryErrorClass"
/** The Sentry plan: hand-offs (deployment regression, OOM observed) or escalation. */
export * as SentryHandOff from "./remediators/SentryHandOff"
/** The `deploy.sentry.classify` runbook. */
export * as SentryClassify from "./runbooks/deploy.sentry.classify"
/** cloud.render.scaleUp (Render "update service" plan, capped, opt-in) and its undo cloud.render.restorePlan. */
export * as RenderScaleUp from "./actions/RenderScaleUp"
/** cloud.handoff.render-regression: deployment regression of a Render service → roll back to the last green deploy. */
export * as RenderRegression from "./runbooks/cloud.handoff.render-regression"
/** cloud.handoff.render-oom: OOM observed on a Render service → one instance type up. */
export * as RenderOom from "./runbooks/cloud.handoff.render-oom"
