/**
 * `@byteport/cloud/testing` — loopback fakes of the delivery and cloud APIs, in their documented
 * wire shapes, for the official clients pointed at them (only the endpoint changes).
 *
 * @since 0.1.0
 */

/** A loopback GitHub REST API for Octokit: runs, jobs, logs, workflow_dispatch, commits, comments, refs, pulls. */
export * as GitHubFake from "./GitHubFake"
/** A loopback Spinnaker Gate: pipelines, executions, `POST /pipelines/{app}/{name}`, echo webhooks. */
export * as SpinnakerFake from "./SpinnakerFake"
/** A GitOps reconciler model for kube-sim: Argo CD Applications/ApplicationSets, Flux GitRepositories/Kustomizations/HelmReleases. */
export * as GitOpsModel from "./GitOpsModel"
/** A loopback Argo CD API (applications, patch, spec, rollback to a history id, sync) over the GitOps model. */
export * as ArgoCdFake from "./ArgoCdFake"
