#!/usr/bin/env node
/**
 * The kube-sim command line:
 *
 *   kube-sim serve [--scenario <file>] [--controllers] [--speed X] [--port N] [--kubeconfig <path>]
 *                  [--seed N] [--tls] [--token T]
 *
 * Starts the simulator on 127.0.0.1, writes a kubeconfig, prints one ready line
 * (`kube-sim ready {"url":…,"port":…,"kubeconfig":…}`) and serves until SIGINT/SIGTERM.
 *
 * Without `--scenario`/`--controllers` it is a pure API server (objects change only when clients
 * write them). `--scenario <file>` (YAML or JSON) or `--controllers` (empty cluster) install the
 * controllers through `./scenario/index`'s `scenarioStartOptions`, with virtual time running at
 * `--speed` times real time (default 1).
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

const USAGE =
  "usage: kube-sim serve [--scenario <file>] [--controllers] [--speed X] [--port N] [--kubeconfig <path>] [--seed N] [--tls] [--token T]"

const intArg = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`)
  return Number(v)
}

type ScenarioModule = {
  scenarioStartOptions?: (
    scenario: string | undefined,
    options: { seed?: number; realtimeSpeed?: number }
  ) => Partial<StartOptions>
}

/**
 * Start options from the scenario module (`src/scenario/index`): controllers on a virtual clock
 * that runs in real time (times `speed`), metrics routes, and the scenario's objects when a file
 * is given.
 */
const scenarioOptions = async (file: string | undefined, seed: number | undefined, speed: number): Promise<Partial<StartOptions>> => {
  let mod: ScenarioModule | undefined
  let lastError: unknown
  // "./scenario/index.js" for the built package (dist/scenario/index.js), extensionless for sources
  for (const spec of ["./scenario/index.js", "./scenario/index"]) {
    try {
      mod = (await import(/* @vite-ignore */ spec)) as ScenarioModule
      break
    } catch (e) {
      lastError = e
    }
  }
  if (!mod) {
    throw new UsageError(
      `--scenario/--controllers need the scenario module (src/scenario/index), which could not be loaded: ${lastError instanceof Error ? lastError.message : String(lastError)}`
    )
  }
  if (typeof mod.scenarioStartOptions !== "function") throw new UsageError("the scenario module does not export scenarioStartOptions(file, options)")
  try {
    return mod.scenarioStartOptions(file, { ...(seed !== undefined ? { seed } : {}), realtimeSpeed: speed })
  } catch (e) {
    throw new UsageError(`cannot load scenario ${file ?? ""}: ${e instanceof Error ? e.message : String(e)}`)
  }
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
    controllers?: boolean | undefined
    speed?: string | undefined
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
        token: { type: "string" },
        controllers: { type: "boolean" },
        speed: { type: "string" }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (e) {
    throw new UsageError(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`)
  }
  const port = intArg("port", values.port)
  const seed = intArg("seed", values.seed)
  const speed = values.speed === undefined ? 1 : Number(values.speed)
  if (!Number.isFinite(speed) || speed <= 0) throw new UsageError(`--speed must be a positive number, got "${values.speed}"`)
  const scenario = values.scenario !== undefined || values.controllers ? await scenarioOptions(values.scenario, seed, speed) : {}
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
