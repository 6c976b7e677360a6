import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as Cleaners from "../src/actions/Cleaners"
import * as GeneratedTree from "./support/generatedTree"

describe("cleaner safety over generated trees", () => {
  it.effect("nothing outside the roots, no safe-listed inode, no open file is changed", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(GeneratedTree.treeNode("delete", "gzip"), { minLength: 1, maxLength: 25 }), async (nodes) => {
          const tree = GeneratedTree.build(nodes)
          try {
            for (const [i, c] of tree.candidates.entries()) {
              const act = nodes[i % nodes.length]!.act === "delete" ? Cleaners.deleteFile : Cleaners.gzipFile
              await Effect.runPromise(Effect.exit(act(tree.policy, c)))
            }
            tree.check()
          } finally {
            tree.dispose()
          }
        }),
        { numRuns: 25 }
      )
    ), 120_000)
})
