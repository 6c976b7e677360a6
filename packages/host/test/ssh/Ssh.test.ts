/** `Ssh` against the loopback sshd: host-key pinning, key and agent auth, sudo -n, secrets kept out of errors. */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { Shell } from "@byteport/core/shell"
import { Ssh } from "../../src/index"
import { describeWithSshd } from "../support/sshd"
import { processesWith } from "../support/shellContract"

describeWithSshd("Ssh", (sshd) => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-ssh-"))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  const hostName = `[${sshd.host}]:${sshd.port}`
  const hostKey = () => fs.readFileSync(sshd.hostKeyPub, "utf8").trim().split(/\s+/).slice(0, 2).join(" ")
  const otherKey = () => fs.readFileSync(`${sshd.key}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ")
  const connectWith = (o: Partial<Ssh.Options>) => Effect.scoped(Effect.flatMap(Ssh.connect({ ...sshd.options, ...o }), (c) => c.shell().run(["id", "-u"])))
  const secretText = (e: unknown, secrets: ReadonlyArray<string>) => {
    const text = `${JSON.stringify(e)} ${String(e)} ${e instanceof Error ? e.stack ?? "" : ""}`
    for (const s of secrets) assert.notInclude(text, s)
  }

  it.live("logs in with the pinned host key and the test key; commands run as the login user", () =>
    Effect.gen(function*() {
      const r = yield* connectWith({})
      assert.strictEqual(r.exitCode, 0)
      assert.strictEqual(r.stdout.trim(), String(process.getuid!()))
      assert.strictEqual(r.shell, `ssh:${sshd.user}@${sshd.host}:${sshd.port}`)
    }))

  it.live("an unknown host (no pinned key, or a key pinned for another port) is refused: HostKeyUnknown", () =>
    Effect.gen(function*() {
      const none = yield* Effect.flip(connectWith({ knownHostsPath: undefined, knownHosts: "# empty\n" }))
      assert.strictEqual(none._tag, "SshError")
      assert.strictEqual(none.reason, "HostKeyUnknown")
      const otherPort = yield* Effect.flip(connectWith({ knownHostsPath: undefined, knownHosts: `[${sshd.host}]:${sshd.port + 1} ${hostKey()}\n${sshd.host} ${hostKey()}\n` }))
      assert.strictEqual(otherPort.reason, "HostKeyUnknown")
    }))

  it.live("a changed host key is refused: HostKeyChanged; a @revoked key: HostKeyRevoked", () =>
    Effect.gen(function*() {
      const changed = yield* Effect.flip(connectWith({ knownHostsPath: undefined, knownHosts: `${hostName} ${otherKey()}\n` }))
      assert.strictEqual(changed.reason, "HostKeyChanged")
      assert.include(changed.message, hostName)
      const revoked = yield* Effect.flip(connectWith({ knownHostsPath: undefined, knownHosts: `${hostName} ${hostKey()}\n@revoked * ${hostKey()}\n` }))
      assert.strictEqual(revoked.reason, "HostKeyRevoked")
    }))

  it.live("hashed known_hosts names (ssh-keygen -H) pin the key too", () =>
    Effect.gen(function*() {
      const file = nodePath.join(dir, "known_hosts_hashed")
      fs.writeFileSync(file, `${hostName} ${hostKey()}\n`)
      execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" })
      assert.match(fs.readFileSync(file, "utf8"), /^\|1\|/)
      const r = yield* connectWith({ knownHostsPath: file })
      assert.strictEqual(r.exitCode, 0)
    }))

  it.live("a key the server does not accept fails AuthFailed, without the key in the error", () =>
    Effect.gen(function*() {
      const key = nodePath.join(dir, "stranger")
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
      const e = yield* Effect.flip(connectWith({ privateKeyPath: key }))
      assert.strictEqual(e.reason, "AuthFailed")
      const body = fs.readFileSync(key, "utf8").split("\n")[1]!
      secretText(e, [body])
    }))

  it.live("an encrypted key: the right passphrase logs in; a wrong one fails KeyUnreadable naming neither", () =>
    Effect.gen(function*() {
      const key = nodePath.join(dir, "encrypted")
      fs.copyFileSync(sshd.key, key)
      fs.chmodSync(key, 0o600)
      const passphrase = "pp-S3cret-passphrase-771"
      execFileSync("ssh-keygen", ["-q", "-p", "-N", passphrase, "-f", key])
      const ok = yield* connectWith({ privateKeyPath: key, passphrase: Redacted.make(passphrase) })
      assert.strictEqual(ok.exitCode, 0)
      const wrong = "wrong-passphrase-998"
      const e = yield* Effect.flip(connectWith({ privateKeyPath: key, passphrase: Redacted.make(wrong) }))
      assert.strictEqual(e.reason, "KeyUnreadable")
      const missing = yield* Effect.flip(connectWith({ privateKeyPath: key }))
      assert.strictEqual(missing.reason, "KeyUnreadable")
      const text = fs.readFileSync(key, "utf8")
      secretText(e, [passphrase, wrong, text.split("\n")[1]!])
      // key text given directly (Redacted) works as the file does, and never shows
      const inline = yield* connectWith({ privateKeyPath: undefined, privateKey: Redacted.make(fs.readFileSync(sshd.key, "utf8")) })
      assert.strictEqual(inline.exitCode, 0)
    }))

  it.live("an SSH agent holding the key logs in (no key file given)", () =>
    Effect.gen(function*() {
      const sock = nodePath.join(dir, "agent.sock")
      const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" })
      try {
        for (let i = 0; i < 200 && !fs.existsSync(sock); i++) yield* Effect.sleep("10 millis")
        execFileSync("ssh-add", ["-q", sshd.key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" })
        const r = yield* connectWith({ privateKeyPath: undefined, agent: sock })
        assert.strictEqual(r.exitCode, 0)
        assert.strictEqual(r.stdout.trim(), String(process.getuid!()))
      } finally {
        agent.kill("SIGTERM")
      }
    }))

  it.live("sudo: true runs every command through sudo -n", () =>
    Effect.gen(function*() {
      const plain = yield* Shell.run(["sh", "-c", "echo ${SUDO_COMMAND:-none}"]).pipe(Effect.provide(Ssh.layer(sshd.options)))
      assert.strictEqual(plain.stdout.trim(), "none")
      const viaSudo = yield* Shell.run(["sh", "-c", "echo ${SUDO_USER:-none}"]).pipe(Effect.provide(Ssh.layer({ ...sshd.options, sudo: true })))
      assert.strictEqual(viaSudo.exitCode, 0)
      assert.strictEqual(viaSudo.stdout.trim(), sshd.user)
      const args = yield* Shell.run(["printf", "%s\\0", "a b", "it's", "$HOME"]).pipe(Effect.provide(Ssh.layer({ ...sshd.options, sudo: true })))
      assert.deepStrictEqual(args.stdout.split("\0").slice(0, -1), ["a b", "it's", "$HOME"])
      // the kill on timeout goes through sudo -n too
      const t = `${600 + Math.floor(Math.random() * 99)}.${Date.now() % 1_000_000}`
      const e = yield* Effect.flip(Shell.run(["sleep", t], { timeout: "500 millis" }).pipe(Effect.provide(Ssh.layer({ ...sshd.options, sudo: true }))))
      assert.strictEqual(e.reason, "TimedOut")
      assert.deepStrictEqual(processesWith(`sleep\0${t}`), [])
    }))

  it.live("the layer fails with the typed SshError when the host key is not pinned", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Shell.run(["true"]).pipe(Effect.provide(Ssh.layer({ ...sshd.options, knownHostsPath: undefined, knownHosts: "" }))))
      assert.strictEqual(e._tag, "SshError")
      const bad = yield* Effect.flip(Layer.build(Ssh.layerConnection({ ...sshd.options, knownHostsPath: undefined })).pipe(Effect.scoped))
      assert.strictEqual(bad.reason, "InvalidOptions")
    }))

  it.live("a timed-out remote sleep leaves no process on the server, and the connection stays usable", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* Ssh.connect(sshd.options)
      const shell = conn.shell()
      const t = `${700 + Math.floor(Math.random() * 99)}.${Date.now() % 1_000_000}`
      const e = yield* Effect.flip(shell.run(["sleep", t], { timeout: "500 millis" }))
      assert.strictEqual(e.reason, "TimedOut")
      assert.deepStrictEqual(processesWith(`sleep\0${t}`), [])
      const after = yield* shell.run(["echo", "still here"])
      assert.strictEqual(after.stdout, "still here\n")
    })))

  it.live("a refused connection fails SpawnFailed in the Shell and ConnectFailed in connect", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(connectWith({ port: 1, knownHostsPath: undefined, knownHosts: `[${sshd.host}]:1 ${hostKey()}\n` }))
      assert.strictEqual(e.reason, "ConnectFailed")
      assert.strictEqual(e.code, "ECONNREFUSED")
    }))
})

describeWithSshd("Ssh reconnects", (sshd) => {
  it.live("a connection the server dropped is re-made on the next command", () =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* Ssh.connect(sshd.options)
      const shell = conn.shell()
      // this connection's own sshd processes: the command's ancestors up to the listening sshd (other
      // test files may hold connections to the same server)
      const chain = yield* shell.run(["sh", "-c", `p=$$; while [ "$p" -gt 1 ]; do echo "$p $(cat /proc/$p/comm)"; p=$(cut -d' ' -f4 /proc/$p/stat); done`])
      const main = Number(sshd.pid)
      const ours = chain.stdout.trim().split("\n").map((l) => l.split(" ")).filter(([p, comm]) => comm === "sshd" && Number(p) !== main).map(([p]) => Number(p))
      assert.isAbove(ours.length, 0)
      assert.include(chain.stdout, `${main} sshd`)
      for (const p of ours) process.kill(p, "SIGKILL")
      const again = yield* shell.run(["echo", "back"])
      assert.strictEqual(again.stdout, "back\n")
    })))
})
