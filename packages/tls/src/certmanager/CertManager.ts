/**
 * Renewing a cert-manager Certificate from outside the cluster, with @kubernetes/client-node:
 *
 * - `forceRenew` does what `cmctl renew` does: it sets the Certificate's `Issuing` condition to
 *   True with reason `ManuallyTriggered` through the status subresource (a replace carrying the
 *   resourceVersion read, so a concurrent writer makes it a conflict), then waits until the
 *   revision moved and Ready=True, or the issuance failed (Issuing=False `Failed`).
 * - `recreate` deletes the Certificate (preconditions: its uid and resourceVersion) and creates it
 *   again from its spec, labels and annotations, keeping its Secret: the old certificate is served
 *   meanwhile. A Secret the Certificate owns (`--enable-certificate-owner-ref`) is released first
 *   (its ownerReference removed) so the garbage collector does not take it. The new Certificate
 *   starts with no failure back-off, so a due renewal is issued at once.
 *
 * Both come as core action kinds with `observe` and dry_run (`handlers`, `renewAction`,
 * `recreateAction`): dry_run reads, checks the preconditions and sends the write with
 * `dryRun=All`, persisting nothing. `renewer` is the `Renewer` of kind `cert-manager` (the
 * request's `name` is `namespace/name`); it returns the Secret's chain, the key `Redacted`.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { ApiException, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node"
import type { KubeConfig, V1Secret } from "@kubernetes/client-node"
import { Clock, Effect, Redacted, Schema } from "effect"
import * as Certificate from "../Certificate"
import * as Renewer from "../renewers/Renewer"
import * as R from "./Resources"

/** The Certificate changed since it was read or planned (another uid, revision or resourceVersion). */
export class CertificateConflict extends Schema.TaggedError<CertificateConflict>()("CertificateConflict", {
  namespace: Schema.String,
  name: Schema.String,
  message: Schema.String
}) {}

/** The action kind of the forced renewal. */
export const RENEW_KIND = "tls.certManager.renew"
/** The action kind of delete-and-re-create. */
export const RECREATE_KIND = "tls.certManager.recreateCertificate"

/** Where a Certificate is. */
export interface Ref {
  readonly namespace: string
  readonly name: string
}

/** What a renewal or a re-creation left: the Certificate's uid and revision, the Secret's leaf before and after. */
export interface Outcome {
  readonly uid: string
  readonly revision: number
  /** The Secret's leaf before (undefined: no Secret then). */
  readonly before: Certificate.Certificate | undefined
  /** The Secret's leaf after. */
  readonly after: Certificate.Certificate | undefined
  /** The Secret's chain and key after (the key never prints). */
  readonly fullchain: string | undefined
  readonly key: Redacted.Redacted<string> | undefined
}

type Failure = Renewer.RenewFailed | Renewer.RenewerMisconfigured | CertificateConflict

const RENEWER = "cert-manager"
const failed = (message: string) => new Renewer.RenewFailed({ renewer: RENEWER, message })
const coRef = (r: Ref) => ({ group: R.GROUP, version: R.VERSION, plural: R.Plurals.certificates, namespace: r.namespace, name: r.name })
const codeOf = (e: unknown): number | undefined => (e instanceof ApiException ? e.code : undefined)
const describeErr = (e: unknown): string => (e instanceof ApiException ? `HTTP ${e.code}` : e instanceof Error ? e.message : String(e))

const api = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => ({ code: codeOf(e), message: `${what}: ${describeErr(e)}` }) })

/** Reads a Certificate (undefined when it does not exist). */
export const get = (kc: KubeConfig, ref: Ref): Effect.Effect<R.Certificate | undefined, Renewer.RenewFailed> =>
  api(`get Certificate ${ref.namespace}/${ref.name}`, () => kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject(coRef(ref))).pipe(
    Effect.map((o) => o as R.Certificate | undefined),
    Effect.catch((e) => (e.code === 404 ? Effect.succeed(undefined) : Effect.fail(failed(e.message))))
  )

