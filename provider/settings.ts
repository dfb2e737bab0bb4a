// Connection settings, read from stack config in the dynamic provider's `configure` (so that no
// resource carries a credential among its inputs or outputs), with per-resource overrides for the
// non-secret fields. The engine itself records the whole stack config as the dynamic provider's
// inputs in state, secrets encrypted as the stack's secrets provider encrypts them. One process-wide store: every resource of a run shares it, as they share the
// LDAP connection and the PowerShell session.
import * as fs from "fs";
import { isIP } from "net";
import * as os from "os";
import * as path from "path";
import { formatProblem, InvalidInputError } from "./errors";
import { booleanValue, integerValue, setCommand, shown } from "./config-values";
import { SettingKey, settingDefault, SETTINGS } from "./setting-keys";

/** The config namespace: `pulumi config set exchange-kerberos:ldapUrl ldaps://dc1.corp.example`. */
export const CONFIG_NAMESPACE = "exchange-kerberos";

/** What `configure` receives: the stack's config, keyed `namespace:key`. */
export interface ConfigSource {
  get(key: string): string | undefined;
}

export interface LdapSettings {
  /** `ldaps://host[:port]` (default), or `ldap://host[:port]` with `startTls` (default true for ldap://). */
  url: string;
  startTls: boolean;
  /** PEM file of the CA that signed the DC's certificate; absent = the system's trust store. */
  caFile?: string;
  /** Verify the server certificate (default true). Only a lab may turn this off. */
  verifyCertificate: boolean;
  /** Bind identity: a DN, `user@domain` or `DOMAIN\user`. */
  bindUser: string;
  bindPassword: string;
  /** A simple bind over an unencrypted connection exposes the password: refused unless set. */
  allowPlainText: boolean;
  /** Global Catalog URL for forest-wide SPN checks; default: the same host on 3269 (ldaps) or 3268. */
  gcUrl?: string;
  timeoutMs: number;
}

export interface ExchangeSettings {
  /** `process`: a PowerShell this machine runs (the default); `ssh`: Windows PowerShell on a
   * Windows management host, reached with the OpenSSH client (exchange/ssh-transport.ts). */
  transport: "process" | "ssh";
  /** How to reach the management host; set exactly when `transport` is `ssh`. */
  ssh?: SshSettings;
  /** The PowerShell executable: `pwsh` (default) or `powershell.exe`, or a full path. */
  shell: string;
  /** `remote` (a session to http://<endpoint>/PowerShell/, the default) or `local` (the snap-in). */
  connection: "remote" | "local";
  /** The server to open the remote session on; default: the server the resource manages. */
  endpoint?: string;
  /** `Kerberos` (default), `Negotiate` or `Basic` for the remote session. */
  authentication: "Kerberos" | "Negotiate" | "Basic";
  /** Optional credential for the remote session; absent = the current user's Kerberos ticket. */
  user?: string;
  password?: string;
  timeoutMs: number;
  /** PowerShell sessions per endpoint that calls for different servers may run in at once. */
  sessions: number;
}

export interface SshSettings {
  /** The account on the management host, as ssh's -l takes it: admin, CORP\admin or admin@corp.example. */
  user: string;
  /** The management host: a DNS name or an IP address. */
  host: string;
  port: number;
  /** The private key; absent = the agent's keys and the user's default ones. */
  identityFile?: string;
  /** The known-hosts file that pins the host's key. */
  knownHostsFile: string;
  connectTimeoutMs: number;
  /** What the management host runs: Windows PowerShell reading statements from stdin. */
  remoteCommand: string;
  /** The OpenSSH client: `ssh` (`ssh.exe` on Windows) or a path. */
  executable: string;
}

/** The ssh transport's config keys (the doctor's and discover's flags, discover's stack file). */
export const SSH_TRANSPORT_KEYS = ["exchangeTransport", "sshTarget", "sshPort", "sshKnownHostsFile", "sshIdentityFile", "sshRemoteCommand", "sshConnectTimeoutMs", "sshExecutable"] as const;

/**
 * The remote command of the ssh transport. Windows OpenSSH runs a command through its default
 * shell, cmd.exe (DefaultShell, PowerShell/openssh-portable contrib/win32/win32compat/pwd.c), so
 * the program is named; -ExecutionPolicy Bypass because Windows 10 and 11 default to Restricted;
 * -Command -: one statement per stdin line, as the local process is run.
 */
