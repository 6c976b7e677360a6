/**
 * db.connections.saturation's per-workload gate end to end: the real PostgreSQL 15 and a kube-sim
 * (real client-node) whose pods carry the loopback addresses the test sessions connect from
 * (127.0.0.2 …), so `pg_stat_activity.client_addr` → Pod → owner goes through
 * `@byteport/k8s`'s `K8sAnnotations` exactly as against a cluster. Auto mode; the state of the
 * server asserted afterwards. (A test-only import of @byteport/k8s: the db package's sources
 * never import it; they meet through core's `AnnotationSource`.)
 */
import { Audit, Plan, Redactor, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { K8sAnnotations, Kube } from "@byteport/k8s"
import { Keys, KubeSim } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as MySql from "../../src/MySql"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as Detector from "../../src/detectors/ConnectionSaturation"
import * as SaturationRemediator from "../../src/remediators/SaturationRemediator"
import * as Saturation from "../../src/runbooks/db.connections.saturation"
import * as Utilization from "../../src/Utilization"
import { agentPg, alive, reportOf, target } from "../pool/world"
import { closeAllMySql, openConnection, type RawConnection } from "../support/mysql"
import { closeAll, openSession, type RawSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"

const KEY = "byteport.io/auto_remediate"
const WEB_IP = "127.0.0.2"
const BATCH_IP = "127.0.0.3"
const BOUNCER_IP = "127.0.0.4"

const template = (app: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: "app", image: "registry.local/app:1.0" }] }
})

/** Deployment → ReplicaSet → one Pod at `ip` (on a node the simulator does not run, so its status stays as written). */
const workload = (s: KubeSimInstance, namespace: string, name: string, ip: string, annotations: Record<string, string> = {}) => {
  s.store.create(Keys.deployments, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, annotations },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: template(name) }
  } as never)
  s.store.create(Keys.replicasets, {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: `${name}-1`, namespace, ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name, uid: `${name}-uid`, controller: true }] },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: template(name) }
  } as never)
  s.store.create(Keys.pods, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `${name}-1-a`, namespace, labels: { app: name }, ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: `${name}-1`, uid: `${name}-1-uid`, controller: true }] },
    spec: { nodeName: "ghost-node", containers: [{ name: "app", image: "registry.local/app:1.0" }] }
  } as never)
  s.store.mutate(Keys.pods, namespace, `${name}-1-a`, (o) => {
    ;(o as { status?: unknown }).status = { phase: "Running", podIP: ip, podIPs: [{ ip }] }
  })
}

const sim = Effect.acquireRelease(Effect.promise(() => KubeSim.start({ seed: 13 })), (s) => Effect.promise(() => s.close()))

