import { assert, describe, it } from "@effect/vitest"
import * as Messages from "../../src/probes/messages"

// Real message strings: kubelet (pkg/kubelet/prober, kuberuntime, images), containerd, CRI-O.
describe("PodMessages.probe: kubelet probe failures and kills", () => {
  const table: ReadonlyArray<[string, Partial<Messages.ProbeFailure>]> = [
    ["Liveness probe failed: HTTP probe failed with statuscode: 404", { probe: "Liveness", failure: "status", statusCode: 404, kill: false }],
    ["Readiness probe failed: HTTP probe failed with statuscode: 503", { probe: "Readiness", failure: "status", statusCode: 503 }],
    ['Liveness probe failed: Get "http://10.244.1.2:8080/healthz": dial tcp 10.244.1.2:8080: connect: connection refused', { failure: "refused", address: "10.244.1.2:8080", statusCode: null }],
    ['Liveness probe failed: Get "http://10.244.1.2:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)', { failure: "timeout", address: "10.244.1.2:8080" }],
    ["Liveness probe failed: dial tcp 10.244.0.5:5432: i/o timeout", { failure: "timeout", address: "10.244.0.5:5432" }],
    ["Startup probe failed: dial tcp 10.244.0.5:5432: connect: connection refused", { probe: "Startup", failure: "refused" }],
    ['Liveness probe failed: timeout: failed to connect service "10.244.0.9:9000" within 1s: context deadline exceeded', { failure: "timeout", address: "10.244.0.9:9000" }],
    ['Liveness probe failed: command "cat /tmp/healthy" timed out', { failure: "timeout" }],
    ["Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory", { failure: "other" }],
    ['Readiness probe failed: Get "https://10.1.2.3:8443/ready": read tcp 10.1.0.1:51234->10.1.2.3:8443: read: connection reset by peer', { failure: "reset" }],
    ["Readiness probe errored: rpc error: code = NotFound desc = container is not created or running", { probe: "Readiness", failure: "other" }],
    ["Container api failed liveness probe, will be restarted", { probe: "Liveness", container: "api", kill: true }],
    ["Container api failed startup probe, will be restarted", { probe: "Startup", container: "api", kill: true }]
  ]
  for (const [message, want] of table) {
    it(message.slice(0, 90), () => {
      const got = Messages.probe(message)
      assert.isDefined(got)
      for (const [k, v] of Object.entries(want)) assert.deepStrictEqual((got as any)[k], v, k)
    })
  }
  it("other messages are no probe failure", () => {
    assert.isUndefined(Messages.probe("Started container api"))
    assert.isUndefined(Messages.probe("Back-off restarting failed container api in pod api-1_default(uid)"))
  })
})

describe("PodMessages.backOff", () => {
  it("restart back-off names container, pod, namespace and uid", () => {
    assert.deepStrictEqual(Messages.backOff("Back-off restarting failed container api in pod api-549d9c59f5-mh7sp_default(3eb5f549-8fd0-4fc0-b380-2d228e7ee500)"), {
      _tag: "Restart", container: "api", pod: "api-549d9c59f5-mh7sp", namespace: "default", uid: "3eb5f549-8fd0-4fc0-b380-2d228e7ee500"
    })
  })
  it("pull back-off names the image", () => {
    assert.deepStrictEqual(Messages.backOff('Back-off pulling image "registry.example.com/shop/api:1.4.3-rc0"'), { _tag: "Pull", image: "registry.example.com/shop/api:1.4.3-rc0" })
    assert.isUndefined(Messages.backOff("Pulling image \"x\""))
  })
})

describe("PodMessages.termination / exitMeaning", () => {
  const table: ReadonlyArray<[number | null, string | null, string | null, Messages.ExitMeaning]> = [
    [0, "Completed", null, "success"],
    [1, "Error", null, "error"],
    [2, "Error", null, "misuse"],
    [78, "Error", null, "config"],
    [126, "Error", null, "not_executable"],
    [126, "StartError", "exec: \"/app/run\": permission denied", "not_executable"],
    [127, "Error", null, "not_found"],
    [128, "StartError", 'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/app/server": stat /app/server: no such file or directory: unknown', "not_found"],
    [128, "StartError", "failed to create containerd task: OCI runtime create failed: cgroup error", "start_error"],
    [137, "OOMKilled", null, "sigkill"],
    [137, "Error", null, "sigkill"],
    [143, "Error", null, "sigterm"],
    [139, "Error", null, "signal"],
    [3, "Error", null, "other"]
  ]
  for (const [code, reason, message, meaning] of table) {
    it(`${code} ${reason} → ${meaning}`, () => assert.strictEqual(Messages.exitMeaning(code, reason, message), meaning))
  }
  it("termination: signal number and run time", () => {
    const t = Messages.termination({ exitCode: 137, reason: "Error", startedAt: "2026-01-01T00:06:42Z", finishedAt: "2026-01-01T00:06:57Z" })
    assert.strictEqual(t.signal, 9)
    assert.strictEqual(t.ranMs, 15_000)
    assert.strictEqual(t.meaning, "sigkill")
    assert.strictEqual(Messages.termination({ exitCode: 1 }).ranMs, null)
  })
})

