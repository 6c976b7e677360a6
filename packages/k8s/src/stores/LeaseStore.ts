/**
 * A GuardrailStore on Kubernetes Leases (coordination.k8s.io/v1) in one namespace
 * (`BYTEPORT_LEASE_NAMESPACE`, default `byteport`): shared by every agent replica that talks to
 * the cluster, and independent of the targets (the Leases are not owned by them, so windows,
 * leases and journals survive a target's deletion).
 *
 * **Layout.** Every store key is one Lease, named `bp-<type>-<readable part of the key>-<sha256
 * prefix>` (a valid DNS-1123 name whatever the key; the original key is kept in the
 * `byteport.io/store-key` annotation and checked on every read, so a hash collision is an error,
 * never a silent merge). Types: `w` sliding windows, `v` compare-and-swap values, `l` leases,
 * `j` journals (one Lease per incident). Labels: `app.kubernetes.io/managed-by=byteport`,
 * `byteport.io/store=<window|value|lease|journal>`; journals also carry
 * `byteport.io/closed=<true|false>` so `listIncidents` is one labelled list.
 *
 * **Atomicity.** Every mutation is read → compute → write conditional on the Lease's
 * resourceVersion (create when absent: 409 AlreadyExists; replace/delete with the read
 * resourceVersion: 409 Conflict). A 409 re-reads and re-computes, so a window never exceeds its
 * max and a compare-and-swap has exactly one winner across processes. Inside one process the
 * operations on one key are also serialized (a semaphore per Lease), so replicas of one agent do
 * not storm each other with conflicts.
 *
 * **Sizes.** A Kubernetes object is at most ~1.5 MiB, and annotations together at most 256 KiB;
 * this store keeps each Lease's data under 240 KiB and fails the write with a StoreError beyond
 * that. Windows are pruned to their live entries on every write (a window of max N holds at most
 * N entries of ~80 bytes). A journal holds a few hundred entries of typical size; each incident
 * has its own Lease. Leases (`l`) mirror the holder in `spec.holderIdentity`, `acquireTime`,
 * `renewTime` and `leaseDurationSeconds` for `kubectl get lease`; the exact millisecond times
 * are in the `byteport.io/lease` annotation. `gc(now)` deletes windows with no live entry and,
 * with `closedJournalRetentionMs`, the journals of incidents closed longer ago than that.
 *
 * @since 0.1.0
 */
import { V1MicroTime } from "@kubernetes/client-node"
import type { V1Lease } from "@kubernetes/client-node"
import { GuardrailStore } from "@byteport/core"
import type { Json as CoreJson } from "@byteport/core"
import { Config, Effect, Layer, Random, Semaphore } from "effect"
import { createHash, randomUUID } from "node:crypto"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as S from "./internal/json"

type StoreError = GuardrailStore.StoreError
type JournalEntry = GuardrailStore.JournalEntry
type LeaseInfo = GuardrailStore.LeaseInfo

/** Options of the Lease store. */
export interface LeaseStoreOptions {
  /** The namespace holding the Leases (default `byteport`; it must exist). */
  readonly namespace?: string | undefined
  /** Attempts per operation when other writers keep winning (default 100). */
  readonly maxAttempts?: number | undefined
}

/** Annotation and label names. */
export const Annotations = {
  key: "byteport.io/store-key",
  window: "byteport.io/window",
  value: "byteport.io/value",
  version: "byteport.io/version",
  lease: "byteport.io/lease",
  journal: "byteport.io/journal",
  incident: "byteport.io/incident"
} as const

/** Label names. */
export const Labels = {
  managedBy: "app.kubernetes.io/managed-by",
  store: "byteport.io/store",
  closed: "byteport.io/closed"
} as const

/** Largest encoded data one Lease may hold (annotations are limited to 256 KiB in total). */
export const MAX_DATA_BYTES = 240 * 1024

type Type = "window" | "value" | "lease" | "journal"
const prefix: Record<Type, string> = { window: "w", value: "v", lease: "l", journal: "j" }

