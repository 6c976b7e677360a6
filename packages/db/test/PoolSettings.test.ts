import { assert, describe, it } from "@effect/vitest"
import * as PoolSettings from "../src/probes/PoolSettings"

describe("PoolSettings.fromEnv", () => {
  it("reads Hikari, SQLAlchemy and pgx settings", () => {
    const s = PoolSettings.fromEnv({
      SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE: "30",
      SQLALCHEMY_POOL_SIZE: "8",
      DATABASE_URL: "postgres://app:hunter2@db:5432/app?sslmode=disable&pool_max_conns=25",
      PATH: "/usr/bin"
    })
    assert.deepStrictEqual(s.maxConnectionsPerProcess, { hikari: 30, sqlalchemy: 18, pgx: 25 })
    assert.deepStrictEqual(s.settings.map((x) => [x.framework, x.variable, x.setting, x.value]), [
      ["hikari", "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE", "maximumPoolSize", 30],
      ["sqlalchemy", "SQLALCHEMY_POOL_SIZE", "pool_size", 8],
      ["pgx", "DATABASE_URL", "pool_max_conns", 25]
    ])
    assert.deepStrictEqual(s.invalid, [])
  })

  it("keyword/value DSNs, *_DATABASE_URL, SQLAlchemy defaults and unlimited overflow", () => {
    const s = PoolSettings.fromEnv({
      ORDERS_DATABASE_URL: "host=db user=app password=hunter2 pool_max_conns=12",
      SQLALCHEMY_MAX_OVERFLOW: "0",
      HIKARI_MAXIMUM_POOL_SIZE: "10"
    })
    assert.deepStrictEqual(s.maxConnectionsPerProcess, { hikari: 10, sqlalchemy: 5, pgx: 12 })
    const unlimited = PoolSettings.fromEnv({ SQLALCHEMY_MAX_OVERFLOW: "-1" })
    assert.deepStrictEqual(unlimited.maxConnectionsPerProcess, {})
    assert.strictEqual(unlimited.settings[0]?.value, -1)
    assert.deepStrictEqual(PoolSettings.fromEnv({}).settings, [])
    assert.deepStrictEqual(PoolSettings.fromEnv({ DATABASE_URL: "postgres://db/app" }).settings, [])
  })

  it("reports bad values precisely without echoing secrets", () => {
    const s = PoolSettings.fromEnv({
      HIKARI_MAXIMUM_POOL_SIZE: "ten",
      SQLALCHEMY_POOL_SIZE: "-3",
      DATABASE_URL: "postgres://app:hunter2@db/app?pool_max_conns=lots"
    })
    assert.deepStrictEqual(s.settings, [])
    assert.deepStrictEqual(s.invalid.map((i) => i.variable), ["HIKARI_MAXIMUM_POOL_SIZE", "SQLALCHEMY_POOL_SIZE", "DATABASE_URL"])
    assert.notInclude(JSON.stringify(s), "hunter2")
    assert.notInclude(JSON.stringify(PoolSettings.fromEnv({ DATABASE_URL: "postgres://app:hunter2@db/app?pool_max_conns=5" })), "hunter2")
  })
})
