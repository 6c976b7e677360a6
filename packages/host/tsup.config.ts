import { defineConfig } from "tsup"

// One public entry; effect and the other BytePort packages stay external (as in @byteport/db).
export default defineConfig({
  entry: ["src/index.ts", "src/testing/index.ts"],
  format: ["esm"],
  dts: false,
  clean: true,
  sourcemap: true,
  external: [/^effect($|\/)/, /^@effect\//, /^@byteport\//]
})
