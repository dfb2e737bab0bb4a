// Every stack config key the package reads (`exchange-kerberos:<key>`), with its default and what it
// means: the one place a setting is declared. settings.ts reads connection settings only through
// these names and takes their defaults from here, the site program's keys (site-config.ts) are
// those with scope "site", the doctor reads the rest; docs/installation-configuration.md's tables
// are generated from this list (scripts/docs.ts), and test/unit/docs.test.ts fails when they
// differ or when a key named anywhere in provider/ is missing here.
import { AES_TYPES } from "./ldap/account-bits";

export type SettingScope =
  /** Read by the site program (examples/site, readSiteSettings) and by the doctor: one site per stack. */
  | "site"
  /** Read by the provider for every resource (and by the doctor, keytab and discover). */
  | "connection"
  /** Read by the doctor (and keytab, drift) only. */
  | "doctor";

export interface SettingSpec {
  readonly scope: SettingScope;
  /** What it is, in one line (the docs' table). */
  readonly meaning: string;
  /** The value used when the key is absent, where it is a plain value. */
  readonly default?: string | number | boolean;
  /** The default in words, where it is not a plain value (derived, or "none"). */
  readonly defaultText?: string;
  readonly required?: true;
  /** Set with `pulumi config set --secret`. */
  readonly secret?: true;
  /** A value as a user would write it, for the fixes messages give. */
  readonly example?: string;
}

