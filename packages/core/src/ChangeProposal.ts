/**
 * A change proposed to humans (a pull-request text or patch) that BytePort never applies itself.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TargetRef } from "./TargetRef"

/** A proposed file change inside a ChangeProposal. */
export const FileChange = Schema.Struct({
  path: Schema.String,
  description: Schema.String,
  before: Schema.optionalKey(Schema.String),
  after: Schema.optionalKey(Schema.String)
})

/** A ChangeProposal: PR title and body (Markdown), the target, optional file changes or a patch. */
export const ChangeProposal = Schema.Struct({
  title: Schema.String,
  body: Schema.String,
  target: TargetRef,
  files: Schema.optionalKey(Schema.Array(FileChange)),
  patch: Schema.optionalKey(Schema.String)
})

/** A ChangeProposal. */
export type ChangeProposal = typeof ChangeProposal.Type