export const DEFAULT_SSH_REMOTE_COMMAND: string = registered<string>("sshRemoteCommand", "string");

/**
 * Sessions per Exchange endpoint unless exchange-kerberos:exchangeSessions says otherwise.
 * Exchange's default throttling policy lets one user hold 18 remote PowerShell sessions at once
 * (PowerShellMaxConcurrency); 6 is a third of that, leaving the rest to the admin's own shells and
 * to other stacks run by the same account. docs/installation-configuration.md, "Exchange sessions".
 */
export const DEFAULT_EXCHANGE_SESSIONS: number = settingDefault("exchangeSessions");

/** Per-resource override of non-secret LDAP settings (a site whose DC differs from the stack's). */
export type LdapOverride = Partial<Pick<LdapSettings, "url" | "startTls" | "caFile" | "gcUrl">>;
/** Per-resource override of non-secret Exchange settings. */
export type ExchangeOverride = Partial<Pick<ExchangeSettings, "shell" | "connection" | "endpoint">>;

let stack: ConfigSource = { get: () => undefined };
/** Set once the stack's current config replaced the one recorded in state (current-config.ts). */
let current = false;

/** Called from every dynamic provider's `configure` (once per resource type and process). */
export function configureFromStack(config: ConfigSource): void {
  if (!current) stack = config;
}

/** The stack's current config, read from the CLI: later `configure` calls (with the config recorded
 * at the last up, on refresh and destroy) no longer replace it. */
export function configureFromCurrentStack(config: ConfigSource): void {
  stack = config;
  current = true;
}

function key(name: SettingKey): string | undefined {
  return stack.get(`${CONFIG_NAMESPACE}:${name}`);
}

/** The registry's default of a key (setting-keys.ts), of the type the reader expects. */
function registered<T>(name: SettingKey, type: "boolean" | "number" | "string"): T {
  const d = (SETTINGS[name] as { default?: unknown }).default;
  if (typeof d !== type) throw new Error(`setting-keys.ts: ${name} has no ${type} default`);
  return d as T;
}

function bool(name: SettingKey): boolean {
  return booleanValue(`${CONFIG_NAMESPACE}:${name}`, key(name)) ?? registered<boolean>(name, "boolean");
}

/** Milliseconds: 1 ms to 24 days (the most a Node timer holds). */
function millis(name: SettingKey): number {
  const dflt = registered<number>(name, "number");
  return integerValue(`${CONFIG_NAMESPACE}:${name}`, key(name), { min: 1, max: 2147483647, unit: "milliseconds", example: String(dflt) }) ?? dflt;
}

