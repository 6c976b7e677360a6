/**
 * Internal: the sequence the file-watching reloaders (envoy file SDS, traefik file provider)
 * share — the pre-check of the new pair, the dry-run writability check, the backup (verified),
 * the writes, the read-back and, when a write or the read-back fails, the restore — and their
 * common restore action. Not exported from the package index.
 *
 * @since 0.1.0
 * @internal
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Action, ActionHandler, type Json, type TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import * as Backup from "../backup/Backup"
import * as Certificate from "../Certificate"

/** The first 16 hex digits of a SHA-256 fingerprint, lower case (file names, versions, details). */
export const fp16 = (f: string): string => f.replace(/:/g, "").slice(0, 16).toLowerCase()

/** The files among `files` whose directory is not writable (dry_run). */
export const notWritable = (files: ReadonlyArray<string>): ReadonlyArray<string> =>
  files.filter((f) => {
    try {
      fs.accessSync(path.dirname(f), fs.constants.W_OK)
      return false
    } catch {
      return true
    }
  })

/** The owner of `p` (empty when it cannot be read). */
export const ownerOf = (p: string): { readonly uid?: number; readonly gid?: number } => {
  try {
    const st = fs.statSync(p)
    return { uid: st.uid, gid: st.gid }
  } catch {
    return {}
  }
}

/**
 * Steps 2–5: back up `backupFiles` (verified), run `prepare` (writes nothing the server reads
 * now: a failure fails without restoring), then `swap` (what the server watches) and `check`
 * (the read-back); a failed read-back (and a failed swap, unless `restoreOnSwapFailure` is
 * false: a swap that is one rename leaves the old file in place) restores the backup and fails
 * naming it.
 */
export const install = <E extends { readonly message: string }>(o: {
  readonly kind: string
  readonly domain: string
  readonly backupRoot?: string | undefined
  readonly action: string
  readonly backupFiles: ReadonlyArray<string>
  readonly notes: Readonly<Record<string, string>>
  readonly prepare?: Effect.Effect<void, E>
  readonly swap: Effect.Effect<void, E>
  readonly check: Effect.Effect<void, string>
  /** Restore when `swap` itself fails (default true). */
  readonly restoreOnSwapFailure?: boolean
  /** How the restore is described in the failure (default `restored from <dir>`). */
  readonly restored?: (backupDir: string) => string
  /** The restore after a failed swap or read-back (default `Backup.restore` of the backup). */
  readonly restore?: (backupDir: string) => Effect.Effect<unknown, unknown>
}): Effect.Effect<{ readonly backupDir: string }, ActionHandler.ActionFailed> =>
  Effect.gen(function*() {
    const failed = (message: string) => new ActionHandler.ActionFailed({ kind: o.kind, message })
    const backup = yield* Backup.create({
      domain: o.domain,
      files: [...o.backupFiles],
      ...(o.backupRoot !== undefined ? { root: o.backupRoot } : {}),
      action: o.action,
      notes: o.notes
    }).pipe(Effect.mapError((e) => failed(e.message)))
    yield* Backup.verify(backup.dir).pipe(Effect.mapError((e) => failed(e.message)))
    if (o.prepare !== undefined) yield* o.prepare.pipe(Effect.mapError((e) => failed(e.message)))
    const swapped = yield* Effect.result(o.swap)
    if (swapped._tag === "Failure" && o.restoreOnSwapFailure === false) return yield* failed(swapped.failure.message)
    const problem = swapped._tag === "Failure" ? swapped.failure.message : yield* Effect.flip(o.check).pipe(Effect.orElseSucceed(() => undefined))
    if (problem !== undefined) {
      const restored = yield* Effect.result((o.restore ?? Backup.restore)(backup.dir))
      return yield* failed(`${problem}; ${restored._tag === "Success" ? (o.restored?.(backup.dir) ?? `restored from ${backup.dir}`) : `restoring ${backup.dir} FAILED`}`)
    }
    return { backupDir: backup.dir }
  })

/** Params of a restore kind: the install's backup, found by its idempotency key. */
export const RestoreFields = {
  domain: Schema.String,
  /** The idempotency key of the install whose backup is restored. */
  backupOf: Schema.String,
  backupRoot: Schema.optionalKey(Schema.String)
}

/** The install's backup (by its idempotency key). */
export const backupOf = (p: { readonly domain: string; readonly backupOf: string; readonly backupRoot?: string | undefined }) =>
  Backup.findByAction({ domain: p.domain, action: p.backupOf, ...(p.backupRoot !== undefined ? { root: p.backupRoot } : {}) })

