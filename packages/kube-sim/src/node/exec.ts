/**
 * What `pods/exec` runs in kube-sim with controllers: `nsenter -t 1 … -- <argv>` in a privileged,
 * `hostPID` pod enters its node's host, whose shell (`NodeShell.make`) answers; without
 * `privileged` nsenter is refused (EPERM); without `hostPID`, PID 1 is the container's own init,
 * where systemctl finds no systemd. `echo`, `true` and `false` run anywhere; any other program is
 * not simulated (the runtime's "executable file not found"). A node that is not `reachable`
 * refuses exec with the apiserver's "error dialing backend" (500).
 */
import type { Controllers } from "../controllers/Controllers"
import type { Json } from "../controllers/util"
import { builtinBackend, type ExecBackend, type ExecOutcome } from "../server/exec"
import { ApiError } from "../server/status"
import type { KubeObject } from "../store/types"
import * as NodeShell from "./NodeShell"

/** nsenter's options: the target PID and the program's argv, or an error message. */
export const parseNsenter = (args: ReadonlyArray<string>): { readonly target: string | undefined; readonly argv: ReadonlyArray<string> } | string => {
  let target: string | undefined
  let i = 0
  for (; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") {
      i++
      break
    }
    if (a === "-t" || a === "--target") target = args[++i]
    else if (a.startsWith("--target=")) target = a.slice(9)
    else if (/^-t\d+$/.test(a)) target = a.slice(2)
    else if (a === "-S" || a === "-G" || a === "--setuid" || a === "--setgid") i++
    else if (/^-[muinpUCTarwF]+$/.test(a) || /^--(mount|uts|ipc|net|pid|user|cgroup|time|all|root|wd|no-fork|preserve-credentials)(=.*)?$/.test(a)) continue
    else if (a.startsWith("-")) return `nsenter: unrecognized option '${a}'`
    else break
  }
  return { target, argv: args.slice(i) }
}

const CONTAINER_SYSTEMCTL: ExecOutcome = {
  exitCode: 1,
  stdout: "",
  stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n"
}

/** The exec backend of a simulator with controllers. */
export const backend = (controllers: Controllers): ExecBackend => ({
  admit: (pod: KubeObject) => {
    const node = String(((pod["spec"] ?? {}) as Json)["nodeName"] ?? "")
    if (node !== "" && !controllers.ctx.host(node).reachable) {
      return new ApiError(500, "InternalError", `error dialing backend: dial tcp 10.0.0.${(node.length * 7) % 250}:10250: i/o timeout`)
    }
    return undefined
  },
  run: ({ pod, container, command, stdin, tty }) => {
    const [program, ...args] = command
    if (program !== "nsenter") return builtinBackend.run({ pod, container, command, stdin, tty })
    const spec = (pod["spec"] ?? {}) as Json
    const c = ((spec["containers"] ?? []) as Array<Json>).find((x) => x["name"] === container) ?? {}
    const privileged = ((c["securityContext"] ?? {}) as Json)["privileged"] === true
    const parsed = parseNsenter(args)
    if (typeof parsed === "string") return { exitCode: 1, stdout: "", stderr: `${parsed}\n` }
    if (parsed.target === undefined) return { exitCode: 1, stdout: "", stderr: "nsenter: neither filename nor target pid supplied for ns/mnt\n" }
    if (parsed.argv.length === 0) return { exitCode: 1, stdout: "", stderr: "kube-sim: nsenter without a program would start an interactive shell\n" }
    if (!privileged) return { exitCode: 1, stdout: "", stderr: "nsenter: reassociate to namespace 'ns/ipc' failed: Operation not permitted\n" }
    const hostPid = spec["hostPID"] === true
    if (parsed.target !== "1") return { exitCode: 1, stdout: "", stderr: `nsenter: cannot open /proc/${parsed.target}/ns/ipc: No such file or directory\n` }
    if (!hostPid) {
      // PID 1 is the container's own init
      if (parsed.argv[0] === "systemctl") return CONTAINER_SYSTEMCTL
      const b = builtinBackend.run({ pod, container, command: parsed.argv, stdin: new Uint8Array(), tty: false })
      return "error" in (b as ExecOutcome) ? { exitCode: 127, stdout: "", stderr: `nsenter: failed to execute ${parsed.argv[0]}: No such file or directory\n` } : b
    }
    const node = String(spec["nodeName"])
    return NodeShell.make(controllers, node).run(parsed.argv)
  }
})

