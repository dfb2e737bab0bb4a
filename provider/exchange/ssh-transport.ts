// The ssh transport (exchange-kerberos:exchangeTransport ssh): the session's shell process is the
// real OpenSSH client (Debian's openssh-client, Windows' built-in ssh.exe) logged on to a Windows
// management host, where the remote command (Windows PowerShell) does what the local process does
// otherwise. This file says how ssh is started and what its failures mean; the framing, the key
// handoff and the module travel over the channel exactly as with a local process (session.ts).
//
// Why these options (ssh_config(5); the same client code in Win32-OpenSSH):
//   -F none               no ~/.ssh/config and no system-wide ssh_config: nothing outside the stack
//                         can turn host key checking off, add SendEnv, a ProxyCommand or forwardings.
//   StrictHostKeyChecking=yes with the stack's known-hosts file as both the user and the global file:
//                         the host key is pinned there and only there; an unknown or changed key ends
//                         the connection (never "no", never accept-new).
//   BatchMode=yes, PasswordAuthentication=no, KbdInteractiveAuthentication=no: never a prompt; the key
//                         is the identity file given, else the agent's and the user's default keys.
//   -T, RequestTTY=no     pipes, no console: Windows PowerShell then reads stdin line by line.
//   EscapeChar=none       no byte of the channel is ever taken as an ssh escape.
//   ConnectTimeout        the connect timeout (exchange-kerberos:sshConnectTimeoutMs); the call timeout
//                         is exchange-kerberos:exchangeTimeoutMs, as for every call.
//   ServerAlive*          a connection that silently died is noticed in about a minute.
// No SendEnv, no SetEnv: nothing of this process's environment crosses. (Win32-OpenSSH honours
// AcceptEnv, and its sshd logs each accepted variable's value at debug2 — "Setting env %d: %s=%s",
// session.c in PowerShell/openssh-portable — so the sealing key never travels as a variable;
// see sealing.ts for how it does cross.)
import { InvalidInputError, KerberosRolloutError, UnreachableError } from "../errors";
import type { ErrorCode } from "../error-codes";
import type { SshSettings } from "../settings";

/** How long a silent connection is kept: ServerAliveInterval × (ServerAliveCountMax + 1). */
const SERVER_ALIVE_INTERVAL_S = 15;
const SERVER_ALIVE_COUNT_MAX = 3;

/**
 * A file path as an ssh -o value: percent_expand() reads "%" as a token (written "%%"), the
 * option's parser splits at white space unless the value is in double quotes, and Win32-OpenSSH
 * takes "/" as a separator (its config parser takes some backslash sequences as escapes).
 */
