// Preloaded into a `byteport` child by cli.process.test.ts: resolving vitest or @effect/vitest (an
// optional peer that users of the command line do not install) fails, naming the importer.
import { registerHooks } from "node:module"

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === "vitest" || specifier.startsWith("vitest/") || specifier === "@effect/vitest" || specifier.startsWith("@effect/vitest/")) {
      throw new Error(`NO-VITEST: ${specifier} imported by ${context.parentURL}`)
    }
    return next(specifier, context)
  }
})