/** The Lease name for a store key: readable, DNS-1123, unique by hash. */
export const objectName = (type: Type, key: string): string => {
  const hash = createHash("sha256").update(`${type}\u0000${key}`).digest("hex").slice(0, 20)
  const readable = key.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+/, "").slice(0, 30).replace(/-+$/, "")
  return `bp-${prefix[type]}-${readable.length > 0 ? `${readable}-` : ""}${hash}`
}

interface Write {
  readonly annotations: Record<string, string>
  readonly labels?: Record<string, string>
  readonly spec?: V1Lease["spec"]
}

type Plan<A> = { readonly result: A; readonly write?: Write | "delete" }

/** Options of `gc`. */
export interface GcOptions {
  /** Also delete the journals of closed incidents whose last entry is at least this old (ms). Default: keep journals. */
  readonly closedJournalRetentionMs?: number | undefined
}

/** The store, plus garbage collection. */
export interface LeaseStoreShape extends GuardrailStore.GuardrailStoreShape {
  /** Deletes windows with no live entry (and, with `closedJournalRetentionMs`, old closed journals); returns how many Leases. */
  readonly gc: (now: number, options?: GcOptions) => Effect.Effect<number, StoreError>
}

/** Builds the store over the Kube service. */
export const make = (options: LeaseStoreOptions = {}): Effect.Effect<LeaseStoreShape, never, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const namespace = options.namespace ?? "byteport"
    const maxAttempts = options.maxAttempts ?? 100
    const name = `k8s-lease:${namespace}`
    // one semaphore per Lease while someone uses it (dropped when the last user leaves)
    const locks = new Map<string, { readonly sem: Semaphore.Semaphore; users: number }>()
    const withLock = <A, E, R>(objName: string, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          let l = locks.get(objName)
          if (l === undefined) {
            l = { sem: Semaphore.makeUnsafe(1), users: 0 }
            locks.set(objName, l)
          }
          l.users++
          return l
        }),
        (l) => l.sem.withPermit(self),
        (l) =>
          Effect.sync(() => {
            l.users--
            if (l.users === 0) locks.delete(objName)
          })
      )

    const fail = (operation: string, message: string, cause?: unknown) =>
      new GuardrailStore.StoreError({ store: name, operation, message, ...(cause !== undefined ? { cause } : {}) })
    const fromKube = (operation: string) => (e: KubeError) => fail(operation, `${e._tag} (${e.status} ${e.reason}): ${e.message}`, e)

    const read = (operation: string, type: Type, key: string): Effect.Effect<V1Lease | undefined, StoreError> =>
      kube.getLease(namespace, objectName(type, key)).pipe(
        Effect.map((l): V1Lease | undefined => l),
        Effect.catchTag("KubeNotFound", () => Effect.succeed(undefined)),
        Effect.mapError(fromKube(operation)),
        Effect.flatMap((l) => {
          const stored = l?.metadata?.annotations?.[Annotations.key]
          if (l !== undefined && stored !== key) {
            return Effect.fail(fail(operation, `Lease ${objectName(type, key)} belongs to another key (${JSON.stringify(stored)}); refusing to use it`))
          }
          return Effect.succeed(l)
        })
      )

    const guard = <A>(operation: string, f: () => A): Effect.Effect<A, StoreError> =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(f())
        } catch (e) {
          return Effect.fail(fail(operation, e instanceof S.InvalidInput ? `invalid input: ${e.message}` : `corrupt store data: ${String(e)}`, e))
        }
      })

    /** Read → plan → conditional write, re-planned after every 409. */
    const mutate = <A>(operation: string, type: Type, key: string, plan: (current: V1Lease | undefined) => Plan<A>): Effect.Effect<A, StoreError> => {
      const objName = objectName(type, key)
      const attempt: Effect.Effect<{ readonly done: true; readonly result: A } | { readonly done: false }, StoreError> = Effect.gen(function*() {
        const current = yield* read(operation, type, key)
        const p = yield* guard(operation, () => plan(current))
        if (p.write === undefined) return { done: true as const, result: p.result }
        const conflict = (e: KubeError) => (e._tag === "KubeConflict" ? Effect.succeed(false) : Effect.fail(fromKube(operation)(e)))
        let ok: boolean
        if (p.write === "delete") {
          if (current === undefined) return { done: true as const, result: p.result }
          ok = yield* kube.deleteLease(namespace, objName, current.metadata!.resourceVersion!).pipe(
            Effect.as(true),
            Effect.catchTag("KubeNotFound", () => Effect.succeed(false)),
            Effect.catch(conflict)
          )
        } else {
          const size = Object.values(p.write.annotations).reduce((n, v) => n + Buffer.byteLength(v), 0)
          if (size > MAX_DATA_BYTES) return yield* fail(operation, `Lease ${objName} would hold ${size} bytes (limit ${MAX_DATA_BYTES}); prune or split the data`)
          const body: V1Lease = {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: {
              name: objName,
              namespace,
              labels: { [Labels.managedBy]: "byteport", [Labels.store]: type, ...(p.write.labels ?? {}) },
              annotations: { [Annotations.key]: key, ...p.write.annotations }
            },
            spec: p.write.spec ?? {}
          }
          ok = current === undefined
            ? yield* kube.createLease(namespace, body).pipe(Effect.as(true), Effect.catch(conflict))
            : yield* kube.replaceLease(namespace, { ...body, metadata: { ...body.metadata!, name: objName, resourceVersion: current.metadata!.resourceVersion! } }).pipe(
              Effect.as(true),
              Effect.catchTag("KubeNotFound", () => Effect.succeed(false)),
              Effect.catch(conflict)
            )
        }
        return ok ? { done: true as const, result: p.result } : { done: false as const }
      })
      return withLock(
        objName,
        Effect.gen(function*() {
          for (let i = 0; i < maxAttempts; i++) {
            const r = yield* attempt
            if (r.done) return r.result
            // another writer won: back off a little (jittered) and re-plan from the new state
            yield* Effect.sleep(yield* Random.nextBetween(0, Math.min(50, 2 * (i + 1))))
          }
          return yield* fail(operation, `gave up after ${maxAttempts} conflicting writes on Lease ${objName}`)
        })
      )
    }

    const parseWindow = (l: V1Lease | undefined): S.WindowState | undefined => {
      const text = l?.metadata?.annotations?.[Annotations.window]
      return text === undefined ? undefined : (JSON.parse(text) as S.WindowState)
    }
    const parseLease = (key: string, l: V1Lease | undefined): LeaseInfo | undefined => {
      const text = l?.metadata?.annotations?.[Annotations.lease]
      if (text === undefined) return undefined
      const x = JSON.parse(text) as Omit<LeaseInfo, "key">
      return { key, holder: x.holder, acquiredAt: x.acquiredAt, expiresAt: x.expiresAt, data: x.data }
    }
    const parseJournal = (l: V1Lease | undefined): Array<JournalEntry> => {
      const text = l?.metadata?.annotations?.[Annotations.journal]
      return text === undefined ? [] : (JSON.parse(text) as Array<JournalEntry>)
    }
    const windowWrite = (state: S.WindowState): Write => ({ annotations: { [Annotations.window]: JSON.stringify(state) } })

    const store: LeaseStoreShape = {
      name,
      acquireWindow: (request) =>
        Effect.flatMap(guard("acquireWindow", () => S.validateWindowRequest(request)), () =>
          mutate("acquireWindow", "window", request.key, (current) => {
            const { next, result } = S.acquire(parseWindow(current), request, randomUUID())
            return next !== undefined ? { result, write: windowWrite(next) } : { result }
          })),
      peekWindow: (key, windowMs, now) =>
        Effect.flatMap(guard("peekWindow", () => S.requireKey(key)), () =>
          Effect.flatMap(read("peekWindow", "window", key), (l) => guard("peekWindow", () => S.peek(parseWindow(l), windowMs, now)))),
      releaseWindow: (key, token) =>
        Effect.flatMap(guard("releaseWindow", () => (S.requireKey(key), S.requireKey(token, "token"))), () =>
          mutate("releaseWindow", "window", key, (current): Plan<void> => {
            const state = parseWindow(current)
            if (state === undefined) return { result: undefined }
            const entries = state.entries.filter((e) => e.token !== token)
            if (entries.length === state.entries.length) return { result: undefined }
            return { result: undefined, write: entries.length === 0 ? "delete" : windowWrite({ windowMs: state.windowMs, entries }) }
          })),
      get: (key) =>
        Effect.flatMap(guard("get", () => S.requireKey(key)), () =>
          Effect.flatMap(read("get", "value", key), (l) =>
            guard("get", () => {
              const a = l?.metadata?.annotations
              const text = a?.[Annotations.value]
              if (text === undefined) return undefined
              return { value: S.decodeJson(text), version: Number(a?.[Annotations.version]) }
            }))),
      compareAndSet: (key, expectedVersion, value) =>
        Effect.flatMap(
          guard("compareAndSet", () => {
            S.requireKey(key)
            if (!Number.isInteger(expectedVersion) || expectedVersion < 0) throw new S.InvalidInput(`expectedVersion must be an integer >= 0 (got ${expectedVersion})`)
            return S.encodeJson(value, "value")
          }),
          (encoded) =>
            mutate("compareAndSet", "value", key, (current): Plan<boolean> => {
              const version = current === undefined ? 0 : Number(current.metadata?.annotations?.[Annotations.version] ?? "0")
              if (version !== expectedVersion) return { result: false }
              return { result: true, write: { annotations: { [Annotations.value]: encoded, [Annotations.version]: String(version + 1) } } }
            })
        ),
      acquireLease: (request) =>
        Effect.flatMap(
          guard("acquireLease", () => {
            S.requireKey(request.key)
            S.requireKey(request.holder, "holder")
            if (!(Number.isFinite(request.ttlMs) && request.ttlMs > 0)) throw new S.InvalidInput(`ttlMs must be > 0 (got ${request.ttlMs})`)
            if (!Number.isFinite(request.now)) throw new S.InvalidInput(`now must be a finite epoch ms (got ${request.now})`)
            return request.data === undefined ? undefined : (JSON.parse(S.encodeJsonObject(request.data, "data")) as CoreJson.JsonObject)
          }),
          (data) =>
            mutate("acquireLease", "lease", request.key, (current): Plan<GuardrailStore.LeaseResult> => {
              const cur = parseLease(request.key, current)
              const expired = cur === undefined || cur.expiresAt <= request.now
              if (!expired && cur.holder !== request.holder) return { result: { _tag: "Held", lease: cur } }
              const renew = !expired && cur.holder === request.holder
              const lease: LeaseInfo = {
                key: request.key,
                holder: request.holder,
                acquiredAt: renew ? cur.acquiredAt : request.now,
                expiresAt: request.now + request.ttlMs,
                data: data ?? (renew ? cur.data : {})
              }
              const { key: _k, ...stored } = lease
              return {
                result: { _tag: "Acquired", lease: JSON.parse(JSON.stringify(lease)) as LeaseInfo },
                write: {
                  annotations: { [Annotations.lease]: JSON.stringify(stored) },
                  spec: {
                    holderIdentity: lease.holder,
                    leaseDurationSeconds: Math.max(1, Math.ceil(request.ttlMs / 1000)),
                    acquireTime: new V1MicroTime(lease.acquiredAt),
                    renewTime: new V1MicroTime(request.now)
                  }
                }
              }
            })
        ),
      releaseLease: (key, holder) =>
        Effect.flatMap(guard("releaseLease", () => (S.requireKey(key), S.requireKey(holder, "holder"))), () =>
          mutate("releaseLease", "lease", key, (current): Plan<void> => {
            const cur = parseLease(key, current)
            return cur !== undefined && cur.holder === holder ? { result: undefined, write: "delete" } : { result: undefined }
          })),
      getLease: (key) =>
        Effect.flatMap(guard("getLease", () => S.requireKey(key)), () =>
          Effect.flatMap(read("getLease", "lease", key), (l) => guard("getLease", () => parseLease(key, l)))),
      appendJournal: (entry) =>
        Effect.flatMap(guard("appendJournal", () => S.prepareJournalEntry(entry, entry.type === "opened" ? 0 : 1)), () =>
          mutate("appendJournal", "journal", entry.incidentId, (current): Plan<JournalEntry> => {
            const entries = parseJournal(current)
            const stored = S.prepareJournalEntry(entry, entries.length)
            const all = [...entries, stored]
            const summary = S.summarize(all)
            return {
              result: JSON.parse(JSON.stringify(stored)) as JournalEntry,
              write: {
                annotations: { [Annotations.journal]: JSON.stringify(all), [Annotations.incident]: JSON.stringify(summary) },
                labels: { [Labels.closed]: String(summary.closed) }
              }
            }
          })),
      readJournal: (incidentId) =>
        Effect.flatMap(guard("readJournal", () => S.requireKey(incidentId, "incidentId")), () =>
          Effect.flatMap(read("readJournal", "journal", incidentId), (l) => guard("readJournal", () => parseJournal(l)))),
      listIncidents: (o) =>
        kube.listLeases({ namespace, labelSelector: `${Labels.store}=journal${o?.all === true ? "" : `,${Labels.closed}=false`}` }).pipe(
          Effect.mapError(fromKube("listIncidents")),
          Effect.flatMap((leases) =>
            guard("listIncidents", () =>
              leases
                .flatMap((l) => {
                  const text = l.metadata?.annotations?.[Annotations.incident]
                  return text === undefined ? [] : [JSON.parse(text) as GuardrailStore.IncidentIndexEntry]
                })
                .filter((i) => o?.all === true || !i.closed)
                .sort((a, b) => a.openedAt - b.openedAt || (a.incidentId < b.incidentId ? -1 : a.incidentId > b.incidentId ? 1 : 0))
            )
          )
        ),
      gc: (now, o = {}) =>
        Effect.gen(function*() {
          const windows = yield* kube.listLeases({ namespace, labelSelector: `${Labels.store}=window` }).pipe(Effect.mapError(fromKube("gc")))
          const w = yield* Effect.forEach(windows, (l) => {
            const key = l.metadata?.annotations?.[Annotations.key]
            const state = parseWindow(l)
            if (key === undefined || state === undefined || S.live(state, state.windowMs, now).length > 0) return Effect.succeed(0)
            return mutate("gc", "window", key, (current): Plan<number> => {
              const st = parseWindow(current)
              return st !== undefined && S.live(st, st.windowMs, now).length === 0 ? { result: 1, write: "delete" } : { result: 0 }
            })
          })
          let j: ReadonlyArray<number> = []
          if (o.closedJournalRetentionMs !== undefined) {
            const retention = o.closedJournalRetentionMs
            const journals = yield* kube.listLeases({ namespace, labelSelector: `${Labels.store}=journal,${Labels.closed}=true` }).pipe(Effect.mapError(fromKube("gc")))
            const old = (l: V1Lease | undefined) => {
              const entries = parseJournal(l)
              const last = entries[entries.length - 1]
              return last !== undefined && entries.some((e) => e.type === "closed") && now - last.at >= retention
            }
            j = yield* Effect.forEach(journals, (l) => {
              const key = l.metadata?.annotations?.[Annotations.key]
              if (key === undefined || !old(l)) return Effect.succeed(0)
              return mutate("gc", "journal", key, (current): Plan<number> => (old(current) ? { result: 1, write: "delete" } : { result: 0 }))
            })
          }
          return [...w, ...j].reduce((a, b) => a + b, 0)
        })
    }
    return store
  })

/** A GuardrailStore layer on Leases in `options.namespace` (default `byteport`). */
export const layer = (options: LeaseStoreOptions = {}): Layer.Layer<GuardrailStore.GuardrailStore, never, Kube> =>
  Layer.effect(GuardrailStore.GuardrailStore, make(options))

/** A GuardrailStore layer on Leases in the namespace named by Config `BYTEPORT_LEASE_NAMESPACE` (default `byteport`). */
export const layerConfig: Layer.Layer<GuardrailStore.GuardrailStore, Config.ConfigError, Kube> = Layer.unwrap(
  Effect.map(Config.String("BYTEPORT_LEASE_NAMESPACE").pipe(Config.withDefault("byteport")), (namespace) => layer({ namespace }))
)
