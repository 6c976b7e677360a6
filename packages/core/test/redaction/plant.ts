/**
 * fast-check arbitraries that plant generated secrets in the places secrets hide: Kubernetes
 * env arrays, secret-like keys, DSNs, libpq strings, bearer/Authorization headers, JWTs,
 * GitHub / Slack tokens and webhook URLs, AWS key pairs, PEM private keys, nested Error causes,
 * span attributes — each wrapped at a random depth in ordinary data.
 *
 * A planted case is `{ value, secrets }`: `secrets` are the substrings that must never appear
 * in any output.
 */
import fc from "fast-check"

/** A planted case. */
export interface Planted {
  readonly form: string
  readonly value: unknown
  readonly secrets: ReadonlyArray<string>
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
const upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

const chars = (alphabet: string, min: number, max: number = min) =>
  fc.array(fc.constantFrom(...alphabet.split("")), { minLength: min, maxLength: max }).map((a) => a.join(""))

/**
 * The secret material: starts with "Sx" then 18–30 alphanumerics, so it never collides with
 * ordinary output text.
 */
export const secretCore = chars(alnum, 18, 30).map((s) => `Sx${s}`)

const word = fc.constantFrom("db", "app", "main", "prod", "primary", "stripe", "billing", "github", "slack", "service", "my")
const secretWord = fc.constantFrom(
  "password",
  "passwd",
  "pwd",
  "secret",
  "token",
  "apiKey",
  "api_key",
  "api-key",
  "authorization",
  "cookie",
  "privateKey",
  "private_key",
  "credentials",
  "dsn",
  "passphrase",
  "accessToken",
  "clientSecret",
  "secretAccessKey",
  "routing_key",
  "connectionString"
)

const splitWords = (s: string): Array<string> =>
  s.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w.toLowerCase())

/** A secret-like key in one of the usual casings, with an optional prefix word. */
export const secretKey = fc
  .tuple(fc.option(word, { nil: undefined }), secretWord, fc.constantFrom("camel", "snake", "kebab", "upper", "dot"))
  .map(([prefix, w, style]) => {
    const ws = [...(prefix ? [prefix] : []), ...splitWords(w)]
    switch (style) {
      case "camel":
        return ws.map((x, i) => (i === 0 ? x : x[0]!.toUpperCase() + x.slice(1))).join("")
      case "snake":
        return ws.join("_")
      case "kebab":
        return ws.join("-")
      case "upper":
        return ws.join("_").toUpperCase()
      default:
        return ws.join(".")
    }
  })

const host = fc.constantFrom("db.internal", "10.0.0.12", "cache", "mq.prod.svc.cluster.local", "example.com")
const filler = fc.constantFrom("", "connecting to", "error:", "retrying", "(pool 3/10)", "value", "url")

// ------------------------------------------------------------------------------------------
// the forms

const envForm = fc.tuple(secretKey, secretCore).map(([name, s]): Planted => ({
  form: "k8s env",
  value: {
    containers: [{
      name: "web",
      env: [
        { name: "LOG_LEVEL", value: "info" },
        { name, value: s },
        { name: "FROM_REF", valueFrom: { secretKeyRef: { name: "db-creds", key: "password" } } }
      ]
    }]
  },
  secrets: [s]
}))

const keyForm = fc.tuple(secretKey, secretCore).map(([k, s]): Planted => ({ form: "secret key", value: { [k]: s }, secrets: [s] }))

const dsnForm = fc
  .tuple(
    fc.constantFrom("postgres", "postgresql", "mysql", "redis", "rediss", "amqp", "amqps", "mongodb", "mongodb+srv", "https", "http"),
    fc.constantFrom("app", "admin", "", "svc_user"),
    secretCore,
    host,
    fc.integer({ min: 1, max: 65535 }),
    filler
  )
  .map(([scheme, user, s, h, port, pre]): Planted => ({
    form: "dsn",
    value: `${pre} ${scheme}://${user}:${s}@${h}:${port}/data?sslmode=require`.trim(),
    secrets: [s]
  }))

const libpqForm = fc.tuple(secretCore, fc.boolean(), fc.constantFrom("password", "PASSWORD", "sslpassword", "pwd")).map(
  ([s, quoted, k]): Planted => ({
    form: "libpq",
    value: `host=db port=5432 user=app ${k}=${quoted ? `'${s} x'` : s} dbname=orders`,
    secrets: [s]
  })
)

