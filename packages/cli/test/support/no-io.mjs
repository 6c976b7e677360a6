// Preloaded (`--import`) into a `byteport` child process by cli.process.test.ts: every socket
// connect and every file-system write (or create, rename, delete) is refused and reported on
// stderr as `NO-IO: <what>`, so a test can assert that a command opened no socket and wrote nothing.
import { createRequire, syncBuiltinESMExports } from "node:module"

// the mutable CommonJS module objects (ESM namespaces are read-only; syncBuiltinESMExports updates them)
const require = createRequire(import.meta.url)
const dgram = require("node:dgram")
const fs = require("node:fs")
const net = require("node:net")

const report = (what) => {
  process.stderr.write(`NO-IO: ${what}\n`)
  const e = new Error(`no-io: ${what}`)
  e.code = "EACCES"
  return e
}
const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function(...args) {
  const a = Array.isArray(args[0]) ? args[0][0] : args[0]
  const where = typeof a === "object" && a !== null ? (a.path ?? `${a.host ?? "localhost"}:${a.port}`) : String(a)
  throw report(`connect ${where}`)
}
void connect
dgram.createSocket = () => {
  throw report("udp socket")
}
const writing = (flags) => typeof flags === "string" ? /[wa+]/.test(flags) : typeof flags === "number" ? (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND)) !== 0 : false
const deny = (name) => (...args) => {
  throw report(`fs.${name} ${String(args[0])}`)
}
for (const name of ["writeFileSync", "appendFileSync", "mkdirSync", "mkdtempSync", "renameSync", "rmSync", "rmdirSync", "unlinkSync", "copyFileSync", "cpSync", "symlinkSync", "linkSync", "truncateSync", "createWriteStream", "writeFile", "appendFile", "mkdir", "mkdtemp", "rename", "rm", "rmdir", "unlink", "copyFile", "cp", "symlink", "link", "truncate"]) {
  fs[name] = deny(name)
}
for (const name of ["writeFile", "appendFile", "mkdir", "mkdtemp", "rename", "rm", "rmdir", "unlink", "copyFile", "cp", "symlink", "link", "truncate"]) {
  fs.promises[name] = async (...args) => {
    throw report(`fs.promises.${name} ${String(args[0])}`)
  }
}
const openSync = fs.openSync
fs.openSync = (p, flags, ...rest) => {
  if (writing(flags)) throw report(`fs.openSync ${String(p)} ${flags}`)
  return openSync(p, flags, ...rest)
}
const open = fs.open
fs.open = (p, flags, ...rest) => {
  if (writing(flags)) throw report(`fs.open ${String(p)} ${flags}`)
  return open(p, flags, ...rest)
}
const popen = fs.promises.open
fs.promises.open = async (p, flags, ...rest) => {
  if (writing(flags)) throw report(`fs.promises.open ${String(p)} ${flags}`)
  return popen(p, flags, ...rest)
}
syncBuiltinESMExports()