function required(name: SettingKey, what: string, secret = false): string {
  const v = key(name);
  if (v === undefined || v === "") {
    const set = secret ? "pulumi config set --secret" : "pulumi config set";
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:${name}`, `${what} is not configured`, `${set} ${CONFIG_NAMESPACE}:${name} <value>`, { code: "SETTING_MISSING" });
  }
  return v;
}

/**
 * A path from stack config: relative paths are relative to the project directory (the one holding
 * Pulumi.yaml, found upwards from the provider's working directory), so that a stack file can say
 * `.lab/127.0.0.2/ca.pem` whatever folder the engine starts the provider in (on Windows
 * `.lab\ca.pem` too). Bare command names (`pwsh`) are left for PATH.
 */
export function projectPath(p: string | undefined): string | undefined {
  if (p === undefined || path.isAbsolute(p) || !(p.includes("/") || p.includes("\\"))) return p;
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return path.resolve(dir, p);
    if (path.dirname(dir) === dir) return path.resolve(p);
  }
}

/** Plain `ldap://` to `url`: the bind password would cross the network in clear text unless
 * StartTLS runs first. */
function plainTextRefusal(setting: string, url: string, s: Pick<LdapSettings, "startTls" | "allowPlainText">): void {
  if (!url.toLowerCase().startsWith("ldap://") || s.startTls || s.allowPlainText) return;
  throw new InvalidInputError(
    `${CONFIG_NAMESPACE}:${setting}`,
    `${url} with ${CONFIG_NAMESPACE}:ldapStartTls false would send the password in clear text`,
    `use ldaps:// (the Global Catalog's TLS port is 3269), or remove ${CONFIG_NAMESPACE}:ldapStartTls so that StartTLS protects ldap://; only a throwaway lab may set ${CONFIG_NAMESPACE}:ldapAllowPlainText true`,
    { code: "PLAIN_TEXT_LDAP" },
  );
}

const warned = new Set<string>();

/** One warning line per provider process (the engine shows a provider's stderr under the stack). */
function warnOnce(reason: string, fix: string): void {
  const text = formatProblem({ reason, fix });
  if (warned.has(text)) return;
  warned.add(text);
  process.stderr.write(`warning: ${text}\n`);
}

export function ldapSettings(override: LdapOverride = {}): LdapSettings {
  const url = override.url ?? required("ldapUrl", "the domain controller URL (ldaps://dc.example)");
  const s: LdapSettings = {
    url,
    // StartTLS protects every ldap:// connection, the DC's and the Global Catalog's alike (an
    // ldaps:// URL ignores it): a plain gcUrl beside an ldaps:// DC is no longer sent in clear.
    startTls: override.startTls ?? bool("ldapStartTls"),
    caFile: projectPath(override.caFile ?? key("ldapCaFile")),
    verifyCertificate: bool("ldapVerifyCertificate"),
    bindUser: required("ldapBindUser", "the LDAP bind user"),
    bindPassword: required("ldapBindPassword", "the LDAP bind password", true),
    allowPlainText: bool("ldapAllowPlainText"),
    gcUrl: override.gcUrl ?? key("gcUrl"),
    timeoutMs: millis("ldapTimeoutMs"),
  };
  plainTextRefusal(override.url ? "ldapUrl (the resource's ldap.url)" : "ldapUrl", s.url, s);
  if (s.gcUrl) plainTextRefusal(override.gcUrl ? "gcUrl (the resource's ldap.gcUrl)" : "gcUrl", s.gcUrl, s);
  if (!s.verifyCertificate) {
    warnOnce(`${CONFIG_NAMESPACE}:ldapVerifyCertificate is false: the domain controller's certificate is not checked, so anyone on the path can pose as it and read the bind password`, `set ${CONFIG_NAMESPACE}:ldapCaFile to the CA's PEM and remove ${CONFIG_NAMESPACE}:ldapVerifyCertificate`);
  }
  for (const [setting, u] of [["ldapUrl", s.url], ["gcUrl", s.gcUrl]] as const) {
    if (u && u.toLowerCase().startsWith("ldap://") && !s.startTls && s.allowPlainText) {
      warnOnce(`${CONFIG_NAMESPACE}:${setting} ${u} is used without TLS (${CONFIG_NAMESPACE}:ldapAllowPlainText true): the bind password crosses the network in clear text`, "use ldaps:// on any real network");
    }
  }
  return s;
}

export function exchangeSettings(override: ExchangeOverride = {}): ExchangeSettings {
  const connection = override.connection ?? (key("exchangeConnection") as ExchangeSettings["connection"] | undefined) ?? registered<ExchangeSettings["connection"]>("exchangeConnection", "string");
  if (connection !== "remote" && connection !== "local") {
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:exchangeConnection`, `"${connection}" is not remote or local`, "set remote (a session to http://<server>/PowerShell/) or local (on an Exchange server)", { code: "VALUE_NOT_ALLOWED" });
  }
  const authentication = (key("exchangeAuthentication") ?? registered<string>("exchangeAuthentication", "string")) as ExchangeSettings["authentication"];
  if (!["Kerberos", "Negotiate", "Basic"].includes(authentication)) {
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:exchangeAuthentication`, `"${authentication}" is not Kerberos, Negotiate or Basic`, "set Kerberos (default) or Negotiate", { code: "VALUE_NOT_ALLOWED" });
  }
  const user = key("exchangeUser");
  const password = key("exchangePassword");
  if ((user === undefined) !== (password === undefined)) {
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:exchangeUser`, "exchangeUser and exchangePassword must be set together", `pulumi config set ${CONFIG_NAMESPACE}:exchangeUser DOMAIN\\admin and pulumi config set --secret ${CONFIG_NAMESPACE}:exchangePassword`, { code: "SETTINGS_INCOMPLETE" });
  }
  const transport = (key("exchangeTransport") ?? registered<string>("exchangeTransport", "string")) as ExchangeSettings["transport"];
  if (transport !== "process" && transport !== "ssh") {
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:exchangeTransport`, `${shown(transport)} is not process or ssh`, `set process (PowerShell on this machine) or ssh (Windows PowerShell on a Windows management host): ${setCommand(`${CONFIG_NAMESPACE}:exchangeTransport`, "ssh")}`, { code: "VALUE_NOT_ALLOWED" });
  }
  const ssh = transport === "ssh" ? sshSettings() : undefined;
  if (ssh) secondHop(connection, user);
  return {
    transport,
    ssh,
    shell: projectPath(override.shell ?? key("exchangeShell")) ?? (process.platform === "win32" ? "powershell.exe" : "pwsh"),
    connection,
    endpoint: override.endpoint ?? key("exchangeEndpoint"),
    authentication,
    user,
    password,
    timeoutMs: millis("exchangeTimeoutMs"),
    sessions: integerValue(`${CONFIG_NAMESPACE}:exchangeSessions`, key("exchangeSessions"), { min: 1, max: 64, unit: "sessions", example: String(DEFAULT_EXCHANGE_SESSIONS) }) ?? DEFAULT_EXCHANGE_SESSIONS,
  };
}