describe("PodMessages.configError: CreateContainerConfigError", () => {
  const table: ReadonlyArray<[string, Messages.ConfigError | undefined]> = [
    ['configmap "api-config" not found', { kind: "ConfigMap", name: "api-config", namespace: null, key: null }],
    ['secret "db-credentials" not found', { kind: "Secret", name: "db-credentials", namespace: null, key: null }],
    ['configmaps "api-config" not found', { kind: "ConfigMap", name: "api-config", namespace: null, key: null }],
    ["couldn't find key LOG_LEVEL in ConfigMap shop/api-config", { kind: "ConfigMap", name: "api-config", namespace: "shop", key: "LOG_LEVEL" }],
    ["couldn't find key password in Secret shop/db-credentials", { kind: "Secret", name: "db-credentials", namespace: "shop", key: "password" }],
    ['MountVolume.SetUp failed for volume "config" : configmap "api-config" not found', { kind: "ConfigMap", name: "api-config", namespace: null, key: null }],
    ["container has runAsNonRoot and image will run as root (pod: \"api_shop(uid)\", container: api)", undefined]
  ]
  for (const [message, want] of table) it(message, () => assert.deepStrictEqual(Messages.configError(message), want))
})

describe("PodMessages.imagePull: ErrImagePull causes", () => {
  const table: ReadonlyArray<[string, Messages.PullCause, string | null]> = [
    ['rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/shop/api:1.4.3-rc0": failed to resolve reference "registry.example.com/shop/api:1.4.3-rc0": registry.example.com/shop/api:1.4.3-rc0: not found', "not_found", "registry.example.com"],
    ['rpc error: code = Unknown desc = Error response from daemon: manifest for nginx:1.99 not found: manifest unknown: manifest unknown', "not_found", null],
    ['rpc error: code = Unknown desc = failed to pull and unpack image "private.registry.example.com/team/api:2.0.0": failed to resolve reference "private.registry.example.com/team/api:2.0.0": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed', "denied_or_not_found", "private.registry.example.com"],
    ['rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/api:1.0": failed to resolve reference "ghcr.io/acme/api:1.0": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope=repository%3Aacme%2Fapi%3Apull&service=ghcr.io: 401 Unauthorized', "unauthorized", "ghcr.io"],
    ['rpc error: code = Unknown desc = failed to pull and unpack image "registry.internal:5000/api:1": failed to resolve reference "registry.internal:5000/api:1": failed to do request: Head "https://registry.internal:5000/v2/api/manifests/1": dial tcp: lookup registry.internal on 10.96.0.10:53: no such host', "dns", "registry.internal"],
    ['rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "registry.internal.example.com/team/api:2.0.0": failed to resolve reference "registry.internal.example.com/team/api:2.0.0": failed to do request: Head "https://registry.internal.example.com/v2/team/api/manifests/2.0.0": dial tcp 10.21.34.5:443: i/o timeout', "timeout", "registry.internal.example.com"],
    ['rpc error: code = Unknown desc = failed to pull and unpack image "r.example.com/api:1": failed to resolve reference "r.example.com/api:1": failed to do request: Head "https://r.example.com/v2/api/manifests/1": dial tcp 10.0.0.7:443: connect: connection refused', "refused", "r.example.com"],
    ['rpc error: code = Unknown desc = failed to pull and unpack image "r.example.com/api:1": failed to resolve reference "r.example.com/api:1": failed to do request: Head "https://r.example.com/v2/api/manifests/1": tls: failed to verify certificate: x509: certificate signed by unknown authority', "x509", "r.example.com"],
    ['rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/nginx:1.25": failed to resolve reference "docker.io/library/nginx:1.25": failed to do request: Head "https://registry-1.docker.io/v2/library/nginx/manifests/1.25": proxyconnect tcp: dial tcp 10.0.0.1:3128: connect: connection refused', "proxy", "registry-1.docker.io"],
    ['rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/acme/tool:1.0": no match for platform in manifest: not found', "platform", null],
    ['Failed to apply default image tag "API:latest": couldn\'t parse image reference "API:latest": invalid reference format: repository name must be lowercase', "invalid_name", null],
    ['Container image "api:1" is not present with pull policy of Never', "never_pull", null]
  ]
  for (const [message, cause, registry] of table) {
    it(`${cause}: ${message.slice(0, 70)}`, () => {
      const got = Messages.imagePull(message)
      assert.strictEqual(got.cause, cause)
      if (registry !== null) assert.strictEqual(got.registry, registry)
      assert.strictEqual(got.network, ["dns", "timeout", "refused", "x509", "proxy"].includes(cause))
    })
  }
})
