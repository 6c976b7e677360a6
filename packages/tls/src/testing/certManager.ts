/**
 * A cert-manager controller model for kube-sim: an installer that registers cert-manager's CRDs
 * (cert-manager.io/v1 Certificate, CertificateRequest, Issuer, ClusterIssuer, with their status
 * subresources and printer columns) and reconciles Certificates the way cert-manager's trigger,
 * issuing and readiness controllers do, issuing for real from an ACME server (Pebble) with
 * acme-client into the `kubernetes.io/tls` Secret.
 *
 * What it does:
 * - Trigger: a Certificate is issued when Issuing=True is already set (`cmctl renew`: reason
 *   `ManuallyTriggered`), its Secret is missing or holds no certificate (`DoesNotExist`,
 *   `MissingData`), the certificate does not parse (`InvalidCertificate`), its DNS names or issuer
 *   differ from the spec (`SecretMismatch`, `IncorrectIssuer`), or the clock (kube-sim's) has
 *   reached `renewalTime` (`Renewing`; `Expired` past notAfter). It sets Issuing=True with that
 *   reason first. After a failure it waits out cert-manager's back-off (1 h doubling to 32 h,
 *   `failedIssuanceAttempts`, `lastFailureTime`) unless Issuing=True is set by hand.
 * - Issuing: a CertificateRequest `<certificate>-<revision>` (CSR, Approved, then Ready/Issued with
 *   the chain), a new private key (rotationPolicy `Always`, cert-manager ≥ 1.18's default; `Never`
 *   keeps the Secret's key; RSA 2048 or ECDSA P-256), an ACME order through the Issuer's or
 *   ClusterIssuer's `spec.acme` (account key kept in `privateKeySecretRef`, created on first use),
 *   http-01 or dns-01 chosen from `solvers` (selectors `dnsNames`/`dnsZones`; wildcards need
 *   dns-01) and answered by the hooks given to `make`. The Secret is updated in place with a
 *   resourceVersion precondition (tls.crt = the chain, tls.key, cert-manager's annotations,
 *   `secretTemplate`), and never owned by the Certificate: deleting the Certificate keeps it.
 * - Status: revision, notBefore, notAfter, renewalTime (`renewBefore`, `renewBeforePercentage`,
 *   default a third of the duration), Ready=True `Ready`; on failure Issuing=False `Failed`.
 *
 * Left out: the Order and Challenge resources (acme.cert-manager.io) and solver pods/ingresses
 * (the hooks answer challenges directly), CA/SelfSigned/Vault/Venafi issuers, approval policies
 * (every request is approved), `spec.duration` sent to the CA (Pebble decides), keystores,
 * `nextPrivateKeySecretName`, Events, webhooks and validation, and `--enable-certificate-owner-ref`
 * (a test can still set an ownerReference on the Secret by hand).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as https from "node:https"
import { X509Certificate } from "node:crypto"
import * as acme from "acme-client"
import * as R from "../certmanager/Resources"

type Obj = Record<string, unknown>

/** A resource key of kube-sim's store (group, version, plural). */
export interface ResourceKey {
  readonly group: string
  readonly version: string
  readonly resource: string
}

/** An object of kube-sim's store. */
export interface SimObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; [key: string]: unknown }
  [key: string]: unknown
}

/**
 * The part of kube-sim's store the model uses (structurally kube-sim's `MemoryStore`, so this
 * package needs no dependency on `@byteport/kube-sim`).
 */
export interface SimStore {
  get(key: ResourceKey, namespace: string | undefined, name: string): SimObject | undefined
  create(key: ResourceKey, input: SimObject): SimObject
  update(key: ResourceKey, input: SimObject): SimObject
  mutate(key: ResourceKey, namespace: string | undefined, name: string, f: (obj: SimObject) => void): SimObject | undefined
  delete(key: ResourceKey, namespace: string | undefined, name: string): SimObject | undefined
  scan(key: ResourceKey): ReadonlyArray<{ readonly obj: SimObject }>
  subscribe(listener: (key: ResourceKey, event: { readonly type: string; readonly object: SimObject }) => void): () => void
}

/** What a kube-sim installer receives (the part the model uses). */
export interface InstallContext {
  readonly store: SimStore
  /** kube-sim's clock (epoch ms). */
  readonly now: () => number
}

