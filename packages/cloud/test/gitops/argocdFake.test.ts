/**
 * The Argo CD API fake over the GitOps model, driven by the package's own `ArgoCd` client and by
 * raw fetch: bearer auth (401 code 16), GET with status.history, PATCH merge/json, PUT spec,
 * rollback refused while auto-sync is on (400 code 9), rollback dryRun changes nothing, an
 * unknown history id is 404, and a rollback once frozen applies the old revision.
 */
import { afterEach, assert, describe, it } from "vitest"
import { Effect, Redacted } from "effect"
import { ArgoCdFake } from "@byteport/cloud/testing"
import * as ArgoCd from "../../src/gitops/ArgoCd"
import * as R from "../../src/gitops/Resources"
import { ARGO_INTERVAL, application, start, until } from "./world"
import type { World } from "./world"

let world: World | undefined
let fake: ArgoCdFake.ArgoCdFake | undefined
afterEach(async () => {
  await fake?.close()
  await world?.close()
  fake = undefined
  world = undefined
})

const setup = async () => {
  const w = (world = await start())
  const f = (fake = await ArgoCdFake.start({ model: w.model }))
  await w.create(R.Application, "argocd", application("shop"))
  await until(async () => (await w.image()) === "shop:1", "the first sync")
  await w.release("shop:2")
  await w.advance(ARGO_INTERVAL)
  const client = ArgoCd.make({ baseUrl: f.url, token: Redacted.make("argocd-token") })
  const run = <A>(e: Effect.Effect<A, ArgoCd.ArgoCdError>) => Effect.runPromise(Effect.result(e))
  return { w, f, client, run }
}

describe("ArgoCdFake", () => {
  it("requires a bearer token (401, gRPC code 16) and serves the Application with its history", async () => {
    const { f, client, run } = await setup()
    const none = await fetch(`${f.url}/api/v1/applications/shop`)
    assert.strictEqual(none.status, 401)
    assert.deepStrictEqual(await none.json(), { error: "no session information", code: 16, message: "no session information" })
    const wrong = await fetch(`${f.url}/api/v1/applications/shop`, { headers: { authorization: "Bearer nope" } })
    assert.strictEqual(wrong.status, 401)
    const byCookie = await fetch(`${f.url}/api/v1/applications/shop`, { headers: { cookie: "argocd.token=argocd-token" } })
    assert.strictEqual(byCookie.status, 200)
    const app = await run(client.get("shop"))
    assert.strictEqual(app._tag, "Success")
    if (app._tag !== "Success") return
    assert.deepStrictEqual(R.historyOf(app.success).map((h) => h.id), [0, 1])
    assert.strictEqual(R.obj(R.obj(app.success["spec"])["source"])["repoURL"], "https://github.com/acme/shop.git")
    const missing = await run(client.get("nope"))
    assert.strictEqual(missing._tag === "Failure" && missing.failure.status, 404)
    const list = (await (await fetch(`${f.url}/api/v1/applications`, { headers: { authorization: "Bearer argocd-token" } })).json()) as { items: Array<R.Obj> }
    assert.deepStrictEqual(list.items.map((a) => R.obj(a["metadata"])["name"]), ["shop"])
    assert.strictEqual(await Effect.runPromise(client.version), "v3.1.0+abc1234")
  })

  it("rollback: refused while auto-sync is on; after a merge patch enabled=false, dryRun changes nothing, an unknown id is 404, the id rolls back", async () => {
    const { w, f, client, run } = await setup()
    const refused = await run(client.rollback("shop", { id: 0 }))
    assert.isTrue(refused._tag === "Failure" && refused.failure.status === 400 && refused.failure.code === 9 && /auto-sync is enabled/.test(refused.failure.message))
    assert.strictEqual(await w.image(), "shop:2")

    const patched = await run(client.patch("shop", { spec: { syncPolicy: { automated: { enabled: false } } } }, "merge"))
    assert.strictEqual(patched._tag, "Success")
    assert.isFalse(R.autoSyncOn(await w.get(R.Application, "argocd", "shop")))
    assert.strictEqual(R.obj(R.obj(R.obj(R.obj(await w.get(R.Application, "argocd", "shop"))["spec"])["syncPolicy"])["automated"])["selfHeal"], true, "a merge patch keeps the siblings")

    const dry = await run(client.rollback("shop", { id: 0, dryRun: true }))
    assert.strictEqual(dry._tag, "Success")
    assert.strictEqual(await w.image(), "shop:2")
    assert.deepStrictEqual(R.historyOf(await w.get(R.Application, "argocd", "shop")).map((h) => h.id), [0, 1])

    const unknown = await run(client.rollback("shop", { id: 7 }))
    assert.isTrue(unknown._tag === "Failure" && unknown.failure.status === 404 && /does not have deployment with id 7/.test(unknown.failure.message))

    const raw = await fetch(`${f.url}/api/v1/applications/shop/rollback`, { method: "POST", headers: { authorization: "Bearer argocd-token", "content-type": "application/json" }, body: JSON.stringify({ name: "shop", id: "0", prune: true }) })
    assert.strictEqual(raw.status, 200)
    assert.strictEqual(await w.image(), "shop:1")
    const hist = R.historyOf(await w.get(R.Application, "argocd", "shop"))
    assert.deepStrictEqual(hist.map((h) => h.id), [0, 1, 2])
    assert.strictEqual(hist[2]!.revision, hist[0]!.revision)
    assert.deepStrictEqual(f.writes.map((x) => `${x.method} ${x.path} ${x.status}`), [
      "POST /api/v1/applications/shop/rollback 400",
      "PATCH /api/v1/applications/shop 200",
      "POST /api/v1/applications/shop/rollback 200",
      "POST /api/v1/applications/shop/rollback 404",
      "POST /api/v1/applications/shop/rollback 200"
    ])
  })

  it("json patch removes `automated` (the older shape) and PUT spec puts it back", async () => {
    const { w, f, client, run } = await setup()
    const before = R.obj(R.obj(await w.get(R.Application, "argocd", "shop"))["spec"])
    const removed = await run(client.patch("shop", [{ op: "remove", path: "/spec/syncPolicy/automated" }], "json"))
    assert.strictEqual(removed._tag, "Success")
    assert.notProperty(R.obj(R.obj(R.obj(await w.get(R.Application, "argocd", "shop"))["spec"])["syncPolicy"]), "automated")
    const bad = await run(client.patch("shop", [{ op: "remove", path: "/spec/syncPolicy/automated" }], "json"))
    assert.isTrue(bad._tag === "Failure" && bad.failure.status === 400)
    const put = await fetch(`${f.url}/api/v1/applications/shop/spec`, { method: "PUT", headers: { authorization: "Bearer argocd-token" }, body: JSON.stringify(before) })
    assert.strictEqual(put.status, 200)
    assert.isTrue(R.autoSyncOn(await w.get(R.Application, "argocd", "shop")))
  })
})
