import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Redacted, References, Schema, Tracer } from "effect"
import * as Redactor from "../../src/Redactor"

const r = Redactor.defaultRedactor
const M = Redactor.MARKER

describe("Redactor: secret-like keys", () => {
  it.effect("matches secret words in any casing and keeps references and properties of secrets", () =>
    Effect.sync(() => {
      const secret = [
        "password", "PASSWORD", "db_password", "DB-PASSWORD", "dbPassword", "PGPASSWORD", "sslpassword", "passwd", "pwd",
        "secret", "clientSecret", "client_secret", "AWS_SECRET_ACCESS_KEY", "token", "accessToken", "GITHUB_TOKEN", "x-auth-token",
        "apiKey", "api_key", "API-KEY", "X-Api-Key", "authorization", "Proxy-Authorization", "cookie", "Set-Cookie",
        "privateKey", "private_key", "credentials", "dsn", "SENTRY_DSN", "passphrase", "routing_key", "REDIS_PASS", "basicAuth",
        "connectionString", "webhookUrl", "sessionId"
      ]
      const kept = [
        "tokenizer", "maxTokens", "tokenCount", "secretKeyRef", "secretName", "secretRef", "passwordFile", "passwordEnabled",
        "dedupKey", "idempotencyKey", "cacheKey", "primaryKey", "author", "authorName", "monkey", "keyspace", "name", "value",
        "key", "authMethod", "description", "pod", "namespace"
      ]
      for (const k of secret) assert.isTrue(r.isSecretKey(k), `${k} should be secret`)
      for (const k of kept) assert.isFalse(r.isSecretKey(k), `${k} should not be secret`)
    }))

  it.effect("replaces values of secret keys but keeps the key, booleans and nulls", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(r.redact({ password: "hunter2", passwordSet: true, token: null, apiKey: 12345, user: "bob" }), {
        password: M,
        passwordSet: true,
        token: null,
        apiKey: M,
        user: "bob"
      })
    }))

  it.effect("keeps the shape (and _tag) of structures under a secret key", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(r.redact({ credentials: { _tag: "Known", value: { user: "u", pass: "p", port: 5432, tls: true } } }), {
        credentials: { _tag: "Known", value: { user: M, pass: M, port: M, tls: true } }
      })
    }))

  it.effect("no over-redaction of ordinary values", () =>
    Effect.sync(() => {
      const ordinary = {
        pod: "secret-santa-7d9f",
        name: "secret-santa",
        tokenizer: "bpe tokenizer splits tokens",
        message: "the token bucket is empty; password rotation is scheduled",
        url: "https://example.com/path?x=1",
        help: "set DATABASE_URL to postgres://host/db",
        commit: "0123456789abcdef0123456789abcdef01234567",
        image: "ghcr.io/acme/api@sha256:" + "a".repeat(64),
        env: [{ name: "LOG_LEVEL", value: "debug" }, { name: "TOKENIZER", value: "bpe" }],
        headers: { "content-type": "application/json" },
        time: "12:30:45",
        ratio: "cpu: 0.93"
      }
      assert.deepStrictEqual(r.redact(ordinary), ordinary)
    }))
})

