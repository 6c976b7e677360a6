/**
 * `RequestRateHistory`: where `host.memory.five-class` learns a service's request rate over time,
 * so traffic_spike (memory climbing **with** the request rate, r ≥ 0.7) can be told from a leak
 * (memory climbing without it). Pluggable: provide your own (Prometheus, a load balancer's
 * counters). The default, `fromStore`, keeps the samples you `record` in the GuardrailStore (one
 * versioned list per service, `keepMs` long, default 3 h), so every agent sharing the store sees
 * them. Without any samples the history has no rps and traffic_spike cannot match.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RequestRateHistory } from "@byteport/host"
 * const history = yield* RequestRateHistory.RequestRateHistory
 * yield* history.record("web.service", { at: Date.now(), rps: 420 })
 * ```
 *
 * @since 0.1.0
 */
import { GuardrailStore } from "@byteport/core"
import { Context, Effect, Layer, Schema } from "effect"
import type * as Stats from "./Stats"

/** One request-rate sample. */
export const RateSample = Schema.Struct({ at: Schema.Number, rps: Schema.Number })
/** One request-rate sample: epoch ms and requests per second. */
export type RateSample = typeof RateSample.Type

/** The operations of a request-rate history. */
export interface RequestRateHistoryShape {
  /** Records one sample of a service. */
  readonly record: (service: string, sample: RateSample) => Effect.Effect<void, GuardrailStore.StoreError>
  /** The samples of a service between `from` and `to` (epoch ms, inclusive), oldest first. */
  readonly range: (service: string, from: number, to: number) => Effect.Effect<ReadonlyArray<RateSample>, GuardrailStore.StoreError>
}

/** The RequestRateHistory service. */
export class RequestRateHistory extends Context.Service<RequestRateHistory, RequestRateHistoryShape>()("@byteport/host/RequestRateHistory") {}

/** The store key of a service's samples. */
export const storeKey = (service: string): string => `host.request-rate:${service}`

const decode = Schema.decodeUnknownOption(Schema.Array(RateSample))

/** A history kept in the GuardrailStore: `keepMs` (default 3 h) of samples per service, written with compare-and-set. */
export const fromStore = (store: GuardrailStore.GuardrailStoreShape, keepMs = 3 * 3_600_000): RequestRateHistoryShape => ({
  record: (service, sample) =>
    Effect.gen(function*() {
      const key = storeKey(service)
      for (let i = 0; i < 20; i++) {
        const cur = yield* store.get(key)
        const list = cur === undefined ? [] : decode(cur.value).pipe((o) => (o._tag === "Some" ? o.value : []))
        const next = [...list, sample].filter((s) => s.at >= sample.at - keepMs).sort((a, b) => a.at - b.at)
        if (yield* store.compareAndSet(key, cur?.version ?? 0, next)) return
      }
      return yield* new GuardrailStore.StoreError({ store: store.name, operation: "compareAndSet", message: `request-rate record of ${service} lost 20 races` })
    }),
  range: (service, from, to) =>
    Effect.map(store.get(storeKey(service)), (cur) => {
      const list = cur === undefined ? [] : decode(cur.value).pipe((o) => (o._tag === "Some" ? o.value : []))
      return list.filter((s) => s.at >= from && s.at <= to)
    })
})

/** The store-backed history as a layer (needs the GuardrailStore). */
export const layerStore = (keepMs?: number): Layer.Layer<RequestRateHistory, never, GuardrailStore.GuardrailStore> =>
  Layer.effect(RequestRateHistory, Effect.gen(function*() {
    return fromStore(yield* GuardrailStore.GuardrailStore, keepMs)
  }))

/**
 * The history to read: the provided `RequestRateHistory`, else the store-backed default over the
 * GuardrailStore.
 */
export const current: Effect.Effect<RequestRateHistoryShape, never, GuardrailStore.GuardrailStore> = Effect.gen(function*() {
  const provided = yield* Effect.serviceOption(RequestRateHistory)
  if (provided._tag === "Some") return provided.value
  return fromStore(yield* GuardrailStore.GuardrailStore)
})

/**
 * Joins memory samples with the request rate: each sample without an rps takes the rate sample
 * nearest in time within `toleranceMs` (default 60 s); samples with none keep no rps.
 */
export const join = (memory: ReadonlyArray<Stats.Sample>, rates: ReadonlyArray<RateSample>, toleranceMs = 60_000): ReadonlyArray<Stats.Sample> =>
  memory.map((m) => {
    if (m.rps !== undefined || rates.length === 0) return m
    let best: RateSample | undefined
    for (const r of rates) {
      if (Math.abs(r.at - m.at) <= toleranceMs && (best === undefined || Math.abs(r.at - m.at) < Math.abs(best.at - m.at))) best = r
    }
    return best === undefined ? m : { ...m, rps: best.rps }
  })
