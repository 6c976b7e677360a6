/** The HostFs contract, for the local HostFs and for SFTP through the loopback sshd. */
import { hostFsContract } from "../support/hostFsContract"
import { overLocalAndSftp } from "../support/overHostFs"

overLocalAndSftp({ local: "HostFs contract: local", sftp: "HostFs contract: SFTP (loopback sshd)" }, (getFs, kind) => {
  hostFsContract(getFs, { identity: kind === "local" })
})
