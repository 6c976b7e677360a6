/** The object store, its registry, selectors and pod logs. */
export * from "./types"
/** The in-memory store module (`MemoryStore.make(options)`). */
export * as MemoryStore from "./MemoryStore"
/** The in-memory store class (implements ObjectStore plus scan/entry/eventsSince/compact). */
export { MemoryStore as MemoryObjectStore } from "./MemoryStore"
/** Store entry, history record and option types. */
export type { Entry, HistoryRecord, MemoryStoreOptions } from "./MemoryStore"
/** The pod-log module (`PodLogs.make(options)`). */
export * as PodLogs from "./logs"
/** Pod-log types. */
export type { PodLogs as PodLogSource, LogLine, AppendOptions, ReadOptions } from "./logs"
/** The resource registry (kinds, scopes, subresources, field selectors). */
export * as Registry from "./registry"
/** Label and field selectors. */
export * as Selectors from "./selectors"
/** ResourceKeys of the common kinds. */
export { Keys } from "./registry"
/** Loading a recorded incident verbatim (`Recording.load(store, list)`, `Recording.latestTimestamp`). */
export * as Recording from "./recording"
/** Recording types. */
export type { LoadResult, RecordedList, Skipped } from "./recording"
