/** The HostFs contract, for the local HostFs and for SFTP through the loopback sshd. */
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { HostFs, Ssh } from "../../src/index"
import { hostFsContract } from "../support/hostFsContract"
import { describeWithSshd } from "../support/sshd"

describe("HostFs contract: local", () => {
  hostFsContract(() => HostFs.local, { identity: true })
})

describeWithSshd("HostFs contract: SFTP (loopback sshd)", (sshd) => {
  let scope: Scope.Closeable
  let fs: HostFs.HostFsShape
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    fs = HostFs.sftp(await Effect.runPromise(Scope.provide(scope)(Ssh.connect(sshd.options))))
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  hostFsContract(() => fs, { identity: false })
})
