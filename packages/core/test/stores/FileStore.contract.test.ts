import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "@effect/vitest"
import * as FileStore from "../../src/stores/FileStore"
import { storeContract } from "../../src/testing/StoreContract"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-filestore-contract-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

let n = 0
storeContract("FileStore", () => FileStore.layer({ directory: path.join(root, `store-${++n}`) }))
// One directory shared by every test (as a long-lived agent's store is).
const shared = path.join(root, "shared")
storeContract("FileStore (one shared directory)", () => FileStore.layer({ directory: shared }))