describe("Redactor: strings", () => {
  const cases: ReadonlyArray<[string, string]> = [
    ["postgres://app:s3cr3t@db:5432/app", `postgres://app:${M}@db:5432/app`],
    ["mysql://root:pw@10.0.0.1/x", `mysql://root:${M}@10.0.0.1/x`],
    ["redis://:hunter2@cache:6379/0", `redis://:${M}@cache:6379/0`],
    ["amqp://guest:guest@mq:5672", `amqp://guest:${M}@mq:5672`],
    ["https://user:p%40ss@git.example.com/repo.git", `https://user:${M}@git.example.com/repo.git`],
    ["host=db user=app password=hunter2 dbname=x", `host=db user=app password=${M} dbname=x`],
    ["host=db password='a b' sslmode=verify-full", `host=db password='${M}' sslmode=verify-full`],
    ["GET /x?api_key=abc123&page=2", `GET /x?api_key=${M}&page=2`],
    ["Authorization: Bearer abc.def.ghi", `Authorization: ${M}`],
    ["sent Bearer abcdefgh12345678 upstream", `sent Bearer ${M} upstream`],
    ["Cookie: sid=abc; theme=dark", `Cookie: ${M}`],
    ["ghp_" + "a".repeat(36), M],
    ["github_pat_11AAAAAAA0_" + "b".repeat(40), M],
    ["xoxb-123456789012-1234567890123-abcdefghijklmnop", M],
    ["https://hooks.slack.com/services/T0000/B0000/XXXXXXXX", `https://hooks.slack.com/services/${M}`],
    ["AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", `${M} ${M}`],
    ["-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----", `-----BEGIN EC PRIVATE KEY-----${M}-----END EC PRIVATE KEY-----`],
    ["truncated -----BEGIN PRIVATE KEY-----\nMIIEvQ", `truncated -----BEGIN PRIVATE KEY-----${M}-----END PRIVATE KEY-----`],
    ['{"password":"x1","user":"u"}', `{"password":"${M}","user":"u"}`],
    ['{\\"token\\":\\"abc\\"}', `{\\"token\\":\\"${M}\\"}`],
    ['[{"name":"DB_PASSWORD","value":"pw"},{"name":"MODE","value":"x"}]', `[{"name":"DB_PASSWORD","value":"${M}"},{"name":"MODE","value":"x"}]`],
    ["- name: API_TOKEN\n  value: abc\n- name: MODE\n  value: fast", `- name: API_TOKEN\n  value: ${M}\n- name: MODE\n  value: fast`],
    ["password: hunter2\nuser: bob", `password: ${M}\nuser: bob`]
  ]
  for (const [input, expected] of cases) {
    it.effect(`redacts ${JSON.stringify(input.slice(0, 40))}`, () => Effect.sync(() => assert.strictEqual(r.redactString(input), expected)))
  }

  it.effect("keeps ordinary text", () =>
    Effect.sync(() => {
      for (
        const s of [
          "Bearer tokens are short-lived",
          "the tokenizer is fast",
          "pod secret-santa restarted 3 times",
          "postgres://db.internal:5432/app",
          "https://github.com/acme/api/pull/12",
          "commit 0123456789abcdef0123456789abcdef01234567",
          "JWT-like eyJ without dots",
          'MountVolume.SetUp failed for volume "secret-vol" : secret "db-creds" not found',
          "couldn't find key password in Secret payments/db-creds"
        ]
      ) assert.strictEqual(r.redactString(s), s)
    }))
})

describe("Redactor: command lines, scheme-less DSNs and URL passwords (issue 8)", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["mysql -u root --password Sx1secret -h db", "mysql -u root --password [REDACTED] -h db"],
    ["mysql -u root --password=Sx2secret -h db", "mysql -u root --password=[REDACTED] -h db"],
    ["mysql -uroot -pSx3secret -h db orders", "mysql -uroot -p[REDACTED] -h db orders"],
    ["mysqldump -p'Sx4 secret' shop", "mysqldump -p'[REDACTED]' shop"],
    ["curl --token Sx5secret https://api", "curl --token [REDACTED] https://api"],
    ["vault login --api-key \"Sx6 secret\" -x", "vault login --api-key \"[REDACTED]\" -x"],
    ["PGPASSWORD=Sx7secret psql -h db", "PGPASSWORD=[REDACTED] psql -h db"],
    ["export MYSQL_PWD='Sx8secret'", "export MYSQL_PWD='[REDACTED]'"],
    ["dsn app:Sx9secret@tcp(db:3306)/orders?parseTime=true", "dsn app:[REDACTED]@tcp(db:3306)/orders?parseTime=true"],
    ["open root:Sx10secret@unix(/var/run/mysqld.sock)/db", "open root:[REDACTED]@unix(/var/run/mysqld.sock)/db"],
    ["using app:Sx11secret@db.internal:5432/orders", "using app:[REDACTED]@db.internal:5432/orders"],
    ["postgres://app:Sx12/se/cret@db:5432/orders", "postgres://app:[REDACTED]@db:5432/orders"],
    ["postgres://app:Sx13@se:c/ret@db:5432/orders", "postgres://app:[REDACTED]@db:5432/orders"],
    ["redis://:Sx14%2Fse%40cret@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"]
  ]

  it.effect("flags with a separate or attached value, env assignments, scheme-less DSNs, URL passwords with / @ :", () =>
    Effect.sync(() => {
      for (const [input, expected] of cases) {
        assert.strictEqual(r.redactString(input), expected, input)
        assert.strictEqual(r.redactString(expected), expected, `idempotent: ${input}`)
      }
    }))

  it.effect("argv arrays: the element after a secret flag, and -pX in a mysql command", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(r.redact({ argv: ["mysql", "-uroot", "-pSx1", "--password", "Sx2", "--token=Sx3", "-h", "db", "orders"] }), {
        argv: ["mysql", "-uroot", `-p${M}`, "--password", M, `--token=${M}`, "-h", "db", "orders"]
      })
      // JSON text of an argv array
      assert.strictEqual(r.redactString(JSON.stringify(["psql", "--password", "Sx4", "-h", "db"])), `["psql","--password","${M}","-h","db"]`)
      // outside a mysql command, -p is a port and stays
      assert.deepStrictEqual(r.redact(["ssh", "-p", "2222", "host"]), ["ssh", "-p", "2222", "host"])
      assert.deepStrictEqual(r.redact(["docker", "run", "-p8080:80", "nginx"]), ["docker", "run", "-p8080:80", "nginx"])
    }))

  it.effect("no false positives on ordinary command lines, image references and URLs", () =>
    Effect.sync(() => {
      const kept = [
        "ssh -p 2222 host",
        "docker run -p 8080:80 nginx",
        "mysql -h db -P 3306 -p orders",
        "docker login --password-stdin registry.example.com",
        "kubectl --token-file /var/run/token get pods",
        "kubectl logs --tail 100 -f web",
        "ps aux --sort -rss",
        "image registry.example.com/shop/api@sha256:38c1130638c1130638c1130638c11306",
        "image nginx:1.25@sha256:0123456789abcdef0123",
        "Pulling image \"web:1.0@sha256:1234\"",
        "listening on 0.0.0.0:5432@primary/db",
        "https://example.com:8443/users/@me",
        "http://localhost:4873/@scope/pkg",
        "git@github.com:org/repo.git",
        "at 12:30 on node-1",
        "user bob@example.com logged in",
        "--conditions=@byteport/source"
      ]
      for (const s of kept) assert.strictEqual(r.redactString(s), s, s)
    }))

  it.effect("stays linear on long inputs without spaces", () =>
    Effect.sync(() => {
      const t0 = performance.now()
      r.redactString(`,a:${"b".repeat(50_000)}@`)
      r.redactString(`a:${"x".repeat(50_000)}`)
      assert.isBelow(performance.now() - t0, 2_000)
    }))
})

