/**
 * Discovery against the real servers of scripts/services.sh (read-only): the process listening on
 * each TLS port (nginx's master, haproxy, caddy), nginx's TLS sites from `nginx -T` (with includes),
 * haproxy's `bind … ssl crt`; and the parsers on fixed text (includes, quotes, comments).
 */
import * as fs from "node:fs"
import { Shell } from "@byteport/core/shell"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Discover, Nginx } from "../src/index"
import { describeWithServices } from "./support/services"

describe("Discover parsers", () => {
  it("nginxSites: includes by glob, quotes, comments, only TLS server blocks inside http", () => {
    const dump = [
      "# configuration file /etc/nginx/nginx.conf:",
      "events {}",
      "http {",
      "  include /etc/nginx/sites/*.conf;",
      "  server { listen 80; server_name plain.example; }",
      "}",
      "# configuration file /etc/nginx/sites/a.conf:",
      "server {",
      "  listen 443 ssl; listen [::]:443 ssl; # dual stack",
      "  server_name shop.example.com www.shop.example.com;",
      "  ssl_certificate \"/etc/ssl/shop fullchain.pem\";",
      "  ssl_certificate_key /etc/ssl/shop.key;",
      "  ssl_stapling on;",
      "  location / { return 200; }",
      "}",
      "# configuration file /etc/nginx/sites/b.conf.disabled:",
      "server { listen 8443 ssl; ssl_certificate /never.pem; }",
      ""
    ].join("\n")
    const sites = Discover.nginxSites(dump)
    assert.deepStrictEqual(sites, [{
      listen: ["443 ssl", "[::]:443 ssl"],
      serverNames: ["shop.example.com", "www.shop.example.com"],
      certificate: "/etc/ssl/shop fullchain.pem",
      certificateKey: "/etc/ssl/shop.key",
      stapling: true
    }])
  })

  it("haproxyBinds: ssl binds with every crt, per section; comments ignored", () => {
    const cfg = [
      "global", "  master-worker",
      "frontend web", "  bind :80", "  bind 0.0.0.0:443 ssl crt /etc/haproxy/site.pem crt /etc/haproxy/certs/ alpn h2 # two",
      "frontend api", "  # bind :8443 ssl crt /commented.pem", "  bind 127.0.0.1:8443 ssl crt /etc/haproxy/api.pem"
    ].join("\n")
    assert.deepStrictEqual(Discover.haproxyBinds(cfg), [
      { section: "frontend web", address: "0.0.0.0:443", crt: ["/etc/haproxy/site.pem", "/etc/haproxy/certs/"] },
      { section: "frontend api", address: "127.0.0.1:8443", crt: ["/etc/haproxy/api.pem"] }
    ])
  })

  it("listening: a port nobody listens on has no process", () => {
    const r = Discover.listening(9)
    assert.deepStrictEqual(r.processes, [])
    assert.isUndefined(r.main)
  })
})

describeWithServices(["nginx", "haproxy", "caddy"], "Discover against the running servers", (env) => {
  it.effect("the listening process of each TLS port; nginx -T sites; haproxy binds", () =>
    Effect.gen(function*() {
      const nginx = Discover.listening(Number(env.BYTEPORT_TEST_NGINX_TLS_PORT))
      assert.strictEqual(nginx.main?.pid, Nginx.masterPid(env.BYTEPORT_TEST_NGINX_PID_FILE ?? ""))
      assert.match(nginx.main?.cmdline ?? "", /^nginx: master process/)
      assert.isTrue(nginx.processes.some((p) => p.ppid === nginx.main?.pid), "a worker holds it too")
      const haproxy = Discover.listening(Number(env.BYTEPORT_TEST_HAPROXY_TLS_PORT))
      assert.strictEqual(haproxy.main?.comm, "haproxy")
      assert.include(haproxy.main?.cmdline ?? "", env.BYTEPORT_TEST_HAPROXY_CFG ?? "")
      const caddy = Discover.listening(Number(env.BYTEPORT_TEST_CADDY_TLS_PORT))
      assert.strictEqual(caddy.main?.comm, "caddy")

      const sites = yield* Discover.nginxSitesOf({ conf: env.BYTEPORT_TEST_NGINX_CONF ?? "", errorLog: env.BYTEPORT_TEST_NGINX_ERROR_LOG ?? "" })
      assert.deepStrictEqual(sites, [{
        listen: [`127.0.0.1:${env.BYTEPORT_TEST_NGINX_TLS_PORT} ssl`],
        serverNames: ["_"],
        certificate: env.BYTEPORT_TEST_NGINX_CERT,
        certificateKey: env.BYTEPORT_TEST_NGINX_KEY,
        stapling: true
      }])
      const binds = yield* Discover.haproxyBindsOf(env.BYTEPORT_TEST_HAPROXY_CFG ?? "")
      assert.deepStrictEqual(binds, [{ section: "frontend tls", address: `127.0.0.1:${env.BYTEPORT_TEST_HAPROXY_TLS_PORT}`, crt: [env.BYTEPORT_TEST_HAPROXY_PEM ?? ""] }])
      assert.isTrue(fs.existsSync(binds[0]!.crt[0]!))
    }).pipe(Effect.provide(Shell.layerLocal)))
})