const readSecret = (kc: KubeConfig, namespace: string, name: string): Effect.Effect<V1Secret | undefined, Renewer.RenewFailed> =>
  api(`get Secret ${namespace}/${name}`, () => kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name })).pipe(
    Effect.map((s): V1Secret | undefined => s),
    Effect.catch((e) => (e.code === 404 ? Effect.succeed(undefined) : Effect.fail(failed(e.message))))
  )

const leafOf = (s: V1Secret | undefined): Certificate.Certificate | undefined => {
  const crt = s?.data?.["tls.crt"]
  if (crt === undefined) return undefined
  const chain = Certificate.parsePemBundle(Buffer.from(crt, "base64").toString("utf8"))
  return chain[0] !== undefined ? Certificate.fromX509(chain[0]) : undefined
}

const sleep = (ms: number) => Effect.sleep(`${ms} millis`)

/** Waits until `probe` returns a value, polling every `pollMillis`, failing after `timeoutMillis`. */
const waitFor = <A, E>(probe: Effect.Effect<A | undefined, E>, timeoutMillis: number, what: string, pollMillis = 100): Effect.Effect<A, E | Renewer.RenewFailed> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMillis
    for (;;) {
      const a = yield* probe
      if (a !== undefined) return a
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* failed(`timed out after ${timeoutMillis} ms waiting for ${what}`)
      yield* sleep(pollMillis)
    }
  })

/** A Secret's managing Certificate, as the `cert_manager_managed` class needs to know. */
export interface ManagedBy {
  readonly namespace: string
  readonly name: string
  readonly uid: string
  readonly revision: number
  readonly issuerRef: R.Certificate["spec"]["issuerRef"]
}

/**
 * The cert-manager Certificate whose Secret is `namespace/secretName` (undefined: none — not a
 * cert-manager Secret, or cert-manager is not installed). A Certificate in the namespace with that
 * `spec.secretName` wins; a Secret annotated `cert-manager.io/certificate-name` whose Certificate
 * still exists counts too.
 */
export const certificateOfSecret = (kc: KubeConfig, namespace: string, secretName: string): Effect.Effect<ManagedBy | undefined, Renewer.RenewFailed> =>
  Effect.gen(function*() {
    const list = yield* api(`list Certificates in ${namespace}`, () =>
      kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, namespace, plural: R.Plurals.certificates })
    ).pipe(
      Effect.map((l) => ((l as { items?: Array<R.Certificate> }).items ?? [])),
      // 404: the CRD is not served (cert-manager not installed)
      Effect.catch((e) => (e.code === 404 ? Effect.succeed([] as Array<R.Certificate>) : Effect.fail(failed(e.message))))
    )
    let cert = list.find((c) => c.spec.secretName === secretName && c.metadata.deletionTimestamp === undefined)
    if (cert === undefined) {
      const secret = yield* readSecret(kc, namespace, secretName)
      const named = secret?.metadata?.annotations?.[R.Annotations.certificateName]
      cert = named !== undefined ? list.find((c) => c.metadata.name === named) : undefined
    }
    if (cert === undefined) return undefined
    return { namespace, name: cert.metadata.name, uid: cert.metadata.uid ?? "", revision: cert.status?.revision ?? 0, issuerRef: cert.spec.issuerRef }
  })

/** The Issuing condition `cmctl renew` writes. */
export const manualTrigger = (generation: number | undefined, now: number): R.Condition => ({
  type: "Issuing",
  status: "True",
  reason: R.MANUALLY_TRIGGERED,
  message: R.MANUALLY_TRIGGERED_MESSAGE,
  lastTransitionTime: R.rfc3339(now),
  ...(generation !== undefined ? { observedGeneration: generation } : {})
})

/** Options of `forceRenew` and `recreate`. */
export interface RunOptions {
  /** Send the write with `dryRun=All` and wait for nothing. */
  readonly dryRun?: boolean
  /** Wait for the new certificate (default true). */
  readonly wait?: boolean
  /** How long the wait may take (default 120 s). */
  readonly timeoutMillis?: number
  /** Planned-from revision (forceRenew) or uid (recreate): a different one is a `CertificateConflict`. */
  readonly expectRevision?: number
  readonly expectUid?: string
}

