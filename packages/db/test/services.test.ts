import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { assert, it } from "vitest"
import { describeWithServices, servicesEnv } from "./support/services"

const script = path.resolve(__dirname, "../../../scripts/services.sh")
const run = (...args: Array<string>) => execFileSync("bash", [script, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

describeWithServices(["postgres", "pgbouncer", "mariadb"], "scripts/services.sh (leases, env, idempotent up)", () => {
  it("env prints the connection settings the global setup provided", () => {
    const printed = Object.fromEntries(run("env").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]))
    const provided = servicesEnv()
    for (const key of ["BYTEPORT_TEST_PG_URL", "BYTEPORT_TEST_PGBOUNCER_URL", "BYTEPORT_TEST_PGBOUNCER_ADMIN_URL", "BYTEPORT_TEST_PGBOUNCER_INI", "BYTEPORT_TEST_MYSQL_URL"]) {
      assert.isString(printed[key])
      assert.strictEqual(printed[key], provided[key])
    }
    assert.strictEqual(printed.BYTEPORT_TEST_SERVICES_UP, provided.BYTEPORT_TEST_SERVICES_UP)
    for (const service of ["postgres", "pgbouncer", "mariadb", "pgreplica"]) assert.include(printed.BYTEPORT_TEST_SERVICES_UP?.split(" ") ?? [], service)
    for (const url of [printed.BYTEPORT_TEST_PG_URL, printed.BYTEPORT_TEST_MYSQL_URL]) assert.strictEqual(new URL(url ?? "").hostname, "127.0.0.1")
  })

  it("up is quick when already up; a released lease leaves the servers to the other holders", () => {
    const lease = `test-${process.pid}`
    const t0 = Date.now()
    run("up", "--lease", lease, "--pid", String(process.pid))
    assert.isBelow(Date.now() - t0, 5_000)
    assert.include(run("status"), lease)
    run("down", "--lease", lease)
    const status = run("status")
    assert.notInclude(status, lease)
    assert.match(status, /postgres\s+up/)
    assert.match(status, /pgbouncer\s+up/)
    assert.match(status, /mariadb\s+up/)
  })
})