/** A file named in config for the ssh transport: it must be there and readable, or preview says so. */
function readableFile(name: SettingKey, what: string): string | undefined {
  const raw = key(name);
  if (raw === undefined) return undefined;
  const field = `${CONFIG_NAMESPACE}:${name}`;
  if (raw.trim() === "") throw new InvalidInputError(field, "is empty", `${setCommand(field, "/etc/exchange-kerberos/known_hosts")}, or remove it with pulumi config rm ${field}`, { code: "VALUE_EMPTY" });
  // ~ is the home folder, as ssh itself reads it (~/.ssh/id_ed25519).
  const file = /^~[/\\]/.test(raw) ? path.join(os.homedir(), raw.slice(2)) : (projectPath(raw) as string);
  if (/["\x00-\x1f]/.test(file)) {
    // ssh's option parser cannot take a double quote in a file name (ssh-transport.ts, sshOptionPath).
    throw new InvalidInputError(field, `${shown(file)} holds a double quote or a control character`, "move the file to a path without them", { code: "NOT_A_FILE_PATH" });
  }
  try {
    fs.accessSync(file, fs.constants.R_OK);
    if (!fs.statSync(file).isFile()) throw new Error("not a file");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new InvalidInputError(field, `cannot read ${file} (${why})`, `point it at ${what}, readable by the account that runs pulumi`, { code: "SSH_FILE_UNREADABLE" });
  }
  return file;
}

/** `user@host`: ssh splits at the last @, so the user may be a UPN (admin@corp.example@mgmt01). */
function sshTarget(): { user: string; host: string } {
  const field = `${CONFIG_NAMESPACE}:sshTarget`;
  const raw = key("sshTarget");
  const example = setCommand(field, "svc-exchange@mgmt01.corp.example");
  if (raw === undefined || raw === "") {
    throw new InvalidInputError(field, "exchange-kerberos:exchangeTransport ssh needs the management host and the account to log on with", example, { code: "SETTING_MISSING" });
  }
  const at = raw.lastIndexOf("@");
  const user = raw.slice(0, at);
  const host = raw.slice(at + 1);
  // A user or host starting with "-" would be read as an option; control characters and white space
  // have no place in either (Windows account names with spaces are not supported here).
  const userOk = /^[A-Za-z0-9._$\\@][A-Za-z0-9._$\\@-]{0,255}$/.test(user);
  const hostOk = isIP(host) !== 0 || (/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host) && host.length <= 253);
  if (at <= 0 || !userOk || !hostOk) {
    throw new InvalidInputError(field, `${shown(raw)} is not user@host (an account name without spaces, then a host name or IP address)`, example, { code: "NOT_AN_SSH_TARGET" });
  }
  return { user, host };
}