const secretOutcome = (kc: KubeConfig, cert: R.Certificate, before: Certificate.Certificate | undefined) =>
  Effect.gen(function*() {
    const s = yield* readSecret(kc, cert.metadata.namespace ?? "default", cert.spec.secretName)
    const crt = s?.data?.["tls.crt"]
    const key = s?.data?.["tls.key"]
    return {
      uid: cert.metadata.uid ?? "",
      revision: cert.status?.revision ?? 0,
      before,
      after: leafOf(s),
      fullchain: crt !== undefined ? Buffer.from(crt, "base64").toString("utf8") : undefined,
      key: key !== undefined ? Redacted.make(Buffer.from(key, "base64").toString("utf8")) : undefined
    } satisfies Outcome
  })

/** `cmctl renew`: Issuing=True `ManuallyTriggered`, then (by default) waits for the next revision. */
export const forceRenew = (kc: KubeConfig, ref: Ref, options: RunOptions = {}): Effect.Effect<Outcome, Failure> =>
  Effect.gen(function*() {
    const cert = yield* get(kc, ref)
    if (cert === undefined) return yield* new Renewer.RenewerMisconfigured({ renewer: RENEWER, message: `Certificate ${ref.namespace}/${ref.name} does not exist` })
    const revision = cert.status?.revision ?? 0
    if (options.expectRevision !== undefined && revision !== options.expectRevision) {
      return yield* new CertificateConflict({ ...ref, message: `Certificate ${ref.namespace}/${ref.name} is at revision ${revision}, planned from ${options.expectRevision}` })
    }
    const before = leafOf(yield* readSecret(kc, ref.namespace, cert.spec.secretName))
    const now = yield* Clock.currentTimeMillis
    if (!R.isIssuing(cert)) {
      // as cmctl: the condition is set through the status subresource; an update carrying the
      // resourceVersion read makes a concurrent change a 409
      const conditions = [...(cert.status?.conditions ?? []).filter((c) => c.type !== "Issuing"), manualTrigger(cert.metadata.generation, now)]
      const body = { ...cert, status: { ...cert.status, conditions } }
      yield* api(`update status of Certificate ${ref.namespace}/${ref.name}`, () =>
        kc.makeApiClient(CustomObjectsApi).replaceNamespacedCustomObjectStatus({ ...coRef(ref), body, ...(options.dryRun === true ? { dryRun: "All" } : {}) })
      ).pipe(Effect.catch((e): Effect.Effect<never, Failure> =>
        e.code === 409 ? Effect.fail(new CertificateConflict({ ...ref, message: `Certificate ${ref.namespace}/${ref.name} changed while it was being triggered` })) : Effect.fail(failed(e.message))
      ))
    }
    if (options.dryRun === true || options.wait === false) return yield* secretOutcome(kc, cert, before)
    const done = yield* waitFor(
      Effect.gen(function*() {
        const c = yield* get(kc, ref)
        if (c === undefined) return yield* failed(`Certificate ${ref.namespace}/${ref.name} was deleted during the renewal`)
        const issuing = R.condition(c, "Issuing")
        if (issuing?.status === "False" && issuing.reason === "Failed" && c.status?.lastFailureTime !== undefined && Date.parse(c.status.lastFailureTime) >= Math.floor(now / 1000) * 1000) {
          return yield* failed(`cert-manager could not issue ${ref.namespace}/${ref.name}: ${issuing.message ?? "Failed"}`)
        }
        return (c.status?.revision ?? 0) > revision && R.isReady(c) && issuing === undefined ? c : undefined
      }),
      options.timeoutMillis ?? 120_000,
      `Certificate ${ref.namespace}/${ref.name} to reach revision ${revision + 1}`
    )
    return yield* secretOutcome(kc, done, before)
  })