const bearerForm = fc.tuple(secretCore, fc.constantFrom("bare", "header", "curl", "json", "basic")).map(([s, style]): Planted => ({
  form: `bearer ${style}`,
  value: style === "bare"
    ? `sent Bearer ${s} upstream`
    : style === "header"
    ? `Authorization: Bearer ${s}`
    : style === "curl"
    ? `curl -H 'Authorization: Bearer ${s}' https://api.example.com`
    : style === "json"
    ? `{"headers":{"Authorization":"Bearer ${s}"}}`
    : `Authorization: Basic ${Buffer.from(`u:${s}`).toString("base64")}`,
  secrets: style === "basic" ? [Buffer.from(`u:${s}`).toString("base64")] : [s]
}))

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url")
const jwtForm = fc.tuple(secretCore, secretCore).map(([a, sig]): Planted => {
  const token = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: a })}.${sig}`
  return { form: "jwt", value: `token was ${token}`, secrets: [sig, b64url({ sub: a })] }
})

const githubForm = fc.tuple(chars(alnum, 36), chars(alnum + "_", 40, 60), fc.boolean()).map(([a, b, pat]): Planted => ({
  form: "github token",
  value: pat ? `GIT_ASKPASS token github_pat_${b}` : `push with ghp_${a} failed`,
  secrets: [pat ? b : a]
}))

const slackForm = fc.tuple(secretCore, chars(upperDigits, 9), fc.boolean()).map(([s, id, hook]): Planted => ({
  form: "slack",
  value: hook ? `posting to https://hooks.slack.com/services/T${id}/B${id}/${s}` : `bot xoxb-${id}-${id}-${s}`,
  secrets: [s]
}))

const awsForm = fc.tuple(chars(upperDigits, 16), chars(alnum + "/+", 40), fc.boolean()).map(([id, sk, inObject]): Planted => ({
  form: "aws",
  value: inObject ? { accessKeyId: `AKIA${id}`, awsKey: sk } : `aws configure set AKIA${id} ${sk}`,
  secrets: [id, sk]
}))

const pemForm = fc.tuple(fc.array(chars(alnum + "+/", 64), { minLength: 1, maxLength: 5 }), fc.constantFrom("RSA ", "EC ", "", "OPENSSH ", "ENCRYPTED ")).map(
  ([lines, kind]): Planted => ({
    form: "pem",
    value: `-----BEGIN ${kind}PRIVATE KEY-----\n${lines.join("\n")}\n-----END ${kind}PRIVATE KEY-----\n`,
    secrets: lines
  })
)

// ------------------------------------------------------------------------------------------
// command lines, scheme-less DSNs and URL passwords with `/`, `@`, `:` (issue 8, item 8)

const tool = fc.constantFrom("mysql", "psql", "curl", "vault", "redis-cli", "/usr/local/bin/mytool", "kubectl")
const secretFlag = fc.constantFrom("--password", "--token", "--api-key", "--apikey", "--client-secret", "--access-token", "--auth-token", "--secret", "-password", "--db-password")
const quote = (s: string, q: string) => `${q}${s}${q}`

/** `--password x`, `--token=x`, `--api-key "x"` in a command line. */
export const cliFlagForm = fc.tuple(tool, secretFlag, secretCore, fc.constantFrom(" ", "=", " \"", "='", " '"), filler).map(
  ([t, flag, s, sep, pre]): Planted => {
    const q = sep.endsWith("\"") ? "\"" : sep.endsWith("'") ? "'" : ""
    return { form: `cli flag ${flag}${sep.trim() || "␠"}`, value: `${pre} ${t} -h db ${flag}${sep.replace(/["']$/, "")}${quote(s, q)} --verbose`.trim(), secrets: [s] }
  }
)

/** The mysql-style attached password: `mysql -uroot -pSECRET`, also quoted. */
export const mysqlPForm = fc.tuple(fc.constantFrom("mysql", "mysqldump", "mysqladmin", "mariadb", "/usr/bin/mysql"), secretCore, fc.constantFrom("", "'", "\"")).map(
  ([t, s, q]): Planted => ({ form: `mysql -p${q}`, value: `${t} -uroot -p${quote(s, q)} -h db.internal -P 3306 orders`, secrets: [s] })
)

/** Environment assignments on a command line: `PGPASSWORD=x psql`, `export MYSQL_PWD='x'`. */
export const envAssignForm = fc.tuple(fc.constantFrom("PGPASSWORD", "MYSQL_PWD", "REDIS_PASSWORD", "VAULT_TOKEN", "AWS_SECRET_ACCESS_KEY"), secretCore, fc.constantFrom("", "export ", "env "), fc.constantFrom("", "'", "\"")).map(
  ([k, s, pre, q]): Planted => ({ form: `env assign ${k}`, value: `${pre}${k}=${quote(s, q)} psql -h db -U app`, secrets: [s] })
)

/** Scheme-less DSNs: `user:pass@tcp(host:3306)/db` (Go MySQL), `user:pass@host:5432/db`, `user:pass@unix(/sock)/db`. */
export const schemelessDsnForm = fc.tuple(fc.constantFrom("app", "root", "svc_user", "", "a.b"), secretCore, host, fc.constantFrom("tcp", "hostport", "unix", "hostdb"), filler, fc.constantFrom(" ", "=", "\"")).map(
  ([user, s, h, style, pre, lead]): Planted => {
    const dsn = style === "tcp"
      ? `${user}:${s}@tcp(${h}:3306)/orders?parseTime=true`
      : style === "hostport"
      ? `${user}:${s}@${h}:5432/orders`
      : style === "unix"
      ? `${user}:${s}@unix(/var/run/mysqld/mysqld.sock)/orders`
      : `${user}:${s}@${h}/orders`
    return { form: `scheme-less dsn ${style}`, value: `${pre} conn${lead}${dsn}${lead === "\"" ? "\"" : ""} failed`.trim(), secrets: [s] }
  }
)

