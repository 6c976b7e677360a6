import { defineConfig } from "vitest/config"

/**
 * `npm run test:reliability` (issue 17 §1): the reliability suite, apart from `npm test`:
 * `packages/*\/test-reliability/**\/*.test.ts`. Fuzzing prints its seed; `BYTEPORT_FUZZ_SEED`
 * replays it (see scripts/fuzz-harness.ts and docs/reliability.md).
 */
export default defineConfig({
  resolve: { conditions: ["@byteport/source"] },
  ssr: { resolve: { conditions: ["@byteport/source"] } },
  test: {
    include: ["packages/*/test-reliability/**/*.test.ts"],
    globalSetup: ["./scripts/vitest-global-setup.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2
  }
})
