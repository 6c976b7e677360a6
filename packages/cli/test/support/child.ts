/** Runs the `byteport` program (from source) in a child process; `noIo` preloads the socket/write interceptor. */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { Effect } from "effect"

/** The repository root (commands run from there, fixture paths are relative to it). */
export const repo = path.resolve(import.meta.dirname, "../../../..")
/** The program's source entry. */
export const mainTs = path.join(repo, "packages/cli/src/main.ts")

/** What a child printed and how it exited. */
export interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Spawns `byteport …`. */
export const byteport = (args: ReadonlyArray<string>, options: { readonly noIo?: boolean; readonly env?: Record<string, string> } = {}) =>
  Effect.callback<Ran>((resume) => {
    const pre = options.noIo ? ["--import", path.join(repo, "packages/cli/test/support/no-io.mjs")] : []
    const child = spawn(process.execPath, ["--import", "tsx", ...pre, "--conditions=@byteport/source", mainTs, ...args], {
      cwd: repo,
      stdio: ["ignore", "pipe", "pipe"],
      // tsx's transform cache would be a write of the loader, not of the command
      env: { ...process.env, TSX_DISABLE_CACHE: "1", ...options.env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
  })