/** A kube-sim installer (pass it in `KubeSim.start({ install: [...] })`). */
export type Installer = (ctx: InstallContext) => () => void
type Kobj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown }

const key = (resource: string) => ({ group: R.GROUP, version: R.VERSION, resource })
const SECRETS = { group: "", version: "v1", resource: "secrets" }
const NAMESPACES = { group: "", version: "v1", resource: "namespaces" }
const CRD_KEY = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" }

const crd = (o: {
  kind: string
  plural: string
  namespaced: boolean
  short: ReadonlyArray<string>
  columns: ReadonlyArray<{ name: string; type: string; jsonPath: string; priority?: number }>
}): Kobj => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${o.plural}.${R.GROUP}`, labels: { app: "cert-manager", "app.kubernetes.io/name": "cert-manager" } },
  spec: {
    group: R.GROUP,
    scope: o.namespaced ? "Namespaced" : "Cluster",
    names: { plural: o.plural, singular: o.kind.toLowerCase(), kind: o.kind, listKind: `${o.kind}List`, shortNames: [...o.short], categories: ["cert-manager"] },
    versions: [{
      name: R.VERSION,
      served: true,
      storage: true,
      schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      subresources: { status: {} },
      additionalPrinterColumns: [...o.columns]
    }]
  }
})

const READY_COL = { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' }
const AGE_COL = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }

/** cert-manager's four CRDs (cert-manager.io/v1), as `kubectl get crd -o json` shows their names, scopes and printer columns. */
export const crds = (): ReadonlyArray<Kobj> => [
  crd({
    kind: "Certificate", plural: "certificates", namespaced: true, short: ["cert", "certs"],
    columns: [READY_COL, { name: "Secret", type: "string", jsonPath: ".spec.secretName" }, { name: "Issuer", type: "string", jsonPath: ".spec.issuerRef.name", priority: 1 }, { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 }, AGE_COL]
  }),
  crd({
    kind: "CertificateRequest", plural: "certificaterequests", namespaced: true, short: ["cr", "crs"],
    columns: [{ name: "Approved", type: "string", jsonPath: '.status.conditions[?(@.type=="Approved")].status' }, { name: "Denied", type: "string", jsonPath: '.status.conditions[?(@.type=="Denied")].status' }, READY_COL, { name: "Issuer", type: "string", jsonPath: ".spec.issuerRef.name" }, { name: "Requester", type: "string", jsonPath: ".spec.username" }, AGE_COL]
  }),
  crd({ kind: "Issuer", plural: "issuers", namespaced: true, short: [], columns: [READY_COL, AGE_COL] }),
  crd({ kind: "ClusterIssuer", plural: "clusterissuers", namespaced: false, short: [], columns: [READY_COL, AGE_COL] })
]

/** Answers one ACME challenge: `present` before the CA validates, `cleanUp` after. */
export interface ChallengeHook {
  readonly present: (o: { readonly domain: string; readonly token: string; readonly keyAuthorization: string }) => Promise<void>
  readonly cleanUp: (o: { readonly domain: string; readonly token: string; readonly keyAuthorization: string }) => Promise<void>
}

/** Options of `make`. */
export interface Options {
  /** The hooks that answer the solvers' challenges (an Issuer solver of a type without a hook fails the issuance). */
  readonly solvers: { readonly http01?: ChallengeHook; readonly dns01?: ChallengeHook }
  /** PEM roots trusted for the ACME server's own HTTPS (Pebble's TLS CA); default Node's. */
  readonly acmeCa?: string
  /** Where a ClusterIssuer's account key Secret lives (cert-manager's `--cluster-resource-namespace`; default `cert-manager`). */
  readonly clusterResourceNamespace?: string
  /** acme-client's retries of a failed HTTP request (its global `acmeSettings.retryMaxAttempts`; default acme-client's 5, 5 s apart and growing). */
  readonly acmeRetryMaxAttempts?: number
  /** How often (real ms) every Certificate is re-evaluated against the clock (default 100). */
  readonly resyncMillis?: number
}

/** A running model: its installer, and a way to wait until no reconcile is running. */
export interface CertManagerModel {
  /** The kube-sim installer (pass it in `KubeSim.start({ install: [model.install] })`). */
  readonly install: Installer
  /** Resolves once no reconcile is in flight or queued (after a resync, so clock moves are seen). */
  readonly idle: () => Promise<void>
  /** ACME orders finalized so far (one per issuance). */
  readonly orders: () => number
}

const o = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")
const unb64 = (s: unknown) => (typeof s === "string" ? Buffer.from(s, "base64").toString("utf8") : undefined)

/** The leaf of a PEM chain, or undefined when it does not parse. */
const leafOf = (pem: string | undefined): X509Certificate | undefined => {
  if (pem === undefined) return undefined
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)
  if (first === null) return undefined
  try {
    return new X509Certificate(first[0])
  } catch {
    return undefined
  }
}

const dnsNamesOf = (leaf: X509Certificate): Array<string> =>
  (leaf.subjectAltName ?? "").split(/,\s*/).filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4)).sort()

const wanted = (c: R.Certificate): Array<string> =>
  [...new Set([...(c.spec.dnsNames ?? []), ...(c.spec.commonName !== undefined ? [c.spec.commonName] : [])])].sort()

/** The zone-or-name match of an ACME solver selector. */
const solverFor = (solvers: ReadonlyArray<Obj>, names: ReadonlyArray<string>): Obj | undefined => {
  const wildcard = names.some((n) => n.startsWith("*."))
  const usable = solvers.filter((s) => !(wildcard && s["http01"] !== undefined && s["dns01"] === undefined))
  const byName = usable.find((s) => {
    const sel = o(s["selector"])
    const list = Array.isArray(sel["dnsNames"]) ? (sel["dnsNames"] as Array<string>) : []
    return list.length > 0 && names.every((n) => list.includes(n))
  })
  if (byName) return byName
  const byZone = usable.find((s) => {
    const sel = o(s["selector"])
    const zones = Array.isArray(sel["dnsZones"]) ? (sel["dnsZones"] as Array<string>) : []
    return zones.length > 0 && names.every((n) => zones.some((z) => n === z || n.endsWith(`.${z}`)))
  })
  if (byZone) return byZone
  return usable.find((s) => Object.keys(o(s["selector"])).length === 0)
}

/** Makes the model (install it with `KubeSim.start({ install: [model.install] })`). */
export const make = (options: Options): CertManagerModel => {
  let inflight = 0
  let queued = false
  let ordersDone = 0
  let kick: (() => void) | undefined
  const waiters: Array<() => void> = []
  const settle = () => {
    if (inflight === 0 && !queued) for (const w of waiters.splice(0)) w()
  }

  const install: Installer = (ctx: InstallContext) => {
    const store = ctx.store
    for (const c of crds()) if (store.get(CRD_KEY, undefined, c.metadata.name) === undefined) store.create(CRD_KEY, c as never)
    const clusterNs = options.clusterResourceNamespace ?? "cert-manager"
    const now = () => ctx.now()
    const agent = options.acmeCa !== undefined ? new https.Agent({ ca: options.acmeCa }) : undefined
    const working = new Set<string>()
    let stopped = false

    const setStatus = (ns: string, name: string, f: (status: Obj) => Obj): void => {
      store.mutate(key(R.Plurals.certificates), ns, name, (x) => {
        x["status"] = f({ ...o(x["status"]) })
      })
    }
    const cond = (status: Obj, c: R.Condition, generation: number | undefined): Obj => {
      const list = (Array.isArray(status["conditions"]) ? (status["conditions"] as Array<R.Condition>) : []).filter((x) => x.type !== c.type)
      const was = (Array.isArray(status["conditions"]) ? (status["conditions"] as Array<R.Condition>) : []).find((x) => x.type === c.type)
      const lastTransitionTime = was !== undefined && was.status === c.status ? was.lastTransitionTime : R.rfc3339(now())
      return { ...status, conditions: [...list, { ...c, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) }] }
    }
    const dropCond = (status: Obj, type: string): Obj => ({
      ...status,
      conditions: (Array.isArray(status["conditions"]) ? (status["conditions"] as Array<R.Condition>) : []).filter((x) => x.type !== type)
    })

    const issuerOf = (c: R.Certificate): { obj: Obj; accountNs: string } | undefined => {
      const kind = c.spec.issuerRef.kind ?? "Issuer"
      if (kind === "ClusterIssuer") {
        const i = store.get(key(R.Plurals.clusterissuers), undefined, c.spec.issuerRef.name)
        return i ? { obj: i as Obj, accountNs: clusterNs } : undefined
      }
      const i = store.get(key(R.Plurals.issuers), c.metadata.namespace, c.spec.issuerRef.name)
      return i ? { obj: i as Obj, accountNs: c.metadata.namespace ?? "default" } : undefined
    }

    /** Why the Certificate must be issued now (reason, message), or undefined. */
    const trigger = (c: R.Certificate, secret: Obj | undefined): { reason: string; message: string } | undefined => {
      const issuing = R.condition(c, "Issuing")
      if (issuing?.status === "True") return { reason: issuing.reason ?? "Issuing", message: issuing.message ?? "" }
      const failed = c.status?.lastFailureTime
      if (failed !== undefined && now() < Date.parse(failed) + R.backoffMillis(c.status?.failedIssuanceAttempts ?? 1)) return undefined
      if (secret === undefined) return { reason: "DoesNotExist", message: "Issuing certificate as Secret does not exist" }
      const data = o(secret["data"])
      if (data["tls.crt"] === undefined || data["tls.key"] === undefined) return { reason: "MissingData", message: "Issuing certificate as Secret does not contain any certificate data" }
      const leaf = leafOf(unb64(data["tls.crt"]))
      if (leaf === undefined) return { reason: "InvalidCertificate", message: "Issuing certificate as Secret contains an invalid certificate" }
      if (JSON.stringify(dnsNamesOf(leaf)) !== JSON.stringify(wanted(c))) {
        return { reason: "SecretMismatch", message: "Issuing certificate as Secret was previously issued for a different set of DNS names" }
      }
      const ann = o(o(secret["metadata"])["annotations"])
      if (ann[R.Annotations.issuerName] !== undefined && ann[R.Annotations.issuerName] !== c.spec.issuerRef.name) {
        return { reason: "IncorrectIssuer", message: `Issuing certificate as Secret was previously issued by ${String(ann[R.Annotations.issuerKind] ?? "Issuer")}.${R.GROUP}/${String(ann[R.Annotations.issuerName])}` }
      }
      const nb = Date.parse(leaf.validFrom)
      const na = Date.parse(leaf.validTo)
      if (now() >= na) return { reason: "Expired", message: `Certificate expired on ${new Date(na).toUTCString()}` }
      const rt = R.renewalTime(c.spec, nb, na)
      if (now() >= rt) return { reason: "Renewing", message: `Renewing certificate as renewal was scheduled at ${new Date(rt).toUTCString()}` }
      return undefined
    }

    const readySecret = (c: R.Certificate, secret: Obj): void => {
      const leaf = leafOf(unb64(o(secret["data"])["tls.crt"]))
      if (leaf === undefined) return
      const nb = Date.parse(leaf.validFrom)
      const na = Date.parse(leaf.validTo)
      const ns = c.metadata.namespace ?? "default"
      const before = JSON.stringify(c.status ?? {})
      let next: Obj = { ...o(c.status), notBefore: R.rfc3339(nb), notAfter: R.rfc3339(na), renewalTime: R.rfc3339(R.renewalTime(c.spec, nb, na)) }
      next = cond(next, { type: "Ready", status: "True", reason: "Ready", message: "Certificate is up to date and has not expired" }, c.metadata.generation)
      if (JSON.stringify(next) !== before) setStatus(ns, c.metadata.name, () => next)
    }

    const accountKey = async (issuer: Obj, accountNs: string): Promise<string> => {
      const ref = String(o(o(o(issuer["spec"])["acme"])["privateKeySecretRef"])["name"] ?? "")
      if (ref === "") throw new Error("the issuer has no spec.acme.privateKeySecretRef.name")
      const existing = store.get(SECRETS, accountNs, ref)
      const pem = unb64(o(existing?.["data"])["tls.key"])
      if (pem !== undefined) return pem
      const k = (await acme.crypto.createPrivateEcdsaKey("P-256")).toString()
      if (store.get(NAMESPACES, undefined, accountNs) === undefined) store.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name: accountNs } })
      if (store.get(SECRETS, accountNs, ref) === undefined) {
        store.create(SECRETS, { apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: ref, namespace: accountNs }, data: { "tls.key": b64(k) } } as never)
      }
      return unb64(o(store.get(SECRETS, accountNs, ref)?.["data"])["tls.key"]) ?? k
    }

    const issue = async (c: R.Certificate): Promise<void> => {
      const ns = c.metadata.namespace ?? "default"
      const name = c.metadata.name
      const revision = (c.status?.revision ?? 0) + 1
      const crName = `${name}-${revision}`
      const crKey = key(R.Plurals.certificaterequests)
      const issuer = issuerOf(c)
      const fail = (message: string) => {
        const cur = store.get(key(R.Plurals.certificates), ns, name) as unknown as R.Certificate | undefined
        if (cur === undefined || cur.metadata.uid !== c.metadata.uid) return
        setStatus(ns, name, (s) => {
          let next: Obj = { ...s, lastFailureTime: R.rfc3339(now()), failedIssuanceAttempts: (cur.status?.failedIssuanceAttempts ?? 0) + 1 }
          next = cond(next, { type: "Issuing", status: "False", reason: "Failed", message: `The certificate request has failed to complete and will be retried: ${message}` }, cur.metadata.generation)
          return next
        })
        if (store.get(crKey, ns, crName) !== undefined) {
          store.mutate(crKey, ns, crName, (x) => {
            const s = o(x["status"])
            const conds = (Array.isArray(s["conditions"]) ? (s["conditions"] as Array<Obj>) : []).filter((k) => k["type"] !== "Ready")
            x["status"] = { ...s, conditions: [...conds, { type: "Ready", status: "False", reason: "Failed", message, lastTransitionTime: R.rfc3339(now()) }], failureTime: R.rfc3339(now()) }
          })
        }
      }
      if (issuer === undefined) return fail(`${c.spec.issuerRef.kind ?? "Issuer"} ${c.spec.issuerRef.name} not found`)
      const acmeSpec = o(o(issuer.obj["spec"])["acme"])
      const server = acmeSpec["server"]
      if (typeof server !== "string") return fail(`${c.spec.issuerRef.name} is not an ACME issuer (this model serves spec.acme only)`)
      const names = wanted(c)
      if (names.length === 0) return fail("the Certificate names no dnsNames or commonName")
      const solver = solverFor(Array.isArray(acmeSpec["solvers"]) ? (acmeSpec["solvers"] as Array<Obj>) : [], names)
      if (solver === undefined) return fail(`no solver of ${c.spec.issuerRef.name} matches ${names.join(", ")}`)
      const type = solver["dns01"] !== undefined ? "dns-01" : "http-01"
      const hook = type === "dns-01" ? options.solvers.dns01 : options.solvers.http01
      if (hook === undefined) return fail(`no ${type} challenge hook is configured in the model`)

      const secret = store.get(SECRETS, ns, c.spec.secretName)
      const keepKey = c.spec.privateKey?.rotationPolicy === "Never" ? unb64(o(secret?.["data"])["tls.key"]) : undefined
      const keyPem = keepKey ?? (c.spec.privateKey?.algorithm === "ECDSA"
        ? (await acme.crypto.createPrivateEcdsaKey("P-256")).toString()
        : (await acme.crypto.createPrivateRsaKey(c.spec.privateKey?.size ?? 2048)).toString())
      const [, csr] = await acme.crypto.createCsr({ commonName: c.spec.commonName ?? names[0], altNames: names }, keyPem)
      if (store.get(crKey, ns, crName) !== undefined) store.delete(crKey, ns, crName)
      store.create(crKey, {
        apiVersion: R.API_VERSION,
        kind: "CertificateRequest",
        metadata: {
          name: crName,
          namespace: ns,
          annotations: {
            [R.Annotations.certificateName]: name,
            [R.Annotations.certificateRevision]: String(revision),
            [R.Annotations.privateKeySecretName]: `${name}-model-key`
          },
          ownerReferences: [{ apiVersion: R.API_VERSION, kind: "Certificate", name, uid: String(c.metadata.uid), controller: true, blockOwnerDeletion: true }]
        },
        spec: { request: csr.toString("base64"), issuerRef: { ...c.spec.issuerRef }, usages: ["digital signature", "key encipherment"], username: "system:serviceaccount:cert-manager:cert-manager" }
      } as never)
      store.mutate(crKey, ns, crName, (x) => {
        x["status"] = {
          conditions: [
            { type: "Approved", status: "True", reason: "cert-manager.io", message: "Certificate request has been approved by cert-manager.io", lastTransitionTime: R.rfc3339(now()) },
            { type: "Ready", status: "False", reason: "Pending", message: "Waiting on certificate issuance from order", lastTransitionTime: R.rfc3339(now()) }
          ]
        }
      })

      let chain: string
      try {
        if (agent !== undefined) acme.axios.defaults.httpsAgent = agent
        const settings = (acme.axios.defaults as unknown as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings
        if (options.acmeRetryMaxAttempts !== undefined && settings !== undefined) settings.retryMaxAttempts = options.acmeRetryMaxAttempts
        const client = new acme.Client({ directoryUrl: server, accountKey: await accountKey(issuer.obj, issuer.accountNs), backoffAttempts: 5, backoffMin: 50, backoffMax: 500 })
        const arg = (authz: acme.Authorization, ch: { token: string }, keyAuthorization: string) => ({ domain: authz.identifier.value, token: ch.token, keyAuthorization })
        chain = await client.auto({
          csr,
          termsOfServiceAgreed: true,
          ...(typeof acmeSpec["email"] === "string" ? { email: acmeSpec["email"] } : {}),
          challengePriority: [type],
          skipChallengeVerification: true,
          challengeCreateFn: (authz, ch, ka) => hook.present(arg(authz, ch, ka)),
          challengeRemoveFn: (authz, ch, ka) => hook.cleanUp(arg(authz, ch, ka))
        })
      } catch (e) {
        return fail(e instanceof Error ? e.message : String(e))
      }
      ordersDone++
      const leaf = leafOf(chain)
      if (leaf === undefined) return fail("the CA returned no certificate")
      store.mutate(crKey, ns, crName, (x) => {
        const s = o(x["status"])
        const conds = (Array.isArray(s["conditions"]) ? (s["conditions"] as Array<Obj>) : []).filter((k) => k["type"] !== "Ready")
        x["status"] = { ...s, certificate: b64(chain), conditions: [...conds, { type: "Ready", status: "True", reason: "Issued", message: "Certificate fetched from issuer successfully", lastTransitionTime: R.rfc3339(now()) }] }
      })
      // the Certificate may have been deleted (or re-created) meanwhile: then the result is dropped
      const cur = store.get(key(R.Plurals.certificates), ns, name) as unknown as R.Certificate | undefined
      if (cur === undefined || cur.metadata.uid !== c.metadata.uid) return
      const annotations = {
        ...(c.spec.secretTemplate?.annotations ?? {}),
        [R.Annotations.certificateName]: name,
        [R.Annotations.issuerName]: c.spec.issuerRef.name,
        [R.Annotations.issuerKind]: c.spec.issuerRef.kind ?? "Issuer",
        [R.Annotations.issuerGroup]: c.spec.issuerRef.group ?? R.GROUP,
        [R.Annotations.commonName]: c.spec.commonName ?? "",
        [R.Annotations.altNames]: names.join(","),
        [R.Annotations.ipSans]: "",
        [R.Annotations.uriSans]: ""
      }
      const data = { "tls.crt": b64(chain), "tls.key": b64(keyPem) }
      const existing = store.get(SECRETS, ns, c.spec.secretName)
      if (existing === undefined) {
        store.create(SECRETS, {
          apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls",
          metadata: { name: c.spec.secretName, namespace: ns, annotations, labels: { "controller.cert-manager.io/fao": "true", ...(c.spec.secretTemplate?.labels ?? {}) } },
          data
        } as never)
      } else {
        const meta = o(existing["metadata"])
        // resourceVersion precondition: a concurrent writer makes this a Conflict and the next resync retries
        store.update(SECRETS, {
          ...existing,
          metadata: { ...meta, annotations: { ...o(meta["annotations"]), ...annotations }, labels: { ...o(meta["labels"]), "controller.cert-manager.io/fao": "true", ...(c.spec.secretTemplate?.labels ?? {}) } },
          data: { ...o(existing["data"]), ...data }
        } as never)
      }
      const nb = Date.parse(leaf.validFrom)
      const na = Date.parse(leaf.validTo)
      setStatus(ns, name, (s) => {
        let next: Obj = { ...s, revision, notBefore: R.rfc3339(nb), notAfter: R.rfc3339(na), renewalTime: R.rfc3339(R.renewalTime(c.spec, nb, na)) }
        delete next["lastFailureTime"]
        delete next["failedIssuanceAttempts"]
        next = dropCond(next, "Issuing")
        return cond(next, { type: "Ready", status: "True", reason: "Ready", message: "Certificate is up to date and has not expired" }, cur.metadata.generation)
      })
    }

    const reconcile = async (c: R.Certificate): Promise<void> => {
      if (c.metadata.deletionTimestamp !== undefined) return
      const ns = c.metadata.namespace ?? "default"
      const secret = store.get(SECRETS, ns, c.spec.secretName) as Obj | undefined
      const t = trigger(c, secret)
      if (t === undefined) {
        if (secret !== undefined && !R.isIssuing(c)) readySecret(c, secret)
        return
      }
      if (!R.isIssuing(c)) {
        setStatus(ns, c.metadata.name, (s) => {
          let next = cond(s, { type: "Issuing", status: "True", reason: t.reason, message: t.message }, c.metadata.generation)
          if (t.reason === "DoesNotExist" || t.reason === "Expired" || t.reason === "MissingData" || t.reason === "InvalidCertificate") {
            next = cond(next, { type: "Ready", status: "False", reason: t.reason, message: t.message }, c.metadata.generation)
          }
          return next
        })
      }
      const fresh = store.get(key(R.Plurals.certificates), ns, c.metadata.name) as unknown as R.Certificate | undefined
      if (fresh === undefined || fresh.metadata.uid !== c.metadata.uid) return
      await issue(fresh)
    }

    const resync = () => {
      if (stopped) return
      queued = false
      for (const e of store.scan(key(R.Plurals.certificates))) {
        const c = e.obj as unknown as R.Certificate
        const id = `${c.metadata.namespace}/${c.metadata.name}/${c.metadata.uid}`
        if (working.has(id)) continue
        working.add(id)
        inflight++
        reconcile(c)
          .catch((err) => console.error("cert-manager model: reconcile failed", err))
          .finally(() => {
            working.delete(id)
            inflight--
            settle()
          })
      }
      settle()
    }
    const schedule = () => {
      if (queued || stopped) return
      queued = true
      setImmediate(resync)
    }
    kick = schedule
    const unsubscribe = store.subscribe((k) => {
      if ((k.group === R.GROUP && k.resource !== R.Plurals.certificaterequests) || (k.group === "" && k.resource === "secrets")) schedule()
    })
    const timer = setInterval(schedule, options.resyncMillis ?? 100)
    timer.unref()
    schedule()
    return () => {
      stopped = true
      clearInterval(timer)
      unsubscribe()
    }
  }

  return {
    install,
    orders: () => ordersDone,
    idle: () =>
      new Promise<void>((resolve) => {
        kick?.()
        waiters.push(resolve)
        settle()
      })
  }
}

/** An http-01 hook writing `<webroot>/.well-known/acme-challenge/<token>` (nginx serving the webroot on the CA's http port). */
export const webrootHttp01 = (webroot: string): ChallengeHook => {
  const file = (token: string) => `${webroot}/.well-known/acme-challenge/${token}`
  return {
    present: async ({ token, keyAuthorization }) => {
      fs.mkdirSync(`${webroot}/.well-known/acme-challenge`, { recursive: true })
      fs.writeFileSync(file(token), keyAuthorization, { mode: 0o644 })
    },
    cleanUp: async ({ token }) => fs.rmSync(file(token), { force: true })
  }
}

/** A dns-01 hook setting `_acme-challenge.<domain>` TXT in pebble-challtestsrv (its management URL). */
export const challtestsrvDns01 = (managementUrl: string): ChallengeHook => {
  const post = async (path: string, body: Obj) => {
    const r = await fetch(`${managementUrl}${path}`, { method: "POST", body: JSON.stringify(body) })
    if (!r.ok) throw new Error(`challtestsrv ${path}: HTTP ${r.status}`)
  }
  const host = (domain: string) => `_acme-challenge.${domain.replace(/^\*\./, "")}.`
  return {
    present: ({ domain, keyAuthorization }) => post("/set-txt", { host: host(domain), value: keyAuthorization }),
    cleanUp: ({ domain }) => post("/clear-txt", { host: host(domain) })
  }
}

