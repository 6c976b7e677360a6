import { defineConfig } from "tsup"

// `@byteport/cloud/testing` imports the public entry (`@byteport/cloud`, external here), so no chunk
// is shared and every type in its declarations is nameable (as `@byteport/db/testing` does).
export default defineConfig({
  entry: ["src/index.ts", "src/testing/index.ts"],
  format: ["esm"],
  dts: false,
  clean: true,
  sourcemap: true,
  external: [/^effect($|\/)/, /^@effect\//, /^@byteport\//]
})