describe("Redactor: values", () => {
  it.effect("Kubernetes env: secret-named values go, secretKeyRef references stay", () =>
    Effect.sync(() => {
      const env = [
        { name: "DB_PASSWORD", value: "pw" },
        { name: "LOG_LEVEL", value: "info" },
        { name: "API_TOKEN", valueFrom: { secretKeyRef: { name: "api", key: "token" } } }
      ]
      assert.deepStrictEqual(r.redact({ env }), {
        env: [{ name: "DB_PASSWORD", value: M }, { name: "LOG_LEVEL", value: "info" }, env[2] as any]
      })
    }))

  it.effect("a Kubernetes Secret object: every data / stringData value goes, metadata stays", () =>
    Effect.sync(() => {
      const secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "ledger-tls", namespace: "payments" },
        type: "kubernetes.io/tls",
        data: { "tls.crt": "LS0tLS1CRUdJTiBDRVJU", "tls.key": "LS0tLS1CRUdJTiBQUklW", "config.json": "eyJhdXRocyI6e319" },
        stringData: { "ca.crt": "plain" }
      }
      assert.deepStrictEqual(r.redact({ items: [secret] }), {
        items: [{ ...secret, data: { "tls.crt": M, "tls.key": M, "config.json": M }, stringData: { "ca.crt": M } }]
      })
      // a ConfigMap's data is not secret
      const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg" }, data: { "app.yaml": "mode: fast" } }
      assert.deepStrictEqual(r.redact(cm), cm)
    }))

  it.effect("Errors: name, message, stack, own fields and the cause chain, redacted", () =>
    Effect.sync(() => {
      const inner = Object.assign(new Error("auth failed for postgres://u:pw1@h/db"), { code: "28P01", password: "pw2" })
      const outer = new Error("probe failed", { cause: new Error("middle token=abc123", { cause: inner }) })
      const out = r.redact(outer) as any
      const text = JSON.stringify(out)
      assert.notInclude(text, "pw1")
      assert.notInclude(text, "pw2")
      assert.notInclude(text, "abc123")
      assert.strictEqual(out.message, "probe failed")
      assert.strictEqual(out.cause.message, `middle token=${M}`)
      assert.strictEqual(out.cause.cause.code, "28P01")
      assert.strictEqual(out.cause.cause.password, M)
      assert.include(out.cause.cause.stack, `postgres://u:${M}@h/db`)
    }))

  it.effect("Schema tagged errors with a defect cause", () =>
    Effect.sync(() => {
      class ProbeFailed extends Schema.TaggedError<ProbeFailed>()("ProbeFailed", {
        message: Schema.String,
        cause: Schema.optional(Schema.Defect())
      }) {}
      const e = new ProbeFailed({ message: "pg probe: password=pw-777777", cause: new Error("dial postgres://u:pw-888888@h/db") })
      const text = JSON.stringify(r.redact(e))
      assert.include(text, "ProbeFailed")
      assert.notInclude(text, "pw-777777")
      assert.notInclude(text, "pw-888888")
      const copy = Redactor.redactError(r, e)
      assert.instanceOf(copy, Error)
      assert.notInclude(`${copy.message} ${copy.stack} ${String((copy.cause as Error).stack)}`, "pw-")
    }))

  it.effect("cycles, Buffers, Dates, Maps, Sets, bigint, class instances, Redacted and undefined", () =>
    Effect.sync(() => {
      class Conn {
        constructor(readonly host: string, readonly password: string) {}
      }
      const cyc: any = { a: 1 }
      cyc.self = cyc
      cyc.list = [cyc]
      const out = r.redact({
        cyc,
        buf: Buffer.from("-----BEGIN PRIVATE KEY-----"),
        date: new Date(0),
        bad: new Date(Number.NaN),
        map: new Map<unknown, unknown>([["token", "t"], [1, "one"]]),
        set: new Set(["x"]),
        big: 10n,
        conn: new Conn("db", "pw"),
        red: Redacted.make("hidden"),
        nan: Number.NaN,
        undef: undefined,
        fn: function named() {}
      })
      assert.deepStrictEqual(out, {
        cyc: { a: 1, self: "[Circular]", list: ["[Circular]"] },
        buf: "[Buffer: 27 bytes]",
        date: "1970-01-01T00:00:00.000Z",
        bad: null,
        map: { token: M, "1": "one" },
        set: ["x"],
        big: "10",
        conn: { host: "db", password: M },
        red: M,
        nan: null
      })
      // functions inside objects are dropped (as JSON does); a bare function is named
      assert.strictEqual(r.redact(function named() {}), "[Function named]")
    }))

  it.effect("shared (non-cyclic) references are rendered twice, deep nesting is capped", () =>
    Effect.sync(() => {
      const shared = { v: 1 }
      assert.deepStrictEqual(r.redact({ a: shared, b: shared }), { a: { v: 1 }, b: { v: 1 } })
      let deep: any = "leaf"
      for (let i = 0; i < 100; i++) deep = { d: deep }
      assert.include(JSON.stringify(Redactor.make({ maxDepth: 10 }).redact(deep)), "[MaxDepth]")
    }))

  it.effect("a throwing getter does not break redaction", () =>
    Effect.sync(() => {
      const evil = { ok: 1, get boom(): string { throw new Error("nope") } }
      assert.deepStrictEqual(r.redact({ evil }), { evil: "[Unredactable]" })
    }))

  it.effect("options: marker, extra keys (word and RegExp), extra patterns, allowed keys", () =>
    Effect.sync(() => {
      const custom = Redactor.make({
        marker: "***",
        extraKeys: ["vaultRole", /^x-internal-/i],
        extraPatterns: [/ACME-[0-9]{6}/],
        allowKeys: ["tokenBucket"]
      })
      assert.deepStrictEqual(custom.redact({ vaultRole: "r", "X-Internal-Id": "i", note: "id ACME-123456", tokenBucket: 5, token: "t" }), {
        vaultRole: "***",
        "X-Internal-Id": "***",
        note: "id ***",
        tokenBucket: 5,
        token: "***"
      })
    }))

  it.effect("span attributes", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(
        Redactor.spanAttributes(r, { "db.system": "postgresql", "db.connection_string": "postgres://u:p@h/d", "http.request.header.authorization": "Bearer x" }),
        { "db.system": "postgresql", "db.connection_string": M, "http.request.header.authorization": M }
      )
    }))
})