export function sshOptionPath(file: string, field: string, platform: NodeJS.Platform = process.platform): string {
  if (/["\x00-\x1f]/.test(file)) {
    throw new InvalidInputError(field, `${JSON.stringify(file)} holds a double quote or a control character, which ssh's configuration parser cannot take in a file name`, "move the file to a path without them", { code: "NOT_A_FILE_PATH" });
  }
  const p = (platform === "win32" ? file.replace(/\\/g, "/") : file).replace(/%/g, "%%");
  return /\s/.test(p) ? `"${p}"` : p;
}

/** The ssh command line (an argument array: never a shell line). */
export function sshArguments(s: SshSettings, platform: NodeJS.Platform = process.platform): string[] {
  const knownHosts = sshOptionPath(s.knownHostsFile, "exchange-kerberos:sshKnownHostsFile", platform);
  const o = (option: string, value: string | number) => ["-o", `${option}=${value}`];
  return [
    "-F", "none",
    "-T", "-x", "-a",
    ...o("BatchMode", "yes"),
    ...o("StrictHostKeyChecking", "yes"),
    ...o("UserKnownHostsFile", knownHosts),
    ...o("GlobalKnownHostsFile", knownHosts),
    ...o("UpdateHostKeys", "no"),
    ...o("CheckHostIP", "no"),
    ...o("PasswordAuthentication", "no"),
    ...o("KbdInteractiveAuthentication", "no"),
    ...o("GSSAPIAuthentication", "no"),
    ...o("PubkeyAuthentication", "yes"),
    // IdentityFile as an option, not -i: ssh checks an -i path before it expands %% back to %.
    ...(s.identityFile ? [...o("IdentitiesOnly", "yes"), ...o("IdentityFile", sshOptionPath(s.identityFile, "exchange-kerberos:sshIdentityFile", platform))] : []),
    ...o("RequestTTY", "no"),
    ...o("EscapeChar", "none"),
    ...o("ForwardAgent", "no"),
    ...o("ForwardX11", "no"),
    ...o("ClearAllForwardings", "yes"),
    ...o("PermitLocalCommand", "no"),
    ...o("ControlMaster", "no"),
    ...o("ControlPath", "none"),
    ...o("ConnectTimeout", Math.max(1, Math.ceil(s.connectTimeoutMs / 1000))),
    ...o("ServerAliveInterval", SERVER_ALIVE_INTERVAL_S),
    ...o("ServerAliveCountMax", SERVER_ALIVE_COUNT_MAX),
    ...o("LogLevel", "ERROR"),
    "-p", String(s.port),
    "-l", s.user,
    "--",
    s.host,
    s.remoteCommand,
  ];
}

/** `[host]:port` as known_hosts writes a host on another port than 22. */
export function knownHostsName(s: Pick<SshSettings, "host" | "port">): string {
  return s.port === 22 ? s.host : `[${s.host}]:${s.port}`;
}

/** Where ssh goes, for messages: admin@mgmt01.corp.example:22. */
export function sshDestination(s: Pick<SshSettings, "user" | "host" | "port">): string {
  return `${s.user}@${s.host}:${s.port}`;
}

/** A transport failure: the code is also written into the line, as the doctor writes its codes. */
export function transportError(code: ErrorCode, reason: string, fix: string): KerberosRolloutError {
  return new UnreachableError(`${reason} (${code})`, fix, { code });
}

/** What the ssh process said on its way out: its exit code and the last of its standard error. */
export interface SshExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** The last meaningful lines ssh wrote (its banners and sshd's debug lines left out), for a message. */
function said(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !/^@+$/.test(l) && !/^debug\d:/.test(l));
  return lines.slice(-2).join(" ").slice(0, 300);
}

/**
 * What an ssh process that ended before the remote command answered means, from its exit code and
 * standard error (OpenSSH's own messages, which it does not translate). `opened` is false when not
 * one line came back over the channel yet (the connection or the remote command never started).
 */
export function sshFailure(s: SshSettings, exit: SshExit, opened: boolean): KerberosRolloutError {
  const to = sshDestination(s);
  const err = exit.stderr;
  const kh = s.knownHostsFile;
  const name = knownHostsName(s);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(err)) {
    const fp = /SHA256:[A-Za-z0-9+/=]+/.exec(err)?.[0];
    return transportError(
      "SSH_HOST_KEY_CHANGED",
      `ssh to ${to}: the host presented a key${fp ? ` (${fp})` : ""} other than the one ${kh} pins for ${name}: someone may be intercepting the connection, or the host was reinstalled`,
      `do not connect until you know which: compare the fingerprint with the host's own (on the host: ssh-keygen -lf C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub); only if it is the host's new key, replace its line in ${kh}`,
    );
  }
  if (/No .* host key is known for|Host key verification failed/.test(err)) {
    return transportError(
      "SSH_HOST_KEY_UNKNOWN",
      `ssh to ${to}: ${kh} pins no key for ${name}, and an unknown host key is never accepted`,
      `add the host's key to ${kh} as "${name} <type> <key>" (on the host: type C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub; check its fingerprint out of band)`,
    );
  }
  if (/Permission denied \(/.test(err) || /Too many authentication failures/.test(err)) {
    return transportError(
      "SSH_AUTH_REFUSED",
      `ssh to ${to}: the host refused the key${s.identityFile ? ` ${s.identityFile}` : "s of the agent and the user's default identities"} for ${s.user} (${said(err)})`,
      `add the public key to the account's authorized_keys on the host (for an administrator: C:\\ProgramData\\ssh\\administrators_authorized_keys), or set exchange-kerberos:sshIdentityFile to the key it holds`,
    );
  }
  if (/Connection refused|No route to host|Network is unreachable|Could not resolve hostname|Name or service not known|nodename nor servname|Connection timed out|Operation timed out|banner exchange|kex_exchange_identification/.test(err) || (!opened && /Connection reset by peer|Connection closed by/.test(err))) {
    return transportError(
      "SSH_UNREACHABLE",
      `ssh to ${to}: no SSH server answered (${said(err)})`,
      `check that sshd runs on ${s.host} and listens on port ${s.port} (Get-Service sshd), that the firewall lets this machine in, and exchange-kerberos:sshTarget/sshPort`,
    );
  }
  if (exit.code === 127 || /is not recognized as an internal or external command|command not found|: not found|No such file or directory/.test(err)) {
    return transportError(
      "SSH_REMOTE_COMMAND_MISSING",
      `ssh to ${to}: the host cannot run the remote command "${s.remoteCommand.split(/\s+/)[0]}" (${said(err) || `exit code ${exit.code}`})`,
      `install Windows PowerShell on the management host (it is part of Windows), or set exchange-kerberos:sshRemoteCommand to a PowerShell there that reads statements from stdin (… -Command -)`,
    );
  }
  // 255 is ssh's own failure (OpenSSH exits with the remote command's status otherwise).
  const how = exit.signal ? `ssh was ended by ${exit.signal}` : `ssh exited with code ${exit.code}`;
  const tail = said(err) ? `: ${said(err)}` : "";
  if (!opened) {
    return transportError("SSH_FAILED", `ssh to ${to}: the remote command ended before it answered (${how}${tail})`, `run ssh by hand with the same settings and -v to see why (docs/ssh-transport.md, "When it fails")`);
  }
  if (exit.code === 255 || exit.signal) {
    return transportError(
      "SSH_CONNECTION_LOST",
      `ssh to ${to}: the connection to the management host ended during the call (${how}${tail})`,
      "run the command again: every Exchange write is idempotent and the next run converges; if it repeats, check the network path to the management host and its sshd",
    );
  }
  return new UnreachableError(`ssh to ${to}: the remote PowerShell ended during the call (exit code ${exit.code}${tail})`, "run the operation again; if it repeats, start the remote command on the host by hand to see why it exits");
}

/** The remote command was started and never answered: sshd accepted, PowerShell did not speak. */
export function sshSilent(s: SshSettings, timeoutMs: number): KerberosRolloutError {
  return transportError(
    "SSH_REMOTE_COMMAND_SILENT",
    `ssh to ${sshDestination(s)}: the remote command "${s.remoteCommand}" did not answer within ${timeoutMs} ms; the connection was closed`,
    `run it by hand over ssh and type [Console]::Out.WriteLine(1) to see what it waits for (a profile, a prompt, a wrong program); then check exchange-kerberos:sshRemoteCommand, or raise exchange-kerberos:exchangeTimeoutMs`,
  );
}

/** The ssh client could not be started at all. */
export function sshClientMissing(s: SshSettings, why: string): KerberosRolloutError {
  return transportError(
    "SSH_CLIENT_MISSING",
    `cannot start the OpenSSH client ${s.executable}: ${why}`,
    `install it (Debian: apt-get install openssh-client; Windows: Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0), or set exchange-kerberos:sshExecutable to its path`,
  );
}
