#!/usr/bin/env node
/**
 * The kube-sim command line:
 *
 *   kube-sim serve [--scenario <file>] [--port N] [--kubeconfig <path>] [--seed N] [--tls] [--token T]
 *
 * Starts the simulator on 127.0.0.1, writes a kubeconfig, prints one ready line
 * (`kube-sim ready {"url":…,"port":…,"kubeconfig":…}`) and serves until SIGINT/SIGTERM.
 *
 * A scenario is loaded through `./scenario/index`, which must export
 * `loadScenario(file: string): Promise<Partial<StartOptions>>` (installers, clock, seed, routes).
 */
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import * as KubeSim from "./KubeSim"
import type { StartOptions } from "./KubeSim"

/** A CLI usage error (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "UsageError"
  }
}

const USAGE = "usage: kube-sim serve [--scenario <file>] [--port N] [--kubeconfig <path>] [--seed N] [--tls] [--token T]"

const intArg = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`)
  return Number(v)
}

type ScenarioModule = { loadScenario?: (file: string) => Promise<Partial<StartOptions>> | Partial<StartOptions> }

const loadScenario = async (file: string): Promise<Partial<StartOptions>> => {
  let mod: ScenarioModule
  try {
    const spec = "./scenario/index"
    mod = (await import(/* @vite-ignore */ spec)) as ScenarioModule
  } catch (e) {
    throw new UsageError(
      `--scenario needs the scenario module (src/scenario/index), which could not be loaded: ${e instanceof Error ? e.message : String(e)}`
    )
  }
  if (typeof mod.loadScenario !== "function") throw new UsageError("the scenario module does not export loadScenario(file)")
  return await mod.loadScenario(file)
}

/** Runs the CLI with `argv` (without node and script); resolves to the running simulator. */
export const main = async (argv: ReadonlyArray<string>): Promise<KubeSim.KubeSim> => {
  const [command, ...rest] = argv
  if (command !== "serve") throw new UsageError(USAGE)
  let values: {
    scenario?: string | undefined
    port?: string | undefined
    kubeconfig?: string | undefined
    seed?: string | undefined
    tls?: boolean | undefined
    token?: string | undefined
  }
  try {
    values = parseArgs({
      args: [...rest],
      options: {
        scenario: { type: "string" },
        port: { type: "string" },
        kubeconfig: { type: "string" },
        seed: { type: "string" },
        tls: { type: "boolean" },
        token: { type: "string" }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (e) {
    throw new UsageError(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`)
  }
  const port = intArg("port", values.port)
  const seed = intArg("seed", values.seed)
  const scenario = values.scenario ? await loadScenario(values.scenario) : {}
  const sim = await KubeSim.start({
    ...scenario,
    ...(port !== undefined ? { port } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(values.tls ? { tls: true } : {}),
    ...(values.token !== undefined ? { token: values.token } : {})
  })
  const kubeconfig = values.kubeconfig ?? join(tmpdir(), `kube-sim-${sim.port}.kubeconfig`)
  sim.writeKubeconfig(kubeconfig)
  process.stdout.write(`kube-sim ready ${JSON.stringify({ url: sim.url, port: sim.port, kubeconfig })}\n`)
  return sim
}

const isMain = (() => {
  const entry = process.argv[1] ?? ""
  return /(^|[\\/])cli\.(ts|js|mjs)$/.test(entry) || entry.endsWith("kube-sim")
})()

if (isMain) {
  main(process.argv.slice(2)).then(
    (sim) => {
      const stop = (signal: string) => {
        process.stdout.write(`kube-sim stopping (${signal})\n`)
        sim.close().then(
          () => process.exit(0),
          () => process.exit(1)
        )
      }
      process.once("SIGINT", () => stop("SIGINT"))
      process.once("SIGTERM", () => stop("SIGTERM"))
    },
    (e: unknown) => {
      process.stderr.write(`kube-sim: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exit(e instanceof UsageError ? 2 : 1)
    }
  )
}