export const SETTINGS = {
  // The site (examples/site): one KerberosRollout per stack.
  namespace: { scope: "site", required: true, meaning: "the Outlook namespace", example: "outlook.corp.example" },
  servers: { scope: "site", required: true, meaning: "JSON list of the Client Access servers, as Exchange names them", example: '["EX1","EX2"]' },
  dnsZone: { scope: "site", defaultText: "none: DNS is left alone", meaning: "the AD-integrated zone that holds the namespace's record; omit it and dnsAddresses to leave DNS alone", example: "corp.example" },
  dnsAddresses: { scope: "site", defaultText: "none: DNS is left alone", meaning: "JSON list of the record's addresses (several = round robin)", example: '["10.0.0.11","10.0.0.12"]' },
  dnsTtl: { scope: "site", default: 3600, meaning: "the record's TTL in seconds (discover keeps a hand-made record's own)", example: "3600" },
  asaName: { scope: "site", required: true, meaning: "the ASA computer name (at most 15 characters)", example: "EXCH-ASA" },
  asaOu: { scope: "site", required: true, meaning: "the DN of the OU (or container) that holds the ASA", example: "OU=Service Accounts,DC=corp,DC=example" },
  asaPassword: { scope: "site", secret: true, defaultText: "generated (73 characters) and kept", meaning: "the ASA's password; change it to rotate", example: "<password>" },
  asaPasswordMaxAgeDays: { scope: "site", defaultText: "none: no maximum", meaning: "the ASA password's maximum age in days (1–3650), from AD's pwdLastSet: a generated password older than that is rotated by the next up (its preview says why); a given one is warned about, never replaced; doctor and drift report its age (docs/guides/unattended-rotation.md)", example: "90" },
  asaEncryptionTypes: { scope: "site", default: AES_TYPES, meaning: "msDS-SupportedEncryptionTypes of the ASA (24 = AES128+AES256); RC4-only is refused: Microsoft is retiring RC4 for Kerberos in 2026", example: "24" },
  extraSpnNames: { scope: "site", defaultText: "none", meaning: "JSON list of more host names registered as HTTP/<name>, such as autodiscover.corp.example", example: '["autodiscover.corp.example"]' },
  adopt: { scope: "site", default: false, meaning: "take over objects that already exist (dynamic resources cannot be pulumi import-ed)", example: "false" },
  onDestroy: { scope: "site", defaultText: "release (state an earlier release wrote: delete, as that release did)", meaning: "what destroy does with objects that existed before the stack (taken over with adopt): release leaves them working as they are, delete deletes them; what the stack created is always deleted (docs/reference/lifecycle.md)", example: "release" },
  kdcProxyServers: { scope: "site", defaultText: "none: no KDC proxy", meaning: "JSON list of the Windows servers that publish the KDC proxy; set with kdcProxyThumbprint, or neither", example: '["GW1"]' },
  kdcProxyThumbprint: { scope: "site", defaultText: "none", meaning: "SHA-1 thumbprint of the KDC proxy's certificate in those servers' computer store", example: "0123456789ABCDEF0123456789ABCDEF01234567" },

  // Connections: the provider reads these for every resource.
  ldapUrl: { scope: "connection", required: true, meaning: "the domain controller: ldaps://host, or ldap://host (with StartTLS)", example: "ldaps://dc1.corp.example" },
  ldapCaFile: { scope: "connection", defaultText: "the system's trust store", meaning: "PEM of the CA that issued the DC's certificate (a relative path is from the project directory)" },
  ldapBindUser: { scope: "connection", required: true, meaning: "the account the provider binds as: a DN, user@domain or DOMAIN\\user", example: "svc-kerberos@corp.example" },
  ldapBindPassword: { scope: "connection", required: true, secret: true, meaning: "its password" },
  ldapStartTls: { scope: "connection", default: true, meaning: "StartTLS on ldap:// URLs (the DC's and gcUrl)" },
  ldapVerifyCertificate: { scope: "connection", default: true, meaning: "verify the DC's certificate (preview warns when false)" },
  ldapAllowPlainText: { scope: "connection", default: false, meaning: "permit a simple bind without TLS (never on a real network)" },
  gcUrl: { scope: "connection", defaultText: "the DC, when its RootDSE says isGlobalCatalogReady; else a GC from the forest's _gc._tcp SRV records", meaning: "the Global Catalog, for the forest-wide SPN check" },
  ldapTimeoutMs: { scope: "connection", default: 15000, meaning: "how long connecting to the DC, or one LDAP operation, may take, in milliseconds" },
  exchangeShell: { scope: "connection", defaultText: "pwsh (powershell.exe on Windows)", meaning: "the PowerShell executable the provider starts" },
  exchangeConnection: { scope: "connection", default: "remote", meaning: "remote (sessions to http://<endpoint>/powershell?serializationLevel=Full, and one on each server itself, TargetServer, for its ASA credential) or local (the snap-in on an Exchange server; it cannot bind the ASA: refused at preview, ASA_NEEDS_REMOTE_SESSION)" },
  exchangeEndpoint: { scope: "connection", defaultText: "the managed server", meaning: "the server the shared remote sessions are opened on (the ASA credential is always set in a session on each server itself)" },
  exchangeAuthentication: { scope: "connection", default: "Kerberos", meaning: "Kerberos, Negotiate or Basic, for the remote session" },
  exchangeUser: { scope: "connection", defaultText: "the current user's Kerberos ticket (required with exchangeTransport ssh: the second hop)", meaning: "the account for the remote session (with exchangePassword)" },
  exchangePassword: { scope: "connection", secret: true, defaultText: "none", meaning: "its password" },
  exchangeTimeoutMs: { scope: "connection", default: 120000, meaning: "how long one Exchange call may take, in milliseconds" },
  exchangeTransport: { scope: "connection", default: "process", meaning: "process (PowerShell on this machine) or ssh (Windows PowerShell on a Windows management host, over OpenSSH: docs/ssh-transport.md)" },
  sshTarget: { scope: "connection", defaultText: "required with exchangeTransport ssh", meaning: "the management host's account and host, user@host (ssh splits at the last @: admin@corp.example@mgmt01)", example: "svc-exchange@mgmt01.corp.example" },
  sshPort: { scope: "connection", default: 22, meaning: "the management host's SSH port" },
  sshKnownHostsFile: { scope: "connection", defaultText: "required with exchangeTransport ssh", meaning: "the known_hosts file that pins the host's key (relative: from the project folder; ~/…: from the home folder)" },
  sshIdentityFile: { scope: "connection", defaultText: "the agent's keys and ~/.ssh/id_*", meaning: "the private key ssh logs on with (paths as for sshKnownHostsFile)" },
  sshConnectTimeoutMs: { scope: "connection", default: 30000, meaning: "how long ssh waits for the TCP connection and the server's banner, in milliseconds" },
  sshRemoteCommand: { scope: "connection", default: "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -", meaning: "what the management host runs (Windows OpenSSH's default shell is cmd.exe)" },
  sshExecutable: { scope: "connection", defaultText: "ssh (ssh.exe on Windows)", meaning: "the OpenSSH client" },
  exchangeSessions: { scope: "connection", default: 6, meaning: "PowerShell sessions per Exchange endpoint that work on different servers at once, 1 to 64 (a third of Exchange's PowerShellMaxConcurrency 18)" },

  // The doctor (and keytab, drift).
  kerberosUser: { scope: "doctor", defaultText: "the LDAP bind account (when it is a principal)", meaning: "who asks the KDC for tickets in the doctor: a principal, user@domain or DOMAIN\\user (a DN bind user needs this key: KERBEROS_USER_NOT_A_PRINCIPAL)" },
  kerberosPassword: { scope: "doctor", secret: true, defaultText: "the LDAP bind password", meaning: "its password" },
  krb5Config: { scope: "doctor", defaultText: "none: the DC of ldapUrl", meaning: "a krb5.conf whose kdc lines for the realm name the KDCs the doctor asks (nothing else of it is read)" },
  kerberosKdc: { scope: "doctor", defaultText: "the DC of ldapUrl (TCP 88)", meaning: "the KDCs the doctor asks: host[:port], tcp/…, udp/… (TCP when the answer is too big), https://…/KdcProxy, or dns for _kerberos._tcp SRV records" },
  dnsServer: { scope: "doctor", defaultText: "the DC of ldapUrl", meaning: "the DNS server the doctor asks" },
  httpsCaFile: { scope: "doctor", defaultText: "Node's trust store", meaning: "PEM of the CA that issued the Exchange (or load balancer) certificate, for doctor check 8" },
  httpsCheck: { scope: "doctor", default: true, meaning: "false leaves out doctor check 8 (the HTTPS endpoint at every address)" },
  kdcProxyUrl: { scope: "doctor", defaultText: "none: the KDC directly", meaning: "the doctor gets every ticket only through this KDC proxy (MS-KKDCP), https://<name>/KdcProxy, as a client outside the network does; krb5Config is then not read" },
  kdcProxyCaFile: { scope: "doctor", defaultText: "the system's trust store", meaning: "PEM of the CA that issued the KDC proxy's certificate" },
  kdcProxyTimeoutMs: { scope: "doctor", default: 30000, meaning: "how long the doctor waits for the proxy's answer (it includes the proxy's own wait for a KDC), in milliseconds" },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

/** The keys of one scope, in the registry's order. */
export function settingKeys(scope: SettingScope): SettingKey[] {
  return (Object.keys(SETTINGS) as SettingKey[]).filter((k) => SETTINGS[k].scope === scope);
}

/** The default of a key whose default is a plain value (a compile error for one that has none). */
export function settingDefault<K extends SettingKey>(key: K): (typeof SETTINGS)[K] extends { default: infer D } ? D : never {
  return (SETTINGS[key] as { default?: unknown }).default as never;
}
