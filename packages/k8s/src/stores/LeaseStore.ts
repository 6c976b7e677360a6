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
 * are in the `byteport.io/lease` annotation.
 *
 * **Hierarchical leases.** A lease with `parents` first records a claim (holder, expiry, data)
 * in each parent's Lease (`byteport.io/lease-claims`, one conditional write each), then writes
 * its own. A parent's Lease thus holds its own lease and the live claims of its descendants,
 * so an acquire of the parent and one of a child always meet on one object with one
 * resourceVersion: whichever writes second sees the other and is Held (the claims it already
 * wrote are rolled back). A release removes the claims too; the claim of an agent that died
 * between its writes lapses with its ttl, like a lease.
 *
 * **Fencing.** A request with an `epoch` is first checked against the scope's fence Lease
 * (`bp-f-…`, the highest epoch seen in `byteport.io/fence-epoch`, raised by a conditional
 * write), then against the highest epochs recorded on the object it writes
 * (`byteport.io/fences`, written with it): a stale epoch is refused. Two leaders writing the
 * same object are thus ordered by its resourceVersion; a deposed leader's write to an object
 * the new leader has not touched can only slip in between its own fence check and its write
 * (two requests), never after the new leader's first fenced write is visible to that check.
 *
 * **Window tokens.** An acquire whose `token` already holds a live unit of the window writes
 * nothing and answers Acquired (read under the same conditional write as any acquire).
 *
 * Rules and redaction are core's `StoreRules`: every value, lease data, claim and journal entry
 * is redacted before it reaches an annotation. `gc(now)` deletes windows with no live entry and,
 * with `closedJournalRetentionMs`, the journals of incidents closed longer ago than that.
 *
 * @since 0.1.0
 */
import { V1MicroTime } from "@kubernetes/client-node"
import type { V1Lease } from "@kubernetes/client-node"
import { GuardrailStore, StoreRules as S } from "@byteport/core"
import type { Json as CoreJson, Redactor } from "@byteport/core"
import { Config, Effect, Layer, Random, Semaphore } from "effect"
import { createHash, randomUUID } from "node:crypto"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"

type StoreError = GuardrailStore.StoreError
type JournalEntry = GuardrailStore.JournalEntry
type LeaseInfo = GuardrailStore.LeaseInfo

/** Options of the Lease store. */
export interface LeaseStoreOptions {
  /** The namespace holding the Leases (default `byteport`; it must exist). */
  readonly namespace?: string | undefined
  /** Attempts per operation when other writers keep winning (default 100). */
  readonly maxAttempts?: number | undefined
  /** The redactor every written value, lease data and journal entry passes (default: the caller's `Redactor` service, else the default rules). */
  readonly redactor?: Redactor.Shape | undefined
}

/** Annotation and label names. */
export const Annotations = {
  key: "byteport.io/store-key",
  window: "byteport.io/window",
  value: "byteport.io/value",
  version: "byteport.io/version",
  lease: "byteport.io/lease",
  claims: "byteport.io/lease-claims",
  journal: "byteport.io/journal",
  incident: "byteport.io/incident",
  fenceEpoch: "byteport.io/fence-epoch",
  fences: "byteport.io/fences"
} as const

/** Label names. */
export const Labels = {
  managedBy: "app.kubernetes.io/managed-by",
  store: "byteport.io/store",
  closed: "byteport.io/closed"
} as const

/** Largest encoded data one Lease may hold (annotations are limited to 256 KiB in total). */
export const MAX_DATA_BYTES = 240 * 1024

