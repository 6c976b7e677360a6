/**
 * What the HostFs tests share: a scenario run twice, through the local HostFs and over SFTP to
 * the loopback sshd (one connection for the describe block); files written with an age; a core
 * action handler run under a minted permit.
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Action, type ActionHandler, TargetRef } from "@byteport/core"
import { Effect, Exit, Scope } from "effect"
import * as Permit from "../../../core/src/Permit"
import { HostFs, type Safety, Ssh } from "../../src/index"
import { describeWithSshd } from "./sshd"
import { old } from "./tmpfs"

/** Runs `scenario` in `describe(<name>: local)` on `HostFs.local` and over SFTP to the loopback sshd. */
export const overLocalAndSftp = (names: { readonly local: string; readonly sftp: string }, scenario: (getFs: () => HostFs.HostFsShape, kind: "local" | "sftp") => void): void => {
  describe(names.local, () => {
    scenario(() => HostFs.local, "local")
  })
  describeWithSshd(names.sftp, (sshd) => {
    let scope: Scope.Closeable
    let hostFs: HostFs.HostFsShape
    beforeAll(async () => {
      scope = Effect.runSync(Scope.make())
      hostFs = HostFs.sftp(await Effect.runPromise(Scope.provide(scope)(Ssh.connect(sshd.options))))
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    scenario(() => hostFs, "sftp")
  })
}

/** Writes `content` at `p` (parents made) with its times `ageMs` in the past. */
export const write = (p: string, content: string, ageMs: number): void => {
  fs.mkdirSync(nodePath.dirname(p), { recursive: true })
  fs.writeFileSync(p, content)
  old(p, ageMs)
}

/** A handler's action on a candidate and its run under a permit minted for `mode`. */
export const runHandler = (h: ActionHandler.ActionHandler, c: Safety.Candidate, mode: "auto" | "dry_run") => {
  const action = Action.make({ kind: h.kind, target: TargetRef.make("host.file", c.path), params: { ...c }, description: `${h.kind} ${c.path}` })
  const permit = Permit.mint(Action.digest(action), "inc-1", Date.now() + 60_000, mode, `p-${Math.random()}`)
  return { action, run: h.run(action, permit) }
}
