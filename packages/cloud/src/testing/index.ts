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
/** A loopback EC2 + Auto Scaling Query API for @aws-sdk/client-ec2 and client-auto-scaling (DryRun, transitions by time). */
export * as AwsComputeFake from "./AwsComputeFake"
/** A loopback Compute Engine v1 disks + zone operations API. */
export * as GcpComputeFake from "./GcpComputeFake"
/** A GitOps reconciler model for kube-sim: Argo CD Applications/ApplicationSets, Flux GitRepositories/Kustomizations/HelmReleases. */
export * as GitOpsModel from "./GitOpsModel"
/** A loopback Argo CD API (applications, patch, spec, rollback to a history id, sync) over the GitOps model. */
export * as ArgoCdFake from "./ArgoCdFake"
/** A loopback Render REST API v1 and an app whose health follows the live commit. */
export * as RenderFake from "./RenderFake"
/** A loopback Sentry web API (issues, events, releases, deploys) and signed integration webhooks. */
export * as SentryFake from "./SentryFake"