/** The fields of a Certificate that `recreate` carries over (spec, labels, annotations). */
export const recreated = (cert: R.Certificate): R.Certificate => ({
  apiVersion: R.API_VERSION,
  kind: "Certificate",
  metadata: {
    name: cert.metadata.name,
    ...(cert.metadata.namespace !== undefined ? { namespace: cert.metadata.namespace } : {}),
    ...(cert.metadata.labels !== undefined ? { labels: { ...cert.metadata.labels } } : {}),
    ...(cert.metadata.annotations !== undefined ? { annotations: Object.fromEntries(Object.entries(cert.metadata.annotations).filter(([k]) => k !== "kubectl.kubernetes.io/last-applied-configuration")) } : {})
  },
  spec: JSON.parse(JSON.stringify(cert.spec)) as R.Certificate["spec"]
})

/** Deletes the Certificate and creates it again from its spec, keeping the Secret; then (by default) waits for Ready. */
export const recreate = (kc: KubeConfig, ref: Ref, options: RunOptions = {}): Effect.Effect<Outcome, Failure> =>
  Effect.gen(function*() {
    const custom = kc.makeApiClient(CustomObjectsApi)
    const core = kc.makeApiClient(CoreV1Api)
    const cert = yield* get(kc, ref)
    if (cert === undefined) return yield* new Renewer.RenewerMisconfigured({ renewer: RENEWER, message: `Certificate ${ref.namespace}/${ref.name} does not exist` })
    const uid = cert.metadata.uid ?? ""
    if (options.expectUid !== undefined && uid !== options.expectUid) {
      return yield* new CertificateConflict({ ...ref, message: `Certificate ${ref.namespace}/${ref.name} has uid ${uid}, planned from ${options.expectUid}` })
    }
    const dry = options.dryRun === true ? { dryRun: "All" } : {}
    const secret = yield* readSecret(kc, ref.namespace, cert.spec.secretName)
    const before = leafOf(secret)
    // a Secret the Certificate owns would be garbage-collected with it: release it first
    const owned = (secret?.metadata?.ownerReferences ?? []).filter((o) => o.uid === uid)
    if (secret !== undefined && owned.length > 0) {
      const body: V1Secret = { ...secret, metadata: { ...secret.metadata, ownerReferences: (secret.metadata?.ownerReferences ?? []).filter((o) => o.uid !== uid) } }
      yield* api(`release Secret ${ref.namespace}/${cert.spec.secretName}`, () =>
        core.replaceNamespacedSecret({ namespace: ref.namespace, name: cert.spec.secretName, body, ...dry })
      ).pipe(Effect.catch((e): Effect.Effect<never, Failure> =>
        e.code === 409 ? Effect.fail(new CertificateConflict({ ...ref, message: `Secret ${ref.namespace}/${cert.spec.secretName} changed while it was being released` })) : Effect.fail(failed(e.message))
      ))
    }
    yield* api(`delete Certificate ${ref.namespace}/${ref.name}`, () =>
      custom.deleteNamespacedCustomObject({ ...coRef(ref), body: { preconditions: { uid, resourceVersion: cert.metadata.resourceVersion } }, ...dry })
    ).pipe(Effect.catch((e): Effect.Effect<never, Failure> =>
      e.code === 409 || e.code === 404 ? Effect.fail(new CertificateConflict({ ...ref, message: `Certificate ${ref.namespace}/${ref.name} changed before it could be deleted (${e.message})` })) : Effect.fail(failed(e.message))
    ))
    if (options.dryRun === true) return yield* secretOutcome(kc, cert, before)
    yield* waitFor(get(kc, ref).pipe(Effect.map((c) => (c === undefined || c.metadata.uid !== uid ? true : undefined))), options.timeoutMillis ?? 120_000, `Certificate ${ref.namespace}/${ref.name} to be deleted`)
    const created = (yield* api(`create Certificate ${ref.namespace}/${ref.name}`, () =>
      custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: R.Plurals.certificates, namespace: ref.namespace, body: recreated(cert) })
    ).pipe(Effect.mapError((e) => failed(e.message)))) as R.Certificate
    const newUid = created.metadata.uid ?? ""
    if (options.wait === false) return yield* secretOutcome(kc, created, before)
    const done = yield* waitFor(
      get(kc, ref).pipe(Effect.map((c) => (c !== undefined && c.metadata.uid === newUid && R.isReady(c) && !R.isIssuing(c) ? c : undefined))),
      options.timeoutMillis ?? 120_000,
      `the re-created Certificate ${ref.namespace}/${ref.name} to be Ready`
    )
    return yield* secretOutcome(kc, done, before)
  })