describeWithServices(["postgres"], "db.connections.saturation: per-workload gate (real PostgreSQL, kube-sim pods)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())

  /** The agent's world: the kill handler, the re-poll check, Kubernetes as the AnnotationSource, an audit log. */
  const world = (s: KubeSimInstance) =>
    Testing.layer<any>({ handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 })] as any, checks: Saturation.checks() as any }).pipe(
      Layer.provideMerge(agentPg(env)),
      Layer.provideMerge(K8sAnnotations.layer.pipe(Layer.provide(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "10 seconds" }))))),
      Layer.provideMerge(Audit.layerMemory.pipe(Layer.provide(Redactor.layer())))
    )

  /**
   * Two leaking apps: `batch` (127.0.0.3, its sessions the oldest) and `web` (127.0.0.2), each
   * with `n` sessions idle in a transaction, and one idle session. Every session claims web's
   * application_name: only the address tells them apart.
   */
  const scenario = (label: string, n = 2, extra: ReadonlyArray<{ readonly ip: string; readonly app?: string }> = []) =>
    Effect.promise(async () => {
      const name = uniqueName(label)
      const app = `${name}-web`
      const open = async (ip: string, appName = app) => {
        const x = await openSession(appUrl, appName, ip)
        await x.q("BEGIN; SELECT 1")
        await new Promise((r) => setTimeout(r, 40)) // distinct state_change, oldest first
        return x
      }
      const batch: Array<RawSession> = []
      for (let i = 0; i < n; i++) batch.push(await open(BATCH_IP))
      const others: Array<RawSession> = []
      for (const e of extra) others.push(await open(e.ip, e.app))
      const web: Array<RawSession> = []
      for (let i = 0; i < n; i++) web.push(await open(WEB_IP))
      const idle = await openSession(appUrl, app, WEB_IP)
      await new Promise((r) => setTimeout(r, 400)) // past the test's 300 ms idle-in-transaction threshold
      const all = [...batch, ...others, ...web, idle].map((x) => x.pid)
      return { app, batch, web, others, idle, all, scope: new Set(all) }
    })

  const detect = (label: string) =>
    Effect.gen(function*() {
      const reading = yield* Utilization.postgresConnections()
      const threshold = reading.ratio - 1 / (2 * reading.maxConnections)
      const signals = yield* Detector.pollPostgres({ target: target(label), threshold })
      assert.strictEqual(signals.length, 1, "the detector fires")
      return signals[0]!
    }).pipe(Effect.provide(agentPg(env)))

  const runbook = (scope: ReadonlySet<number>, options: Partial<Saturation.Options>) =>
    Saturation.make({
      sessions: (x) => scope.has(x.pid),
      thresholds: { idleInTxMs: 300 },
      verifySchedule: { offsets: [200], description: "once at 0.2 s (test)" },
      verifyMaxRatio: 0, // never reached: the plan's kills all run (Plan.until never stops them early)
      defaultMode: "auto",
      maxTerminationsPerIncident: 4,
      ...options
    })

  const terminated = (r: ReturnType<typeof reportOf>) =>
    r.outcomes.filter((o) => o.kind === PgTerminateBackend.KIND && o.status === "applied").map((o) => o.result?.["pid"])

  it.live("two leaking apps, one annotated: only its sessions go (the other's older sessions and its claimed application_name do not help it)", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* sim
      workload(s, "shop", "web", WEB_IP, { [KEY]: "restart,db_terminate" })
      workload(s, "shop", "batch", BATCH_IP)
      const sc = yield* scenario("sat-wl")
      const signal = yield* detect("sat-wl")
      const { r, entries } = yield* Effect.gen(function*() {
        const r = reportOf(yield* Runbook.handle(runbook(sc.scope, {
          // the application map names web: an address that resolves to batch still decides
          clients: { applications: { [sc.app]: "Deployment/shop/web" } }
        }), signal, { mode: "auto" }))
        return { r, entries: yield* (yield* Audit.Audit).entries }
      }).pipe(Effect.provide(world(s)))
      const left = yield* Effect.promise(() => alive(env, sc.all))
      assert.deepStrictEqual(sc.web.map((x) => left.has(x.pid)), [false, false], "web's sessions are terminated")
      assert.deepStrictEqual(sc.batch.map((x) => left.has(x.pid)), [true, true], "batch's (older) sessions survive")
      assert.isTrue(left.has(sc.idle.pid), "an idle session is never chosen")
      assert.deepStrictEqual(terminated(r), sc.web.map((x) => x.pid))
      assert.include(r.plan?.summary ?? "", "2 in no scope annotated byteport.io/auto_remediate")
      // the plan names the client of each kill, and the gate read it at acquire (audited)
      for (const a of Plan.actions(r.plan!.root)) assert.strictEqual(a.action.params["clientAddr"], WEB_IP)
      const clients = entries.filter((l) => l.event === "annotations.client").map((l) => (l.data as { address: string | null; workload: string | null }))
      // read live at each check and each acquire: two audited reads per kill, all of web's pod
      assert.deepStrictEqual(clients.map((c) => [c.address, c.workload]), [...sc.web, ...sc.web].map(() => [WEB_IP, "Deployment/shop/web"]))
    })))

  it.live("attack: a plan naming the other workload's sessions is denied at acquire by the gate (client address → Pod → unannotated owner)", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* sim
      workload(s, "shop", "web", WEB_IP, { [KEY]: "db_terminate" })
      workload(s, "shop", "batch", BATCH_IP)
      const sc = yield* scenario("sat-wl-attack")
      const signal = yield* detect("sat-wl-attack")
      const places = { clients: { applications: { [sc.app]: "Deployment/shop/web" } } }
      const rb = runbook(sc.scope, places)
      // a remediator that ignores the scope (every pid in it): the plan names batch's sessions first
      const forged = {
        ...rb,
        remediate: (...args: Parameters<typeof rb.remediate>) =>
          Effect.succeed(SaturationRemediator.planOf(args[0], args[1], args[2], {
            thresholds: { idleInTxMs: 300 },
            sessions: (x) => sc.scope.has(x.pid),
            maxTerminationsPerIncident: 4,
            verifyMaxRatio: 0,
            places,
            inScope: new Set(sc.all)
          }))
      }
      const r = reportOf(yield* Runbook.handle(forged, signal, { mode: "auto" }).pipe(Effect.provide(world(s))))
      const planned = Plan.actions(r.plan!.root).map((a) => a.action.params["pid"])
      assert.deepStrictEqual(planned.slice(0, 2), sc.batch.map((x) => x.pid), "the forged plan names batch's sessions first")
      const left = yield* Effect.promise(() => alive(env, sc.all))
      assert.deepStrictEqual(sc.batch.map((x) => left.has(x.pid)), [true, true], "the gate denies batch's sessions")
      assert.deepStrictEqual(terminated(r), [])
      const denied = r.decisions.filter((d) => d.actionKind === PgTerminateBackend.KIND && d.decision === "deny")
      assert.isAtLeast(denied.length, 1, JSON.stringify(r.decisions))
      assert.include(denied[0]!.reason, "lacks the annotation")
    })))

  it.live("a pooler's address is never traced: sessions from the annotated pgbouncer pod survive; the database object (StatefulSet, live) allows any session", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* sim
      workload(s, "shop", "web", WEB_IP)
      workload(s, "shop", "batch", BATCH_IP)
      workload(s, "db", "pgbouncer", BOUNCER_IP, { [KEY]: "db_terminate" })
      const sc = yield* scenario("sat-wl-pooler", 1, [{ ip: BOUNCER_IP, app: "bp-through-bouncer" }])
      const signal = yield* detect("sat-wl-pooler")
      const r = reportOf(yield* Runbook.handle(runbook(sc.scope, { clients: {} }), signal, { mode: "auto" }).pipe(Effect.provide(world(s))))
      assert.deepStrictEqual(terminated(r), [])
      assert.strictEqual(r.status, "escalated")
      assert.strictEqual((yield* Effect.promise(() => alive(env, sc.all))).size, sc.all.length, "nothing terminated")
      // the database object, read live from the API server: annotated → the longest session goes (any workload's)
      s.store.create(Keys.statefulsets, {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "orders-pg", namespace: "db", annotations: { [KEY]: "db_terminate" } },
        spec: { replicas: 0, serviceName: "orders-pg", selector: { matchLabels: { app: "orders-pg" } }, template: template("orders-pg") }
      } as never)
      const r2 = reportOf(yield* Runbook.handle(runbook(sc.scope, { database: { object: "StatefulSet/db/orders-pg" }, clients: {}, maxTerminationsPerIncident: 1 }), signal, { mode: "auto" }).pipe(Effect.provide(world(s))))
      assert.deepStrictEqual(terminated(r2), [sc.batch[0]!.pid], "the longest, batch's, goes")
    })))

  it.live("the workload's annotation removed between the plan and the kill: denied at acquire, nothing terminated", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* sim
      workload(s, "shop", "web", WEB_IP, { [KEY]: "db_terminate" })
      workload(s, "shop", "batch", BATCH_IP)
      const sc = yield* scenario("sat-wl-removed", 1)
      const signal = yield* detect("sat-wl-removed")
      const rb = runbook(sc.scope, { clients: {} })
      const racing = {
        ...rb,
        remediate: (...args: Parameters<typeof rb.remediate>) =>
          Effect.tap(rb.remediate(...args), () =>
            Effect.sync(() =>
              s.store.mutate(Keys.deployments, "shop", "web", (o) => {
                o.metadata.annotations = {}
              })
            ))
      }
      const r = reportOf(yield* Runbook.handle(racing, signal, { mode: "auto" }).pipe(Effect.provide(world(s))))
      assert.deepStrictEqual(Plan.actions(r.plan!.root).map((a) => a.action.params["pid"]), [sc.web[0]!.pid], "planned while annotated")
      assert.deepStrictEqual(terminated(r), [])
      const denied = r.decisions.filter((d) => d.actionKind === PgTerminateBackend.KIND && d.decision === "deny")
      assert.strictEqual(denied.length, 1, JSON.stringify(r.decisions))
      assert.include(denied[0]!.reason, "lacks the annotation byteport.io/auto_remediate")
      assert.strictEqual(r.status, "escalated")
      assert.strictEqual((yield* Effect.promise(() => alive(env, sc.all))).size, sc.all.length)
    })))
})

