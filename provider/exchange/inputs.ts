// Offline validation of the inputs every Exchange resource shares (the server, the per-resource
// connection override), and the comparison of declared and found Exchange settings that `read`
// (drift) and `diff` both use.
import { InvalidInputError } from "../errors";
import { fqdn } from "../validate";

const NETBIOS = /^[A-Za-z0-9]([A-Za-z0-9-]{0,13}[A-Za-z0-9])?$/;

/** An Exchange server as Get-ExchangeServer knows it: its name (EX1) or its FQDN. */
export function exchangeServerName(field: string, value: unknown): string {
  if (typeof value === "string" && NETBIOS.test(value)) return value;
  if (typeof value === "string" && value.includes(".")) return fqdn(field, value);
  throw new InvalidInputError(field, `${JSON.stringify(value)} is not an Exchange server name`, "give the server's name as Get-ExchangeServer shows it (EX1, at most 15 letters, digits or hyphens) or its FQDN");
}

/**
 * An Exchange server's name as part of a resource name and for comparisons: its first label,
 * lowercased. `EX1` and `ex1.corp.example` are one server (Exchange server objects are named by the
 * computer's NetBIOS name, unique in the organisation: one CN under CN=Servers).
 */
export function serverKey(server: string): string {
  return server.split(".")[0].toLowerCase();
}

/** Whether two names of Exchange servers name the same server (see serverKey). */
export function sameServer(a: string, b: string): boolean {
  return serverKey(a) === serverKey(b);
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

/**
 * What an update does with the settings it found before it first managed them (`originals`):
 * those still declared are kept for destroy; those no longer declared are handed back now
 * (`restore`); newly declared ones are recorded from what the server has (`current`).
 */
export function carryOriginals(old: SettingsMap | undefined, declared: SettingsMap, current: SettingsMap): { originals: SettingsMap; restore: SettingsMap } {
  const originals: SettingsMap = {};
  const restore: SettingsMap = {};
  for (const [k, v] of Object.entries(old ?? {})) {
    if (k in declared) originals[k] = v;
    else restore[k] = v;
  }
  for (const k of Object.keys(declared)) if (!(k in originals)) originals[k] = current[k] ?? null;
  return { originals, restore };
}
