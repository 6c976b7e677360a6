import { defineConfig } from "tsup"

// The library entry and the `byteport` program; effect and the other @byteport packages stay external.
export default defineConfig({
  entry: ["src/index.ts", "src/main.ts"],
  format: ["esm"],
  dts: false,
  clean: true,
  sourcemap: true,
  external: [/^effect($|\/)/, /^@effect\//, /^@byteport\//, /^@kubernetes\//, /^yaml$/]
})