describe("Redactor: service, logger layer", () => {
  it.effect("layerTracer wraps the current tracer", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.NativeSpan> = []
      const recording = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      yield* Effect.void.pipe(
        Effect.withSpan("connect", { attributes: { "db.password": "pw", "db.url": "postgres://u:pw2@h/d", "db.name": "ledger" } }),
        Effect.provide(Redactor.layerTracer.pipe(Layer.provide(Redactor.layerDefault))),
        Effect.provideService(Tracer.Tracer, recording)
      )
      assert.strictEqual(spans.length, 1)
      assert.deepStrictEqual(Object.fromEntries(spans[0]!.attributes), { "db.password": M, "db.url": `postgres://u:${M}@h/d`, "db.name": "ledger" })
    }))

  it.effect("the service redacts and layerLogger wraps the loggers", () =>
    Effect.gen(function*() {
      const out = yield* Redactor.redact({ password: "x" })
      assert.deepStrictEqual(out, { password: M })
      const lines: Array<unknown> = []
      const capture = Logger.make((o) => void lines.push({ message: o.message, annotations: o.fiber.getRef(References.CurrentLogAnnotations) }))
      yield* Effect.log("connecting to postgres://u:pw@h/db").pipe(
        Effect.annotateLogs("password", "pw"),
        Effect.provide(Redactor.layerLogger([capture]))
      )
      assert.deepStrictEqual(lines, [{ message: [`connecting to postgres://u:${M}@h/db`], annotations: { password: M } }])
    }).pipe(Effect.provide(Redactor.layerDefault)))
})
