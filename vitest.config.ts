import { defineConfig } from "vitest/config"

/**
 * One vitest run for the whole monorepo. Workspace packages are imported from their
 * TypeScript sources through the `@byteport/source` export condition, so `npm test`
 * needs no prior build.
 */
export default defineConfig({
  resolve: { conditions: ["@byteport/source"] },
  ssr: { resolve: { conditions: ["@byteport/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts"],
    globalSetup: ["./scripts/vitest-global-setup.ts", "./scripts/vitest-machine-guard.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "./scripts/summary-reporter.ts"]
  }
})
