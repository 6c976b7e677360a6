/** The Shell contract, for `Shell.local` and for `Ssh` through the loopback sshd of scripts/services.sh. */
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { Shell } from "@byteport/core/shell"
import { Ssh } from "../../src/index"
import { shellContract } from "../support/shellContract"
import { describeWithSshd } from "../support/sshd"

describe("Shell contract: Shell.local", () => {
  const local = Shell.makeLocal({ killGraceMillis: 300 })
  shellContract(() => local, { runs: 25 })
})

describeWithSshd("Shell contract: Ssh (loopback sshd)", (sshd) => {
  let scope: Scope.Closeable
  let shell: Shell.ShellShape
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    const conn = await Effect.runPromise(Scope.provide(scope)(Ssh.connect(sshd.options)))
    shell = conn.shell()
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
  shellContract(() => shell)
})
