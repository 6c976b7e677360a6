import { defineConfig } from "tsup"

const external = [/^effect($|\/)/, /^@effect\//, /^@byteport\//, /^vitest($|\/)/]

export default defineConfig([
  // The library entries (the `byteport` command line lives in @byteport/cli). `@byteport/core/testing` and `/shell` import the public entry (`@byteport/core`,
  // external here), so no chunk is shared and every type in its declarations is nameable.
  {
    entry: ["src/index.ts", "src/testing/index.ts", "src/shell/index.ts"],
    format: ["esm"],
    dts: false,
    clean: true,
    sourcemap: true,
    external
  }
])
