/**
 * The `ApprovalChannel` service: how a human approves a paused incident through one channel
 * (HTTP callback, CLI …). When a channel is provided, `Runbook.handle` adds its instructions to
 * the approval request it posts.
 *
 * @since 0.1.0
 */
import { Context } from "effect"

/** What a channel needs to know about a paused incident to say how to approve it. */
export interface PausedIncident {
  readonly incidentId: string
  readonly runbook: string
  readonly planDigest: string
  readonly expiresAt: number
}

/** An approval channel. */
export class ApprovalChannel extends Context.Service<
  ApprovalChannel,
  {
    /** "http", "cli" … */
    readonly name: string
    /** The instruction to show next to an approval request (the command to run or the request to send). */
    readonly instructions: (paused: PausedIncident) => string
  }
>()("@byteport/core/ApprovalChannel") {}
