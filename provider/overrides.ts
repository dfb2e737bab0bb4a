// Validation of the per-resource connection overrides (a resource's `ldap` and `exchange`
// inputs), in one place: only non-secret settings may be overridden per resource; credentials
// always come from the stack config (settings.ts).
import { InvalidInputError } from "./errors";
import { exchangeServerName } from "./exchange/inputs";
import { CONFIG_NAMESPACE, type ExchangeOverride, type LdapOverride } from "./settings";

function ldapUrlInput(field: string, value: unknown): string {
  let u: URL | undefined;
  try {
    u = new URL(String(value));
  } catch {
    u = undefined;
  }
  if (typeof value !== "string" || !u || !/^ldaps?:$/.test(u.protocol) || !u.hostname || (u.pathname !== "" && u.pathname !== "/") || u.username || u.password) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not an ldaps:// or ldap:// server URL`, "give ldaps://dc1.corp.example (or ldap://dc1.corp.example with StartTLS), without a path or credentials", { code: "NOT_AN_LDAP_URL" });
  }
  return value;
}

/** Validates a resource's `ldap` input (the per-resource override of the stack's settings). */
export function ldapOverrideInput(field: string, value: unknown): LdapOverride | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInputError(field, "is not an object", "give { url, startTls, caFile, gcUrl } (each optional), or omit it to use the stack's settings", { code: "NOT_AN_OBJECT" });
  }
  const v = value as Record<string, unknown>;
  const unknownKeys = Object.keys(v).filter((k) => !["url", "startTls", "caFile", "gcUrl"].includes(k));
  if (unknownKeys.length) {
    throw new InvalidInputError(`${field}.${unknownKeys[0]}`, "is not a per-resource LDAP setting", `use url, startTls, caFile or gcUrl; the bind user and password come from the stack config (${CONFIG_NAMESPACE}:ldapBindUser, ${CONFIG_NAMESPACE}:ldapBindPassword)`, { code: "UNKNOWN_SETTING" });
  }
  const o: LdapOverride = {};
  if (v.url !== undefined) o.url = ldapUrlInput(`${field}.url`, v.url);
  if (v.gcUrl !== undefined) o.gcUrl = ldapUrlInput(`${field}.gcUrl`, v.gcUrl);
  if (v.startTls !== undefined) {
    if (typeof v.startTls !== "boolean") throw new InvalidInputError(`${field}.startTls`, `${JSON.stringify(v.startTls)} is not true or false`, "set a boolean", { code: "NOT_A_BOOLEAN" });
    o.startTls = v.startTls;
  }
  if (v.caFile !== undefined) {
    if (typeof v.caFile !== "string" || v.caFile === "") throw new InvalidInputError(`${field}.caFile`, "is not a file path", "give the path of the PEM file of the CA that issued the DC's certificate", { code: "NOT_A_FILE_PATH" });
    o.caFile = v.caFile;
  }
  return o;
}

/** The per-resource `exchange` override: only non-secret connection settings. */
export function exchangeOverride(field: string, value: unknown): ExchangeOverride | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInputError(field, "must be an object", "give { endpoint?, connection?, shell? }", { code: "NOT_AN_OBJECT" });
  }
  const out: ExchangeOverride = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    if (k === "connection") {
      if (v !== "remote" && v !== "local") throw new InvalidInputError(`${field}.connection`, `${JSON.stringify(v)} is not remote or local`, "use remote (a session to http://<server>/PowerShell/) or local (on an Exchange server)", { code: "VALUE_NOT_ALLOWED" });
      out.connection = v;
    } else if (k === "endpoint") {
      out.endpoint = exchangeServerName(`${field}.endpoint`, v);
    } else if (k === "shell") {
      if (typeof v !== "string" || v === "") throw new InvalidInputError(`${field}.shell`, "is empty", "give pwsh, powershell.exe or a full path", { code: "VALUE_EMPTY" });
      out.shell = v;
    } else {
      throw new InvalidInputError(`${field}.${k}`, "is not a per-resource Exchange setting", "use endpoint, connection or shell; credentials come from stack config (exchange-kerberos:exchangeUser, exchangePassword)", { code: "UNKNOWN_SETTING" });
    }
  }
  return out;
}
