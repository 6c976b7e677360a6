#!/usr/bin/env node
/**
 * The `byteport` program: `byteport <command> …` (see `Cli.usage`); the exit code is the command's.
 *
 * @since 0.1.0
 */
import { main } from "./Cli"

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