describeWithServices(["mariadb"], "db.connections.saturation: per-workload gate (real MariaDB, kube-sim pods)", (env) => {
  const appUrl = env.BYTEPORT_TEST_MYSQL_URL ?? ""
  const agentUrl = env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""
  afterEach(() => closeAllMySql())
  const agent = () => MySql.layer({ url: Redacted.make(agentUrl), poolMax: 2 })
  const world = (s: KubeSimInstance) =>
    Testing.layer<any>({ handlers: Saturation.mysqlHandlers({ killsPerMinuteCap: 20 }) as any, checks: Saturation.mysqlChecks() as any }).pipe(
      Layer.provideMerge(agent()),
      Layer.provideMerge(K8sAnnotations.layer.pipe(Layer.provide(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "10 seconds" })))))
    )
  const alive = (c: RawConnection) => Effect.promise(() => c.q("SELECT 1").then(() => true, () => false))

  it.live("two leaking apps, one annotated: only its threads are killed (the thread's host → Pod → owner)", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* sim
      workload(s, "shop", "web", WEB_IP, { [KEY]: "db_terminate" })
      workload(s, "shop", "batch", BATCH_IP)
      const open = (ip: string) =>
        Effect.promise(async () => {
          const c = await openConnection(appUrl, ip)
          // an InnoDB transaction holding a read snapshot (no row lock): INNODB_TRX lists it
          await c.q("START TRANSACTION WITH CONSISTENT SNAPSHOT")
          await new Promise((r) => setTimeout(r, 60))
          return c
        })
      const batch = [yield* open(BATCH_IP), yield* open(BATCH_IP)]
      const web = [yield* open(WEB_IP), yield* open(WEB_IP)]
      yield* Effect.sleep("1200 millis") // past the test's 300 ms threshold, INNODB_TRX refreshed
      const ids = new Set([...batch, ...web].map((c) => c.id))
      const reading = yield* Utilization.mysqlConnections.pipe(Effect.provide(agent()))
      const signals = yield* Detector.pollMySql({ target: target("my-sat-wl"), threshold: reading.ratio - 1 / (2 * reading.maxConnections) }).pipe(Effect.provide(agent()))
      assert.strictEqual(signals.length, 1, "the detector fires")
      const r = reportOf(yield* Runbook.handle(Saturation.makeMySql({
        sessions: (x) => ids.has(x.pid),
        thresholds: { idleInTxMs: 300 },
        verifySchedule: { offsets: [200], description: "once at 0.2 s (test)" },
        verifyMaxRatio: 0,
        maxTerminationsPerIncident: 4,
        clients: {},
        defaultMode: "auto"
      }), signals[0]!, { mode: "auto" }).pipe(Effect.provide(world(s))))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "connection_leak", JSON.stringify(r.classification))
      assert.deepStrictEqual(yield* Effect.forEach(web, alive), [false, false], "web's threads are killed")
      assert.deepStrictEqual(yield* Effect.forEach(batch, alive), [true, true], "batch's (older) threads survive")
      for (const a of Plan.actions(r.plan!.root)) assert.strictEqual(a.action.params["clientAddr"], WEB_IP)
    })), 30_000)
})
