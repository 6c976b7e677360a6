import { execFile, execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** The kubectl binary used by the cross-check suite. */
export const KUBECTL = process.env["KUBECTL"] ?? "kubectl"

/** kubectl's client minor version, or undefined when kubectl is missing or unusable. */
export const kubectlMinor = (): number | undefined => {
  try {
    const out = execFileSync(KUBECTL, ["version", "--client", "-o", "json"], { timeout: 20_000, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
    const v = JSON.parse(out) as { clientVersion?: { major?: string; minor?: string } }
    const minor = Number.parseInt(v.clientVersion?.minor ?? "", 10)
    return v.clientVersion?.major === "1" && Number.isFinite(minor) ? minor : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the suite runs: REQUIRED under CI=true (throws when kubectl ≥ 1.25 is missing),
 * skipped with a message elsewhere.
 */
export const kubectlAvailable = (): boolean => {
  const minor = kubectlMinor()
  const ok = minor !== undefined && minor >= 25
  if (!ok && process.env["CI"] === "true") {
    throw new Error(`kubectl >= 1.25 is required under CI=true (found ${minor === undefined ? "none" : `1.${minor}`}); set KUBECTL or install kubectl`)
  }
  if (!ok) console.warn(`kube-sim kubectl suite skipped: kubectl >= 1.25 not found (found ${minor === undefined ? "none" : `1.${minor}`})`)
  return ok
}

/** The result of one kubectl run. */
export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** A kubectl runner bound to one kubeconfig and a fresh discovery cache dir. */
export const runner = (kubeconfig: string) => {
  const cache = mkdtempSync(join(tmpdir(), "kube-sim-kubecache-"))
  const env = { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: cache }
  const run = (args: ReadonlyArray<string>, timeoutMs = 30_000): Promise<Run> =>
    new Promise((resolve) => {
      execFile(KUBECTL, [...args], { env, timeout: timeoutMs, encoding: "utf8", maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0
        resolve({ code, stdout, stderr })
      })
    })
  return { run, cleanup: () => rmSync(cache, { recursive: true, force: true }) }
}