type Type = "window" | "value" | "lease" | "journal" | "fence"
const prefix: Record<Type, string> = { window: "w", value: "v", lease: "l", journal: "j", fence: "f" }

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
          return Effect.fail(fail(
            operation,
            e instanceof S.InvalidInput
              ? `invalid input: ${e.message}`
              : e instanceof GuardrailStore.StaleEpoch
              ? S.staleEpochMessage(e)
              : `corrupt store data: ${String(e)}`,
            e
          ))
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
    type Stored = Omit<LeaseInfo, "key">
    const withKey = (key: string, x: Stored): LeaseInfo => ({
      key,
      holder: x.holder,
      acquiredAt: x.acquiredAt,
      expiresAt: x.expiresAt,
      data: x.data,
      ...(x.parents !== undefined && x.parents.length > 0 ? { parents: x.parents } : {}),
      ...(x.epoch !== undefined ? { epoch: x.epoch } : {})
    })
    const parseLease = (key: string, l: V1Lease | undefined): LeaseInfo | undefined => {
      const text = l?.metadata?.annotations?.[Annotations.lease]
      return text === undefined ? undefined : withKey(key, JSON.parse(text) as Stored)
    }
    /** The claims of descendants recorded in a Lease (as leases on the descendants' keys). */
    const parseClaims = (l: V1Lease | undefined): Array<LeaseInfo> => {
      const text = l?.metadata?.annotations?.[Annotations.claims]
      if (text === undefined) return []
      return Object.entries(JSON.parse(text) as Record<string, Stored>).map(([k, x]) => withKey(k, x))
    }
    const strip = ({ key: _k, ...stored }: LeaseInfo): Stored => stored
    /**
     * The write of a lease object: its own lease (if any) and its live claims; deleted when both
     * are gone. `keep` is the current object when its own lease is unchanged (its spec is kept).
     */
    const leaseWrite = (own: LeaseInfo | undefined, claims: ReadonlyArray<LeaseInfo>, now: number, keep?: V1Lease): Write | "delete" => {
      const live = claims.filter((c) => S.isLive(c, now))
      if (own === undefined && live.length === 0) return "delete"
      const annotations: Record<string, string> = {}
      if (own !== undefined) annotations[Annotations.lease] = JSON.stringify(strip(own))
      if (live.length > 0) {
        const out: Record<string, Stored> = {}
        for (const c of live) Object.defineProperty(out, c.key, { value: strip(c), enumerable: true, writable: true, configurable: true })
        annotations[Annotations.claims] = JSON.stringify(out)
      }
      return {
        annotations,
        spec: own === undefined ? {} : keep?.spec !== undefined ? keep.spec : {
          holderIdentity: own.holder,
          leaseDurationSeconds: Math.max(1, Math.ceil((own.expiresAt - now) / 1000)),
          acquireTime: new V1MicroTime(own.acquiredAt),
          renewTime: new V1MicroTime(now)
        }
      }
    }
    const parseJournal = (l: V1Lease | undefined): Array<JournalEntry> => {
      const text = l?.metadata?.annotations?.[Annotations.journal]
      return text === undefined ? [] : (JSON.parse(text) as Array<JournalEntry>)
    }
    const windowWrite = (state: S.WindowState, fences: Record<string, string> = {}): Write => ({
      annotations: { [Annotations.window]: JSON.stringify(state), ...fences }
    })

    /** Raises (or checks) the scope's highest epoch on its fence Lease; fails with StaleEpoch when it is higher. */
    const fenceScope = (operation: string, epoch: GuardrailStore.Epoch | undefined): Effect.Effect<void, StoreError> =>
      epoch === undefined ? Effect.void : Effect.flatMap(guard(operation, () => S.validateEpoch(epoch)), () =>
        mutate(operation, "fence", epoch.scope, (current): Plan<void> => {
          const text = current?.metadata?.annotations?.[Annotations.fenceEpoch]
          const next = S.decideEpoch(text === undefined ? undefined : Number(text), epoch)
          return next === undefined ? { result: undefined } : { result: undefined, write: { annotations: { [Annotations.fenceEpoch]: String(next) } } }
        }))

    /**
     * The fences annotation of an object written with `epoch`: the highest epochs it was written
     * with, per scope. Throws StaleEpoch when the object was written with a higher one.
     */
    const fenceObject = (current: V1Lease | undefined, epoch: GuardrailStore.Epoch | undefined): Record<string, string> => {
      const text = current?.metadata?.annotations?.[Annotations.fences]
      const seen: Record<string, number> = text === undefined ? {} : JSON.parse(text) as Record<string, number>
      if (epoch === undefined) return text === undefined ? {} : { [Annotations.fences]: text }
      const next = S.decideEpoch(Object.prototype.hasOwnProperty.call(seen, epoch.scope) ? seen[epoch.scope] : undefined, epoch)
      const out: Record<string, number> = {}
      for (const [k, v] of Object.entries(seen)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
      if (next !== undefined) Object.defineProperty(out, epoch.scope, { value: next, enumerable: true, writable: true, configurable: true })
      return { [Annotations.fences]: JSON.stringify(out) }
    }
    const redactor = S.redactorFor(options.redactor)

    /** Records (or renews) `lease` as a claim in its parent's Lease; Held when the parent or an equal claim is another holder's. */
    const claim = (parent: string, lease: LeaseInfo, now: number) =>
      mutate("acquireLease", "lease", parent, (current): Plan<{ readonly held?: LeaseInfo; readonly previous?: LeaseInfo }> => {
        const own = parseLease(parent, current)
        if (own !== undefined && S.isLive(own, now) && own.holder !== lease.holder && !S.superseded(own, lease)) return { result: { held: own } }
        const claims = parseClaims(current)
        const previous = claims.find((c) => c.key === lease.key)
        if (previous !== undefined && S.isLive(previous, now) && previous.holder !== lease.holder && !S.superseded(previous, lease)) return { result: { held: previous } }
        const next = [...claims.filter((c) => c.key !== lease.key), lease]
        return { result: previous === undefined ? {} : { previous }, write: leaseWrite(own, next, now, current) }
      })

    /** Takes back a claim written by `claim` (restoring the one it replaced), if it is still ours. */
    const unclaim = (parent: string, lease: LeaseInfo, previous: LeaseInfo | undefined, now: number) =>
      mutate("acquireLease", "lease", parent, (current): Plan<void> => {
        const claims = parseClaims(current)
        const mine = claims.find((c) => c.key === lease.key)
        if (mine === undefined || mine.holder !== lease.holder || mine.expiresAt !== lease.expiresAt) return { result: undefined }
        const next = [...claims.filter((c) => c.key !== lease.key), ...(previous === undefined ? [] : [previous])]
        return { result: undefined, write: leaseWrite(parseLease(parent, current), next, now, current) }
      })

    /** Removes the claim `holder` has on `parent` for `key` (a release, or a lease that left that parent). */
    const dropClaim = (parent: string, key: string, holder: string, now: number) =>
      mutate("releaseLease", "lease", parent, (current): Plan<void> => {
        const claims = parseClaims(current)
        if (!claims.some((c) => c.key === key && c.holder === holder)) return { result: undefined }
        return { result: undefined, write: leaseWrite(parseLease(parent, current), claims.filter((c) => !(c.key === key && c.holder === holder)), now, current) }
      })

    const acquireLease = (request: GuardrailStore.LeaseRequest): Effect.Effect<GuardrailStore.LeaseResult, StoreError> =>
      Effect.gen(function*() {
        const r = yield* redactor
        const checked = yield* guard("acquireLease", () => {
          const c = S.validateLeaseRequest(request)
          return c.data === undefined ? c : { ...c, data: S.redactJsonObject(r, c.data) }
        })
        const { holder, key, now, ttlMs } = checked
        yield* fenceScope("acquireLease", checked.epoch)
        // A renewal without parents keeps the ones it has.
        let parents = checked.parents
        if (parents === undefined) {
          const own = yield* Effect.flatMap(read("acquireLease", "lease", key), (l) => guard("acquireLease", () => parseLease(key, l)))
          parents = own !== undefined && S.isLive(own, now) && own.holder === holder ? own.parents ?? [] : []
        }
        const req: S.CheckedLeaseRequest = { ...checked, parents }
        // The claim each parent records: this lease as it will be (acquiredAt is the parent's business only for display).
        const claimed: Array<{ readonly parent: string; readonly previous: LeaseInfo | undefined }> = []
        const asClaim: LeaseInfo = {
          key,
          holder,
          acquiredAt: now,
          expiresAt: now + ttlMs,
          data: req.data ?? {},
          ...(parents.length > 0 ? { parents } : {}),
          ...(req.epoch !== undefined ? { epoch: req.epoch } : {})
        }
        const rollback = Effect.forEach(claimed, (c) => unclaim(c.parent, asClaim, c.previous, now), { discard: true })
        for (const parent of parents) {
          const c = yield* claim(parent, asClaim, now).pipe(Effect.tapError(() => rollback))
          if (c.held !== undefined) {
            yield* rollback
            return { _tag: "Held", lease: c.held } satisfies GuardrailStore.LeaseResult
          }
          claimed.push({ parent, previous: c.previous })
        }
        const outcome = yield* mutate("acquireLease", "lease", key, (current): Plan<{ readonly result: GuardrailStore.LeaseResult; readonly dropped: ReadonlyArray<string> }> => {
          const claims = parseClaims(current)
          const before = parseLease(key, current)
          const fences = fenceObject(current, req.epoch)
          const decision = S.decideLease(req, before, claims)
          if (decision._tag === "Held") return { result: { result: decision, dropped: [] } }
          // parents this holder's lease no longer names keep no claim for it
          const dropped = before !== undefined && before.holder === holder ? (before.parents ?? []).filter((p) => !parents.includes(p)) : []
          const write = leaseWrite(decision.lease, claims, now)
          return {
            result: { result: { _tag: "Acquired", lease: S.copyLease(decision.lease) }, dropped },
            write: write === "delete" ? write : { ...write, annotations: { ...write.annotations, ...fences } }
          }
        }).pipe(Effect.tapError(() => rollback))
        if (outcome.result._tag === "Held") yield* rollback
        yield* Effect.forEach(outcome.dropped, (parent) => dropClaim(parent, key, holder, now), { discard: true })
        return outcome.result
      })

    const store: LeaseStoreShape = {
      name,
      acquireWindow: (request) =>
        Effect.flatMap(guard("acquireWindow", () => S.validateWindowRequest(request)), () =>
          Effect.andThen(
            fenceScope("acquireWindow", request.epoch),
            mutate("acquireWindow", "window", request.key, (current) => {
              const fences = fenceObject(current, request.epoch)
              const { next, result } = S.acquireWindow(parseWindow(current), request, randomUUID())
              return next !== undefined ? { result, write: windowWrite(next, fences) } : { result }
            })
          )),
      peekWindow: (key, windowMs, now, token) =>
        Effect.flatMap(guard("peekWindow", () => S.validatePeek(key, windowMs, now, token)), () =>
          Effect.flatMap(read("peekWindow", "window", key), (l) => guard("peekWindow", () => S.peekWindow(parseWindow(l), key, windowMs, now, token)))),
      releaseWindow: (key, token) =>
        Effect.flatMap(guard("releaseWindow", () => (S.requireKey(key), S.requireKey(token, "token"))), () =>
          mutate("releaseWindow", "window", key, (current): Plan<void> => {
            const next = S.releaseWindow(parseWindow(current), token)
            if (next === undefined) return { result: undefined }
            return { result: undefined, write: next === null ? "delete" : windowWrite(next, fenceObject(current, undefined)) }
          })),
      get: (key) =>
        Effect.flatMap(guard("get", () => S.requireKey(key)), () =>
          Effect.flatMap(read("get", "value", key), (l) =>
            guard("get", () => {
              const a = l?.metadata?.annotations
              const text = a?.[Annotations.value]
              if (text === undefined) return undefined
              return { value: JSON.parse(text) as CoreJson.Json, version: Number(a?.[Annotations.version]) }
            }))),
      compareAndSet: (key, expectedVersion, value, o) =>
        Effect.flatMap(redactor, (r) =>
          Effect.flatMap(
            guard("compareAndSet", () => {
              S.validateCompareAndSet(key, expectedVersion)
              S.validateEpoch(o?.epoch)
              return JSON.stringify(S.redactJson(r, S.copyJson(value, "value")))
            }),
            (encoded) =>
              Effect.andThen(
                fenceScope("compareAndSet", o?.epoch),
                mutate("compareAndSet", "value", key, (current): Plan<boolean> => {
                  const fences = fenceObject(current, o?.epoch)
                  const version = current === undefined ? 0 : Number(current.metadata?.annotations?.[Annotations.version] ?? "0")
                  if (version !== expectedVersion) return { result: false }
                  return { result: true, write: { annotations: { [Annotations.value]: encoded, [Annotations.version]: String(version + 1), ...fences } } }
                })
              )
          )),
      acquireLease,
      releaseLease: (key, holder) =>
        Effect.gen(function*() {
          yield* guard("releaseLease", () => (S.requireKey(key), S.requireKey(holder, "holder")))
          const released = yield* mutate("releaseLease", "lease", key, (current): Plan<LeaseInfo | undefined> => {
            const cur = parseLease(key, current)
            if (cur === undefined || cur.holder !== holder) return { result: undefined }
            return { result: cur, write: leaseWrite(undefined, parseClaims(current), cur.acquiredAt) }
          })
          // its claims in the parents go with it
          if (released !== undefined) yield* Effect.forEach(released.parents ?? [], (parent) => dropClaim(parent, key, holder, released.acquiredAt), { discard: true })
        }),
      getLease: (key) =>
        Effect.flatMap(guard("getLease", () => S.requireKey(key)), () =>
          Effect.flatMap(read("getLease", "lease", key), (l) => guard("getLease", () => parseLease(key, l)))),
      appendJournal: (entry) =>
        Effect.flatMap(redactor, (r) =>
          Effect.flatMap(guard("appendJournal", () => ({ ...entry, data: S.redactJsonObject(r, S.validateJournalEntry(entry)) })), (redacted) =>
            mutate("appendJournal", "journal", entry.incidentId, (current): Plan<JournalEntry> => {
              const entries = parseJournal(current)
              const stored = S.prepareJournalEntry(redacted, entries.length)
              const all = [...entries, stored]
              const summary = S.summarize(all)
              return {
                result: S.copyEntry(stored),
                write: {
                  annotations: { [Annotations.journal]: JSON.stringify(all), [Annotations.incident]: JSON.stringify(summary) },
                  labels: { [Labels.closed]: String(summary.closed) }
                }
              }
            }))),
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
                .sort(S.byOpening)
            )
          )
        ),
      gc: (now, o = {}) =>
        Effect.gen(function*() {
          const windows = yield* kube.listLeases({ namespace, labelSelector: `${Labels.store}=window` }).pipe(Effect.mapError(fromKube("gc")))
          const w = yield* Effect.forEach(windows, (l) => {
            const key = l.metadata?.annotations?.[Annotations.key]
            const state = parseWindow(l)
            if (key === undefined || state === undefined || S.liveEntries(state.entries, state.windowMs, now).length > 0) return Effect.succeed(0)
            return mutate("gc", "window", key, (current): Plan<number> => {
              const st = parseWindow(current)
              return st !== undefined && S.liveEntries(st.entries, st.windowMs, now).length === 0 ? { result: 1, write: "delete" } : { result: 0 }
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