/** The `Renewer` of kind `cert-manager`: `request.name` is the Certificate's `namespace/name`; renews as `cmctl renew`. */
export const renewer = (kc: KubeConfig): Renewer.Renewer => ({
  kind: RENEWER,
  challenges: ["http-01", "dns-01"],
  describe: (request) => `force-renew the cert-manager Certificate ${request.name ?? "?"} as cmctl renew does (Issuing=True, reason ManuallyTriggered) and wait for its next revision`,
  renew: (request) =>
    Effect.gen(function*() {
      const [namespace, name] = (request.name ?? "").split("/")
      if (namespace === undefined || name === undefined || namespace === "" || name === "") {
        return yield* new Renewer.RenewerMisconfigured({ renewer: RENEWER, message: "the request's name must be the Certificate's namespace/name" })
      }
      const out = yield* forceRenew(kc, { namespace, name }, { ...(request.timeoutMillis !== undefined ? { timeoutMillis: request.timeoutMillis } : {}) }).pipe(
        Effect.catchTag("CertificateConflict", (e) => Effect.fail(failed(e.message)))
      )
      if (out.after === undefined || out.fullchain === undefined) return yield* failed(`the Secret of ${namespace}/${name} holds no certificate after the renewal`)
      const blocks = out.fullchain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
      return {
        renewer: RENEWER,
        domains: out.after.dnsNames,
        pems: { cert: blocks[0] ?? "", chain: blocks.slice(1).join(""), fullchain: out.fullchain, ...(out.key !== undefined ? { key: out.key } : {}) },
        serial: out.after.serial,
        fingerprint256: out.after.fingerprint256,
        notBefore: out.after.notBefore,
        notAfter: out.after.notAfter,
        challenges: []
      } satisfies Renewer.Renewed
    })
})

/** Params of both action kinds. */
export const Params = Schema.Struct({
  namespace: Schema.String,
  name: Schema.String,
  /** How long to wait for the new certificate (ms, default 120 000). */
  timeoutMillis: Schema.optionalKey(Schema.Number)
})
/** Params of both action kinds. */
export type Params = typeof Params.Type

const fp = (c: Certificate.Certificate | undefined) => (c === undefined ? "none" : `${c.fingerprint256.slice(0, 23)}… (serial ${c.serial})`)
const toActionFailed = (kind: string) => (e: Failure) =>
  new ActionHandler.ActionFailed({ kind, message: e.message, ...(e._tag === "CertificateConflict" ? { conflict: true } : {}) })

const precondition = (action: Action.Action): Record<string, unknown> => action.precondition as Record<string, unknown>

