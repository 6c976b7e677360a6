/**
 * Runs one incident of the resume test's runbook over a FileStore (argv: store dir, incident
 * id, marker file). The action appends to the marker file; the verifier prints VERIFYING and
 * hangs, so the parent can kill this process after "applied" and before "verdict".
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { AgentId, FileStore, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as R from "../resumeWorld"

const [dir, incidentId, marker] = process.argv.slice(2)
if (!dir || !incidentId || !marker) {
  process.stderr.write("usage: crashAfterApplied.ts <storeDir> <incidentId> <markerFile>\n")
  process.exit(1)
}
const handler = R.restartHandler(Effect.sync(() => fs.appendFileSync(marker, "applied\n")))
const hanging = R.runbook(() => Effect.sync(() => void process.stdout.write("VERIFYING\n")).pipe(Effect.andThen(Effect.never)))
Effect.runPromise(
  Runbook.handle(hanging, R.signal(), { incidentId }).pipe(
    Effect.provide(Testing.layer({ handlers: [handler], store: FileStore.layer({ directory: dir, fsync: true }) })),
    // The agent's stable identity (BYTEPORT_AGENT_ID): restarted with the same id, it takes its incident back at once.
    Effect.provide(AgentId.layerConfig)
  )
)
