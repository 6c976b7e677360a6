import { defineConfig } from "tsup"

// `@byteport/db/testing` imports the public entry (`@byteport/db`, external here), so no chunk is
// shared and every type in its declarations is nameable (as `@byteport/core/testing` does).
export default defineConfig({
  entry: ["src/index.ts", "src/testing/index.ts"],
  format: ["esm"],
  dts: false,
  clean: true,
  sourcemap: true,
  external: [/^effect($|\/)/, /^@effect\//, /^@byteport\//]
})