/** `tls.certManager.renew` and `tls.certManager.recreateCertificate`, against the cluster of `kc`. */
export const handlers = (kc: KubeConfig): ReadonlyArray<ActionHandler.ActionHandler> => [
  ActionHandler.make<Params>({
    kind: RENEW_KIND,
    params: Params,
    apply: (p, ctx) => {
      const expect = precondition(ctx.action)["revision"]
      return forceRenew(kc, p, {
        dryRun: ctx.dryRun,
        ...(typeof expect === "number" ? { expectRevision: expect } : {}),
        ...(p.timeoutMillis !== undefined ? { timeoutMillis: p.timeoutMillis } : {})
      }).pipe(
        Effect.map((o) => ({
          detail: ctx.dryRun
            ? `would set Issuing=True (ManuallyTriggered) on ${p.namespace}/${p.name} at revision ${o.revision} (dryRun=All accepted)`
            : `${p.namespace}/${p.name} renewed to revision ${o.revision}: ${fp(o.before)} → ${fp(o.after)}`,
          result: { revision: o.revision, before: o.before?.fingerprint256 ?? null, after: o.after?.fingerprint256 ?? null, notAfter: o.after?.notAfter ?? null }
        })),
        Effect.mapError(toActionFailed(RENEW_KIND))
      )
    },
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const c = yield* get(kc, p)
        if (c === undefined) return ActionHandler.unknown(`Certificate ${p.namespace}/${p.name} does not exist`)
        const planned = precondition(ctx.action)["revision"]
        const revision = c.status?.revision ?? 0
        const issuing = R.condition(c, "Issuing")
        if (typeof planned === "number" && revision > planned) return ActionHandler.applied(`revision ${revision} (planned from ${planned})`)
        if (issuing?.status === "True" && issuing.reason === R.MANUALLY_TRIGGERED) return ActionHandler.applied(`Issuing=True ManuallyTriggered, revision ${revision}`)
        if (typeof planned === "number" && revision === planned) return ActionHandler.notApplied(`still revision ${revision}, not triggered`)
        return ActionHandler.unknown(`revision ${revision}, planned from ${String(planned)}`)
      })
  }),
  ActionHandler.make<Params>({
    kind: RECREATE_KIND,
    params: Params,
    apply: (p, ctx) => {
      const expect = precondition(ctx.action)["uid"]
      return recreate(kc, p, {
        dryRun: ctx.dryRun,
        ...(typeof expect === "string" ? { expectUid: expect } : {}),
        ...(p.timeoutMillis !== undefined ? { timeoutMillis: p.timeoutMillis } : {})
      }).pipe(
        Effect.map((o) => ({
          detail: ctx.dryRun
            ? `would delete Certificate ${p.namespace}/${p.name} (uid ${o.uid}; dryRun=All accepted) and create it again from its spec, keeping its Secret`
            : `${p.namespace}/${p.name} re-created (uid ${o.uid}), Secret kept: ${fp(o.before)} → ${fp(o.after)}`,
          result: { uid: o.uid, revision: o.revision, before: o.before?.fingerprint256 ?? null, after: o.after?.fingerprint256 ?? null }
        })),
        Effect.mapError(toActionFailed(RECREATE_KIND))
      )
    },
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const c = yield* get(kc, p)
        const planned = precondition(ctx.action)["uid"]
        if (c === undefined) return ActionHandler.unknown(`Certificate ${p.namespace}/${p.name} is deleted and not re-created`)
        if (c.metadata.uid === planned) return ActionHandler.notApplied(`Certificate ${p.namespace}/${p.name} is still uid ${c.metadata.uid}`)
        return ActionHandler.applied(`Certificate ${p.namespace}/${p.name} re-created (uid ${c.metadata.uid ?? "?"})`)
      })
  })
]

/** The forced renewal as an action; `revision` is the Certificate's status.revision when planned. */
export const renewAction = (o: Ref & { readonly revision: number; readonly timeoutMillis?: number }): Action.Action =>
  Action.make({
    kind: RENEW_KIND,
    target: TargetRef.make("cert-manager-certificate", `${o.namespace}/${o.name}`),
    params: { namespace: o.namespace, name: o.name, ...(o.timeoutMillis !== undefined ? { timeoutMillis: o.timeoutMillis } : {}) } as Json.JsonObject,
    precondition: { revision: o.revision },
    timeoutMs: (o.timeoutMillis ?? 120_000) + 10_000,
    description: `force-renew the cert-manager Certificate ${o.namespace}/${o.name} (cmctl renew: Issuing=True, ManuallyTriggered)`
  })

/** Delete-and-re-create as an action; `uid` is the Certificate's uid when planned. */
export const recreateAction = (o: Ref & { readonly uid: string; readonly timeoutMillis?: number }): Action.Action =>
  Action.make({
    kind: RECREATE_KIND,
    target: TargetRef.make("cert-manager-certificate", `${o.namespace}/${o.name}`),
    params: { namespace: o.namespace, name: o.name, ...(o.timeoutMillis !== undefined ? { timeoutMillis: o.timeoutMillis } : {}) } as Json.JsonObject,
    precondition: { uid: o.uid },
    timeoutMs: (o.timeoutMillis ?? 120_000) + 10_000,
    description: `delete the cert-manager Certificate ${o.namespace}/${o.name} and create it again from its spec, keeping its Secret (the old certificate is served meanwhile)`
  })
