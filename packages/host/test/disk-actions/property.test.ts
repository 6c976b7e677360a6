import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { Action, TargetRef } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Cleaners from "../../src/actions/Cleaners"
import * as Logrotate from "../../src/actions/Logrotate"
import * as HostFs from "../../src/fs/HostFs"
import * as GeneratedTree from "../support/generatedTree"
import { describeWithServices } from "../support/sshd"

/**
 * The safety properties of the log gzip over a HostFs and of logrotate (real, generated config),
 * over generated trees: symlinks in, out, dangling and looping; hard links out of the roots and to
 * safe-listed files; odd names; open files.
 */
describeWithServices(["hosttools"], "gzip over HostFs and logrotate over generated trees", (env) => {
  const rotateCtx = { action: Action.make({ kind: Logrotate.KIND, target: TargetRef.make("host.test", "x"), params: {}, idempotencyKey: "k", description: "d" }), dryRun: false, incidentId: "i" }
  const acted = { gzipOn: 0, rotate: 0 }
  it.effect("nothing outside the roots, no safe-listed inode, no open file is changed", () =>
    Effect.promise(async () => {
      // Batches of 15 generated trees until both acts have really run (a batch can draw no file
      // logrotate may rotate); every batch checks the property in full. At most 6 batches.
      for (let batch = 0; batch < 6 && (batch === 0 || acted.gzipOn === 0 || acted.rotate === 0); batch++) await fc.assert(
        fc.asyncProperty(fc.array(GeneratedTree.treeNode("gzipOn", "rotate"), { minLength: 1, maxLength: 25 }), async (nodes) => {
          const tree = GeneratedTree.build(nodes)
          try {
            const rotate = Logrotate.spec(Shell.local, tree.policy, { logrotate: env["BYTEPORT_TEST_LOGROTATE"]!, workDir: tree.host })
            for (const [i, c] of tree.candidates.entries()) {
              const act: Effect.Effect<void, unknown> = nodes[i % nodes.length]!.act === "rotate"
                ? Effect.asVoid(rotate.apply({ ...c, minBytes: 1 }, rotateCtx))
                : Effect.asVoid(Cleaners.gzipFileOn(HostFs.local, tree.policy, c))
              const exit = await Effect.runPromise(Effect.exit(act))
              if (exit._tag === "Success") acted[nodes[i % nodes.length]!.act]++
            }
            tree.check()
          } finally {
            tree.dispose()
          }
        }),
        { numRuns: 15 }
      )
      // not vacuous: both acts really ran on the files the rules allow
      assert.isAbove(acted.gzipOn, 0)
      assert.isAbove(acted.rotate, 0)
    }), 120_000)
})