/** URL passwords that contain `/`, `@` or `:`, raw or percent-encoded. */
export const urlSpecialPasswordForm = fc
  .tuple(
    fc.constantFrom("postgres", "mysql", "redis", "amqp", "https", "mongodb"),
    secretCore,
    fc.constantFrom("/", "@", ":", "%2F", "%40", "%3A", "//", "@:/"),
    fc.constantFrom("/", "@", ":", "%2F"),
    host,
    fc.boolean()
  )
  .map(([scheme, s, sep1, sep2, h, port]): Planted => {
    const parts = [s.slice(0, 8), s.slice(8, 14), s.slice(14)]
    const pass = `${parts[0]}${sep1}${parts[1]}${sep2}${parts[2]}`
    return {
      form: `url password with ${sep1} ${sep2}`,
      value: `dial ${scheme}://app:${pass}@${h}${port ? ":5432" : ""}/orders?sslmode=require`,
      secrets: parts
    }
  })

/** Argv arrays: `["mysql", "-pX", "--password", "Y", "--token=Z"]`. */
export const argvForm = fc.tuple(secretCore, secretCore, secretCore, secretFlag).map(([a, b, c, flag]): Planted => ({
  form: `argv ${flag}`,
  value: { command: ["mysql", "-uroot", `-p${a}`, "-h", "db", flag, b, `--token=${c}`, "orders"] },
  secrets: [a, b, c]
}))

/** The command-line and DSN shapes of item 8, as strings. */
export const cliPlant: fc.Arbitrary<Planted> = fc.oneof(cliFlagForm, mysqlPForm, envAssignForm, schemelessDsnForm, urlSpecialPasswordForm)

/** A string-form secret (anything that can sit in a message). */
export const stringPlant: fc.Arbitrary<Planted> = fc.oneof(
  cliPlant,
  dsnForm,
  libpqForm,
  bearerForm,
  jwtForm,
  githubForm,
  slackForm,
  awsForm.filter((p) => typeof p.value === "string"),
  pemForm
)

const errorForm = fc.tuple(stringPlant, fc.integer({ min: 0, max: 3 }), secretCore).map(([inner, depth, pw]): Planted => {
  let e: Error = new Error(`probe failed: ${String(inner.value)}`)
  ;(e as any).password = pw
  for (let i = 0; i < depth; i++) e = new Error(`layer ${i}`, { cause: e })
  return { form: `error cause depth ${depth} (${inner.form})`, value: e, secrets: [...inner.secrets, pw] }
})

const spanForm = fc.tuple(stringPlant, secretCore).map(([p, s]): Planted => ({
  form: `span attributes (${p.form})`,
  value: { "db.statement": p.value, "http.request.header.authorization": `Bearer ${s}`, "db.system": "postgresql" },
  secrets: [...p.secrets, s]
}))

/** Any planted secret, not yet nested. */
export const flatPlant: fc.Arbitrary<Planted> = fc.oneof(
  envForm,
  keyForm,
  stringPlant,
  awsForm,
  errorForm,
  spanForm,
  argvForm
)

/** Wraps a planted value at a random depth in ordinary objects, arrays and Maps. */
export const plant: fc.Arbitrary<Planted> = fc
  .tuple(flatPlant, fc.array(fc.constantFrom("obj", "arr", "map", "evidence"), { maxLength: 5 }))
  .map(([p, path]) => {
    let v: unknown = p.value
    for (const step of path) {
      v = step === "obj"
        ? { name: "secret-santa", detail: v, tokenizer: "bpe" }
        : step === "arr"
        ? ["ok", v, 3]
        : step === "map"
        ? new Map<string, unknown>([["inner", v]])
        : { restarts: 5, lastState: { terminated: { reason: "Error", message: v } } }
    }
    return { form: `${p.form} @ ${path.join("/") || "top"}`, value: v, secrets: p.secrets }
  })

/** Asserts none of the secrets appears in `text`; the message names the form and the leaked secret. */
export const assertNoSecrets = (p: Planted, text: string, where: string): void => {
  for (const s of p.secrets) {
    if (text.includes(s)) throw new Error(`${where}: secret from form "${p.form}" leaked: ${s}\n--- output ---\n${text.slice(0, 2000)}`)
  }
}

/** The string form of a planted value for places that only take strings (messages, details). */
export const asText = (p: Planted): string =>
  typeof p.value === "string" ? p.value : p.value instanceof Error ? `${p.value.message}` : JSON.stringify(p.value, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v)) ?? ""
