/**
 * Child process for local.test.ts: starts `sleep 30` (and a background sleep) through Shell.local,
 * waits until the command wrote its pids to argv[2], then calls process.exit(0) while it runs.
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { Shell } from "@byteport/core/shell"

const pidFile = process.argv[2]!
Effect.runFork(Shell.local.run(["sh", "-c", `sleep 30 & echo $$ $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; wait`], { timeout: "60 seconds" }))
const poll = setInterval(() => {
  if (fs.existsSync(pidFile)) {
    clearInterval(poll)
    process.exit(0)
  }
}, 20)
