// Offline validation of the inputs every Exchange resource shares (the server, the per-resource
// connection override), and the comparison of declared and found Exchange settings that `read`
// (drift) and `diff` both use.
import { InvalidInputError } from "../errors";
import type { ExchangeOverride } from "../settings";
import { fqdn } from "../validate";

const NETBIOS = /^[A-Za-z0-9]([A-Za-z0-9-]{0,13}[A-Za-z0-9])?$/;

/** An Exchange server as Get-ExchangeServer knows it: its name (EX1) or its FQDN. */
export function exchangeServerName(field: string, value: unknown): string {
  if (typeof value === "string" && NETBIOS.test(value)) return value;
  if (typeof value === "string" && value.includes(".")) return fqdn(field, value);
  throw new InvalidInputError(field, `${JSON.stringify(value)} is not an Exchange server name`, "give the server's name as Get-ExchangeServer shows it (EX1, at most 15 letters, digits or hyphens) or its FQDN");
}

/** The per-resource `exchange` override: only non-secret connection settings. */
export function exchangeOverride(field: string, value: unknown): ExchangeOverride | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInputError(field, "must be an object", "give { endpoint?, connection?, shell? }");
  }
  const out: ExchangeOverride = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    if (k === "connection") {
      if (v !== "remote" && v !== "local") throw new InvalidInputError(`${field}.connection`, `${JSON.stringify(v)} is not remote or local`, "use remote (a session to http://<server>/PowerShell/) or local (on an Exchange server)");
      out.connection = v;
    } else if (k === "endpoint") {
      out.endpoint = exchangeServerName(`${field}.endpoint`, v);
    } else if (k === "shell") {
      if (typeof v !== "string" || v === "") throw new InvalidInputError(`${field}.shell`, "is empty", "give pwsh, powershell.exe or a full path");
      out.shell = v;
    } else {
      throw new InvalidInputError(`${field}.${k}`, "is not a per-resource Exchange setting", "use endpoint, connection or shell; credentials come from stack config (exchange-kerberos:exchangeUser, exchangePassword)");
    }
  }
  return out;
}

// ---- declared vs found ---------------------------------------------------------------------------

export type SettingValue = string | boolean | null | string[];
/** Exchange settings by dotted name (`owa.internalUrl`, `mapi.iisAuthenticationMethods`). */
export type SettingsMap = Record<string, SettingValue>;

function normalUrl(v: string): string {
  try {
    return new URL(v).href;
  } catch {
    return v;
  }
}

/**
 * Exchange hands URLs back as System.Uri.AbsoluteUri (host lowercased, characters escaped), host
 * names as typed, and authentication methods as unordered enum sets: compare accordingly.
 */
export function sameSetting(key: string, a: SettingValue | undefined, b: SettingValue | undefined): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const set = (x: SettingValue | undefined) => [...new Set((Array.isArray(x) ? x : []).map((s) => s.toLowerCase()))].sort().join(",");
    return set(a) === set(b);
  }
  if (typeof a === "string" && typeof b === "string") {
    if (/(Url|Uri)$/.test(key)) return normalUrl(a) === normalUrl(b);
    return a.toLowerCase() === b.toLowerCase();
  }
  return (a ?? null) === (b ?? null);
}

/** The keys of `declared` whose found value differs. */
export function changedKeys(declared: SettingsMap, found: Partial<SettingsMap>): string[] {
  return Object.keys(declared).filter((k) => !sameSetting(k, declared[k], found[k]));
}

function show(v: SettingValue | undefined): string {
  if (v === undefined || v === null) return "(empty)";
  return Array.isArray(v) ? v.join(",") || "(none)" : String(v);
}

/** Drift in words, one line per setting changed by hand. */
export function describeDrift(server: string, declared: SettingsMap, found: Partial<SettingsMap>): string[] {
  return changedKeys(declared, found).map((k) => `${server} ${k}: declared ${show(declared[k])}, found ${show(found[k])}`);
}

export function pick(all: Partial<SettingsMap>, keys: readonly string[]): SettingsMap {
  return Object.fromEntries(keys.map((k) => [k, all[k] ?? null]));
}

/** The `resourceUrn` input every Exchange resource records (for the `pulumi state delete` fix). */
export function resourceUrnInput(value: unknown): string | undefined {
  return typeof value === "string" && value.startsWith("urn:pulumi:") ? value : undefined;
}