/**
 * The restore kind's apply: the backup found and verified; dry_run says what it would do;
 * `restore` (default `Backup.restore`) puts it back and `detail` describes the result.
 */
export const restoreApply = <P extends { readonly domain: string; readonly backupOf: string; readonly backupRoot?: string | undefined }>(o: {
  readonly kind: string
  readonly wouldDo: (backup: Backup.Backup, p: P) => string
  readonly did: (backup: Backup.Backup, p: P) => string
  readonly restore?: (backup: Backup.Backup, p: P) => Effect.Effect<void, { readonly message: string }>
}) =>
(p: P, ctx: ActionHandler.ApplyContext): Effect.Effect<ActionHandler.HandlerResult, ActionHandler.ActionFailed> =>
  Effect.gen(function*() {
    const failed = (message: string) => new ActionHandler.ActionFailed({ kind: o.kind, message })
    const b = backupOf(p)
    if (b === undefined) return yield* failed(`no backup of ${p.domain} made by ${p.backupOf}`)
    yield* Backup.verify(b.dir).pipe(Effect.mapError((e) => failed(e.message)))
    if (ctx.dryRun) return { detail: o.wouldDo(b, p), result: { backupDir: b.dir } }
    yield* (o.restore !== undefined ? o.restore(b, p) : Backup.restore(b.dir)).pipe(Effect.mapError((e) => failed(e.message)))
    return { detail: o.did(b, p), result: { backupDir: b.dir } }
  })

/** The install kind's observe: the staged leaf's fingerprint read back by `check` → Applied, else NotApplied. */
export const observeInstall = <A>(
  sourceCert: string,
  check: (fingerprint: string) => Effect.Effect<A, string>,
  applied: (a: A, fp: string) => string
): Effect.Effect<ActionHandler.Observation> =>
  Effect.gen(function*() {
    const leaf = Certificate.parsePemBundle(fs.readFileSync(sourceCert, "utf8"))[0]
    if (leaf === undefined) return ActionHandler.unknown(`${sourceCert} holds no certificate`)
    const r = yield* Effect.result(check(leaf.fingerprint256))
    return r._tag === "Success" ? ActionHandler.applied(applied(r.success, fp16(leaf.fingerprint256))) : ActionHandler.notApplied(r.failure)
  })

/** Params every install kind shares: the domain (backup directory name), the staged pair, the SNI name, roots, backup root. */
export const InstallFields = {
  /** The certificate's domain (backup directory name). */
  domain: Schema.String,
  /** The staged new certificate: full chain (leaf first) and key. */
  source: Schema.Struct({ cert: Schema.String, key: Schema.String }),
  /** The SNI name the new chain must be valid for. */
  servername: Schema.String,
  caFiles: Schema.optionalKey(Schema.Array(Schema.String)),
  backupRoot: Schema.optionalKey(Schema.String)
}

/** What an install action builder takes besides the server's own fields. */
export interface ActionInput {
  readonly domain: string
  readonly source: { readonly cert: string; readonly key: string }
  readonly servername: string
  readonly caFiles?: ReadonlyArray<string>
  readonly backupRoot?: string
  readonly ref?: TargetRef.TargetRef
}

/** Pure: an install action (`fields`: the server's own params) with its restore (`restoreFields`, plus domain / backupOf / backupRoot) as `undo`. */
export const action = (o: ActionInput & {
  readonly kind: string
  readonly restoreKind: string
  readonly ref: TargetRef.TargetRef
  readonly fields: Json.JsonObject
  readonly restoreFields: Json.JsonObject
  readonly description: string
  readonly undoDescription: string
}): Action.Action => {
  const backupRoot = o.backupRoot !== undefined ? { backupRoot: o.backupRoot } : {}
  const base = {
    kind: o.kind,
    target: o.ref,
    params: {
      ...o.fields,
      domain: o.domain,
      source: { ...o.source },
      servername: o.servername,
      ...(o.caFiles !== undefined ? { caFiles: [...o.caFiles] } : {}),
      ...backupRoot
    } as Json.JsonObject,
    timeoutMs: 30_000,
    description: o.description
  }
  const key = Action.make(base).idempotencyKey
  const undo = Action.make({
    kind: o.restoreKind,
    target: o.ref,
    params: { ...o.restoreFields, domain: o.domain, backupOf: key, ...backupRoot } as Json.JsonObject,
    timeoutMs: 30_000,
    description: o.undoDescription
  })
  return Action.make({ ...base, idempotencyKey: key, undo })
}
