import { Layer } from "effect"
import { GuardrailStore } from "../../src/GuardrailStore"
import * as MemoryStore from "../../src/stores/MemoryStore"
import { storeContract } from "../../src/testing/StoreContract"

storeContract("MemoryStore", () => Layer.effect(GuardrailStore, MemoryStore.make()))
storeContract("MemoryStore.layer", () => MemoryStore.layer)
