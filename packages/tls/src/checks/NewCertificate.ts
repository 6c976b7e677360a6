/**
 * The checks every install action makes on a staged certificate before anything is written:
 * the key matches the leaf (`Backup.checkKeyMatch`) and the chain verifies for the endpoint's name
 * to the configured roots (`caFiles`, default Node's bundled roots) at the Effect Clock's now.
 * Shared by `tls.<server>.installCertificate` and `tls.kubernetes.installSecret`.
 *
 * Errors name paths, never PEM content.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import type { X509Certificate } from "node:crypto"
import { ActionHandler } from "@byteport/core"
import { Clock, Effect } from "effect"
import * as Backup from "../backup/Backup"
import * as Certificate from "../Certificate"
import * as Chain from "../Chain"

/** Reads a text file for an action of `kind`; a failure names the path and the errno code only. */
export const readText = (p: string, kind: string): Effect.Effect<string, ActionHandler.ActionFailed> =>
  Effect.try({
    try: () => fs.readFileSync(p, "utf8"),
    catch: (e) => new ActionHandler.ActionFailed({ kind, message: `cannot read ${p} (${(e as NodeJS.ErrnoException)?.code ?? "error"})` })
  })

/** What {@link check} needs: the staged files, the roots, the SNI name. */
export interface CheckInput {
  readonly source: { readonly cert: string; readonly key: string }
  readonly caFiles?: ReadonlyArray<string> | undefined
  readonly servername: string
}

/** A staged certificate that passed: its PEMs (the key stays in memory only) and the leaf. */
export interface Checked {
  readonly cert: string
  readonly key: string
  readonly leaf: X509Certificate
}

/** Key–cert match, then the chain valid for `servername` to the roots: fails as an action failure of `kind`. */
export const check = (input: CheckInput, kind: string): Effect.Effect<Checked, ActionHandler.ActionFailed> =>
  Effect.gen(function*() {
    const cert = yield* readText(input.source.cert, kind)
    const key = yield* readText(input.source.key, kind)
    const leaf = yield* Backup.checkKeyMatch(cert, key, input.source.cert).pipe(
      Effect.mapError((e) => new ActionHandler.ActionFailed({ kind, message: e.message }))
    )
    const now = yield* Clock.currentTimeMillis
    const roots = input.caFiles !== undefined
      ? (yield* Effect.forEach(input.caFiles, (f) => readText(f, kind))).flatMap((pem) => Certificate.parsePemBundle(pem))
      : Chain.defaultRoots()
    const verdict = Chain.verify({ served: Certificate.parsePemBundle(cert), roots, name: input.servername, now })
    if (!verdict.valid) {
      return yield* new ActionHandler.ActionFailed({
        kind,
        message: `the new chain in ${input.source.cert} is not valid for ${input.servername}: ${verdict.problems.map(Chain.describe).join("; ")}`
      })
    }
    return { cert, key, leaf }
  })
