/**
 * @byteport/cli — the `byteport` command line, the one package that imports every domain
 * package: `replay` recorded fixtures through a runbook, `record` them from a live cluster,
 * `run` the agent from a config file, `approve` and `pending` for paused incidents.
 *
 * @since 0.1.0
 */

/** The command line: `main(argv)` resolves to the exit code; `usage`. */
export * as Cli from "./Cli"
/** Argument parsing: `parseArgs`, `parseTtl`, `Usage`. */
export * as Args from "./Args"
/** `byteport replay <runbook> <fixture-dir>`: classification, reasons, guardrail checks, the plan. */
export * as Replay from "./Replay"
/** The runbooks that can be replayed from recorded fixtures, and how each directory is decoded. */
export * as Sources from "./Sources"
/** `byteport record <runbook> --target <ref> --out <dir>`: a fixture directory from a live cluster. */
export * as Record from "./Record"
/** `byteport run --config <file>`: the agent from a config file, leader election, SIGTERM. */
export * as Run from "./Run"