function sshSettings(): SshSettings {
  const knownHostsFile = readableFile("sshKnownHostsFile", "a known_hosts file holding the management host's key (the host key is pinned: an unknown or changed key is refused)");
  if (knownHostsFile === undefined) {
    throw new InvalidInputError(
      `${CONFIG_NAMESPACE}:sshKnownHostsFile`,
      "exchange-kerberos:exchangeTransport ssh needs the known-hosts file that pins the management host's key",
      `write the host's key line into a file ("mgmt01.corp.example ssh-ed25519 AAAA…", from C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub on the host) and ${setCommand(`${CONFIG_NAMESPACE}:sshKnownHostsFile`, "ssh/known_hosts")}`,
      { code: "SETTING_MISSING" },
    );
  }
  const command = key("sshRemoteCommand");
  if (command !== undefined && (command.trim() === "" || /[\x00-\x1f\x7f]/.test(command))) {
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:sshRemoteCommand`, command.trim() === "" ? "is empty" : "has a line break or control character", `one command line, such as ${setCommand(`${CONFIG_NAMESPACE}:sshRemoteCommand`, DEFAULT_SSH_REMOTE_COMMAND)}`, { code: command.trim() === "" ? "VALUE_EMPTY" : "TEXT_NOT_ONE_LINE" });
  }
  return {
    ...sshTarget(),
    port: integerValue(`${CONFIG_NAMESPACE}:sshPort`, key("sshPort"), { min: 1, max: 65535, unit: "a TCP port", example: "22" }) ?? registered<number>("sshPort", "number"),
    identityFile: readableFile("sshIdentityFile", "the private key whose public half is in the account's authorized_keys on the management host"),
    knownHostsFile,
    connectTimeoutMs: millis("sshConnectTimeoutMs"),
    remoteCommand: command ?? DEFAULT_SSH_REMOTE_COMMAND,
    executable: projectPath(key("sshExecutable")) ?? (process.platform === "win32" ? "ssh.exe" : "ssh"),
  };
}

/**
 * The second hop. A key-based SSH logon to Windows is a logon without network credentials
 * (PowerShell/Win32-OpenSSH#518, #1264): from it neither New-PSSession to Exchange nor
 * KdcProxyServer's Invoke-Command can authenticate as that account, and the local snap-in cannot
 * reach Active Directory. The ssh transport logs on with a key (BatchMode), so the session to
 * Exchange needs its own credential. docs/ssh-transport.md, "The second hop".
 */
function secondHop(connection: ExchangeSettings["connection"], user: string | undefined): void {
  if (connection === "local") {
    throw new InvalidInputError(
      `${CONFIG_NAMESPACE}:exchangeConnection`,
      "local (the snap-in) over exchangeTransport ssh would reach Active Directory from a key-based SSH logon, which has no network credentials (SECOND_HOP_NEEDS_CREDENTIAL)",
      `set ${CONFIG_NAMESPACE}:exchangeConnection remote with ${CONFIG_NAMESPACE}:exchangeEndpoint naming the Exchange server, and ${CONFIG_NAMESPACE}:exchangeUser/exchangePassword`,
      { code: "SECOND_HOP_NEEDS_CREDENTIAL" },
    );
  }
  if (user === undefined) {
    throw new InvalidInputError(
      `${CONFIG_NAMESPACE}:exchangeUser`,
      "exchangeTransport ssh logs on to the management host with a key, a logon without network credentials: the session to Exchange (New-PSSession) and KdcProxyServer's Invoke-Command would have none to send (SECOND_HOP_NEEDS_CREDENTIAL)",
      `pulumi config set ${CONFIG_NAMESPACE}:exchangeUser CORP\\svc-exchange and pulumi config set --secret ${CONFIG_NAMESPACE}:exchangePassword`,
      { code: "SECOND_HOP_NEEDS_CREDENTIAL" },
    );
  }
}

/**
 * The Exchange servers the stack declares (the site key exchange-kerberos:servers), so that one
 * round trip can ask about all of them; empty when the key is absent or not a list of names (the
 * program that reads it says what is wrong with it).
 */
export function declaredServers(): string[] {
  const raw = key("servers");
  if (raw === undefined) return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x !== "") : [];
  } catch {
    return [];
  }
}

/** For tests and the doctor, which run outside a Pulumi provider: settings from a plain map. */
export function configFromMap(values: Record<string, string | undefined>): ConfigSource {
  return {
    get: (k) => values[k] ?? values[k.startsWith(`${CONFIG_NAMESPACE}:`) ? k.slice(CONFIG_NAMESPACE.length + 1) : k],
  };
}
