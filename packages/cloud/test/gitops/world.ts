/** kube-sim with the GitOps reconciler model reading the GitHubFake's repository, on one virtual clock. */
import { KubeSim } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { AppsV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node"
import { GitHubFake } from "@byteport/cloud/testing"
import * as GitOpsModel from "../../src/testing/GitOpsModel"
import * as R from "../../src/gitops/Resources"

/** The repository the GitOps objects track. */
export const REPO = "acme/shop"
/** Its URL as Argo CD and Flux name it. */
export const REPO_URL = "https://github.com/acme/shop.git"
/** Argo CD's reconciliation interval in these tests (its default). */
export const ARGO_INTERVAL = 180_000

/** A running world. */
export interface World {
  readonly sim: KubeSimInstance
  readonly github: GitHubFake.GitHubFake
  readonly model: GitOpsModel.GitOpsModel
  readonly manifests: GitOpsModel.Manifests
  readonly kc: KubeConfig
  readonly custom: CustomObjectsApi
  readonly apps: AppsV1Api
  /** Moves the shared clock and waits for a model pass that saw it. */
  readonly advance: (ms: number) => Promise<void>
  readonly now: () => number
  /** Commits a revision deploying `image` (Deployment `shop` in `deploy/`); returns its sha. */
  readonly release: (image: string, o?: { readonly path?: string; readonly author?: string; readonly message?: string; readonly neverReady?: boolean }) => Promise<string>
  /** The image the live Deployment runs. */
  readonly image: (name?: string, namespace?: string) => Promise<string | undefined>
  /** Sets the live Deployment's image by hand (a rollback that bypasses GitOps). */
  readonly setImage: (image: string, name?: string, namespace?: string) => Promise<void>
  readonly get: (t: R.ResourceType, namespace: string, name: string) => Promise<R.Obj>
  readonly create: (t: R.ResourceType, namespace: string, body: R.Obj) => Promise<void>
  readonly close: () => Promise<void>
}

/** Starts the GitHub fake, kube-sim with the model, and commits the first revision (`shop:1`). */
export const start = async (o: { readonly namespaces?: ReadonlyArray<string> } = {}): Promise<World> => {
  let t = Date.UTC(2026, 11, 7, 12, 0, 0)
  const now = () => t
  const github = await GitHubFake.start({ now })
  github.addRepo(REPO)
  const manifests = GitOpsModel.manifests()
  const model = GitOpsModel.make({ git: GitOpsModel.gitHubSource({ url: github.url, token: "test-token", manifests }), argoIntervalMs: ARGO_INTERVAL, resyncMillis: 10 })
  const sim = await KubeSim.start({ seed: 16, now, install: [model.install], namespaces: ["default", "kube-system", "argocd", "flux-system", "shop", ...(o.namespaces ?? [])] })
  const kc = new KubeConfig()
  kc.loadFromString(sim.kubeconfig())
  const custom = kc.makeApiClient(CustomObjectsApi)
  const apps = kc.makeApiClient(AppsV1Api)
  // This world runs no kube-sim controllers: a minimal Deployment status writer stands in for the
  // Deployment controller (real-time loop, virtual clock): a revision rolls out at once, one whose
  // pods never pass readiness (kube-sim's behaviour annotation) stays unavailable and, after its
  // progressDeadlineSeconds (default 600), gets Progressing=False ProgressDeadlineExceeded.
  const since = new Map<string, { generation: number; at: number }>()
  let stopped = false
  const rollouts = async () => {
    while (!stopped) {
      try {
        const list = await apps.listDeploymentForAllNamespaces()
        for (const d of list.items) {
          const key = `${d.metadata!.namespace}/${d.metadata!.name}`
          const gen = d.metadata!.generation ?? 1
          const first = since.get(key)
          if (first === undefined || first.generation !== gen) since.set(key, { generation: gen, at: t })
          const startedAt = since.get(key)!.at
          const never = (d.spec?.template.metadata?.annotations?.["kube-sim.byteport.io/behavior"] ?? "").includes("\"neverReady\":true")
          const n = d.spec?.replicas ?? 1
          const overdue = never && t - startedAt > (d.spec?.progressDeadlineSeconds ?? 600) * 1000
          const status = {
            observedGeneration: gen,
            replicas: n,
            updatedReplicas: n,
            readyReplicas: never ? 0 : n,
            availableReplicas: never ? 0 : n,
            conditions: [{ type: "Progressing", status: overdue ? "False" : "True", reason: overdue ? "ProgressDeadlineExceeded" : never ? "ReplicaSetUpdated" : "NewReplicaSetAvailable", message: "", lastUpdateTime: new Date(t), lastTransitionTime: new Date(startedAt) }]
          }
          if (JSON.stringify({ ...d.status, conditions: undefined }) === JSON.stringify({ ...status, conditions: undefined }) && d.status?.conditions?.[0]?.reason === status.conditions[0]!.reason) continue
          await apps.replaceNamespacedDeploymentStatus({ name: d.metadata!.name!, namespace: d.metadata!.namespace!, body: { ...d, status } })
        }
      } catch {
        // a conflict or a closing server: next round
      }
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  void rollouts()
  const world: World = {
    sim, github, model, manifests, kc, custom, apps, now,
    advance: async (ms) => {
      t += ms
      await model.idle()
    },
    release: async (image, r = {}) => {
      const { sha } = await GitOpsModel.commit(github, manifests, {
        repo: REPO,
        branch: "main",
        files: { [r.path ?? "deploy"]: [GitOpsModel.deployment("shop", image, undefined, r.neverReady ? { neverReady: true, progressDeadlineSeconds: 120 } : {})] },
        message: r.message ?? `deploy ${image}`,
        author: r.author ?? "alice"
      })
      return sha
    },
    image: async (name = "shop", namespace = "shop") => {
      try {
        const d = await apps.readNamespacedDeployment({ name, namespace })
        return d.spec?.template.spec?.containers[0]?.image
      } catch {
        return undefined
      }
    },
    setImage: async (image, name = "shop", namespace = "shop") => {
      // re-read on a conflict: the status writer updates the Deployment concurrently
      for (let i = 0; ; i++) {
        const d = await apps.readNamespacedDeployment({ name, namespace })
        d.spec!.template.spec!.containers[0]!.image = image
        try {
          await apps.replaceNamespacedDeployment({ name, namespace, body: d })
          return
        } catch (e) {
          if (i >= 20 || !String(e).includes("409")) throw e
        }
      }
    },
    get: async (rt, namespace, name) => R.obj(await custom.getNamespacedCustomObject({ group: rt.group, version: rt.version, plural: rt.plural, namespace, name })),
    create: async (rt, namespace, body) => {
      await custom.createNamespacedCustomObject({ group: rt.group, version: rt.version, plural: rt.plural, namespace, body: { apiVersion: R.apiVersion(rt), kind: rt.kind, ...body } })
    },
    close: async () => {
      stopped = true
      await new Promise((r) => setTimeout(r, 20))
      await sim.close()
      await github.close()
    }
  }
  await world.release("shop:1")
  return world
}

/** An Argo CD Application tracking `deploy/` of the repository's `main` into namespace `shop`. */
export const application = (name: string, automated: R.Obj | null = { prune: true, selfHeal: true }): R.Obj => ({
  metadata: { name, namespace: "argocd" },
  spec: {
    project: "default",
    source: { repoURL: REPO_URL, targetRevision: "main", path: "deploy" },
    destination: { server: "https://kubernetes.default.svc", namespace: "shop" },
    ...(automated !== null ? { syncPolicy: { automated } } : {})
  }
})

/** A Flux GitRepository for the repository's `main` (interval 1m) and a Kustomization of `./deploy` (interval 5m). */
export const fluxObjects = (o: { readonly suspend?: boolean } = {}) => ({
  gitRepository: { metadata: { name: "shop", namespace: "flux-system" }, spec: { interval: "1m", url: REPO_URL, ref: { branch: "main" } } },
  kustomization: {
    metadata: { name: "shop", namespace: "flux-system" },
    spec: { interval: "5m", path: "./deploy", prune: true, sourceRef: { kind: "GitRepository", name: "shop" }, targetNamespace: "shop", ...(o.suspend !== undefined ? { suspend: o.suspend } : {}) }
  }
})

/** Polls (real time) until `probe` holds. */
export const until = async (probe: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
