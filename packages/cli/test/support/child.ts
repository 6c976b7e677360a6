/** Runs the `byteport` program (from source) in a child process; `noIo` preloads the socket/write interceptor. */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { Effect } from "effect"
import { main } from "../../src/Cli"

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
export const byteport = (args: ReadonlyArray<string>, options: { readonly noIo?: boolean; readonly noVitest?: boolean; readonly env?: Record<string, string> } = {}) =>
  Effect.callback<Ran>((resume) => {
    const pre = [
      ...(options.noIo ? ["--import", path.join(repo, "packages/cli/test/support/no-io.mjs")] : []),
      ...(options.noVitest ? ["--import", path.join(repo, "packages/cli/test/support/no-vitest.mjs")] : [])
    ]
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

/** Runs the CLI's `main` in this process, capturing what it prints (stdout and stderr together). */
export const inProcess = (argv: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const out: Array<string> = []
    const w = process.stdout.write
    const e = process.stderr.write
    process.stdout.write = ((c: string) => (out.push(String(c)), true)) as typeof process.stdout.write
    process.stderr.write = ((c: string) => (out.push(String(c)), true)) as typeof process.stderr.write
    try {
      const code = await main(argv)
      return { code, text: out.join("") }
    } finally {
      process.stdout.write = w
      process.stderr.write = e
    }
  })
