// The site program's settings (examples/site): every key read strictly from the stack's config and
// checked as KerberosRollout would check it, each problem named by its config key
// (exchange-kerberos:servers …) with the form it expects. A refusal is an InvalidProgramInputError,
// which Pulumi prints as its lines alone: no stack trace, nothing declared, nothing changed.
import { InvalidInputError } from "./errors";
import { integerValue, booleanValue, stringListValue, textValue, setCommand } from "./config-values";
import { InvalidProgramInputError } from "./program-error";
import { CONFIG_NAMESPACE } from "./settings";
import { SettingKey, settingDefault, settingKeys, SETTINGS } from "./setting-keys";
import { KerberosRolloutArgs, rolloutArgProblems } from "./components/kerberos-rollout";
import { OnDestroy, onDestroyInput } from "./resources/lifecycle";
import { MAX_AGE_DAYS_LIMIT } from "./asa-password-age";

/** The site keys, under exchange-kerberos: (setting-keys.ts, scope "site"; the connection keys are settings.ts's). */
export type SiteKey = { [K in SettingKey]: (typeof SETTINGS)[K]["scope"] extends "site" ? K : never }[SettingKey];
export const SITE_KEYS = settingKeys("site") as SiteKey[];

/** What the site program hands to KerberosRollout, but the password (a secret the program reads itself). */
export interface SiteSettings {
  namespace: string;
  servers: string[];
  dns?: { zone: string; addresses: string[]; ttl?: number };
  asa: { name: string; ou: string; supportedEncryptionTypes?: number; passwordMaxAgeDays?: number };
  extraSpnNames: string[];
  adopt: boolean;
  /** What destroy does with what existed before the stack (release, the default, or delete). */
  onDestroy?: OnDestroy;
  /** The KDC proxy's servers and certificate (kdcProxyServers, kdcProxyThumbprint), when set. */
  kdcProxy?: { servers: string[]; certificateThumbprint: string };
}

/** `exchange-kerberos:servers`. */
export function siteKey(k: SiteKey): string {
  return `${CONFIG_NAMESPACE}:${k}`;
}

/** How each site key is written, for the fixes messages give. */
const EXAMPLES = Object.fromEntries(SITE_KEYS.map((k) => [k, SETTINGS[k].example])) as Record<SiteKey, string>;

/** KerberosRollout's argument names → the config keys the site program fills them from. */
function keyOfArgument(field: string): string {
  const m = /^([A-Za-z.]+)(\[\d+\])?(.*)$/.exec(field);
  const [base, index, rest] = m ? [m[1], m[2] ?? "", m[3]] : [field, "", ""];
  const map: Record<string, SiteKey> = {
    namespace: "namespace",
    servers: "servers",
    extraSpnNames: "extraSpnNames",
    "dns.zone": "dnsZone",
    "dns.addresses": "dnsAddresses",
    "dns.ttl": "dnsTtl",
    "asa.name": "asaName",
    "asa.ou": "asaOu",
    "asa.supportedEncryptionTypes": "asaEncryptionTypes",
    "asa.password": "asaPassword",
    "asa.passwordMaxAgeDays": "asaPasswordMaxAgeDays",
    adopt: "adopt",
    onDestroy: "onDestroy",
    "kdcProxy.servers": "kdcProxyServers",
    "kdcProxy.certificateThumbprint": "kdcProxyThumbprint",
  };
  const k = map[base];
  return k ? `${siteKey(k)}${index}${rest}` : field;
}

/**
 * Reads and checks every site setting; `get(key)` is the stack config's raw text for a key of the
 * exchange-kerberos namespace (`new pulumi.Config("exchange-kerberos").get`). Throws one
 * InvalidProgramInputError listing every problem, one line each.
 */
export function readSiteSettings(get: (key: SiteKey) => string | undefined): SiteSettings {
  const problems: InvalidInputError[] = [];
  const read = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof InvalidInputError) {
        problems.push(e);
        return undefined;
      }
      throw e;
    }
  };
  const required = (k: SiteKey): string | undefined => read(() => {
    const v = textValue(siteKey(k), get(k), EXAMPLES[k]);
    if (v === undefined) throw new InvalidInputError(siteKey(k), "is not set (required)", setCommand(siteKey(k), EXAMPLES[k]), { code: "SETTING_MISSING" });
    return v;
  });
  const list = (k: SiteKey): string[] | undefined => read(() => stringListValue(siteKey(k), get(k), JSON.parse(EXAMPLES[k]) as string[]));

  const namespace = required("namespace");
  const serversRaw = get("servers");
  const servers = serversRaw === undefined
    ? read(() => { throw new InvalidInputError(siteKey("servers"), "is not set (required)", setCommand(siteKey("servers"), EXAMPLES.servers), { code: "SETTING_MISSING" }); })
    : list("servers");
  const dnsZone = read(() => textValue(siteKey("dnsZone"), get("dnsZone"), EXAMPLES.dnsZone));
  const dnsAddresses = list("dnsAddresses");
  if (dnsZone !== undefined && dnsAddresses === undefined && get("dnsAddresses") === undefined) {
    problems.push(new InvalidInputError(siteKey("dnsAddresses"), `is not set, but ${siteKey("dnsZone")} is`, `${setCommand(siteKey("dnsAddresses"), EXAMPLES.dnsAddresses)}, or remove ${siteKey("dnsZone")} to leave DNS alone`, { code: "SETTINGS_INCOMPLETE" }));
  }
  if (dnsZone === undefined && dnsAddresses !== undefined && get("dnsZone") === undefined) {
    problems.push(new InvalidInputError(siteKey("dnsZone"), `is not set, but ${siteKey("dnsAddresses")} is`, `${setCommand(siteKey("dnsZone"), EXAMPLES.dnsZone)}, or remove ${siteKey("dnsAddresses")} to leave DNS alone`, { code: "SETTINGS_INCOMPLETE" }));
  }
  const dnsTtl = read(() => integerValue(siteKey("dnsTtl"), get("dnsTtl"), { min: 0, max: 2147483647, unit: "seconds", example: EXAMPLES.dnsTtl }));
  if (dnsTtl !== undefined && dnsZone === undefined && get("dnsZone") === undefined) {
    problems.push(new InvalidInputError(siteKey("dnsTtl"), `is set, but ${siteKey("dnsZone")} is not`, `remove ${siteKey("dnsTtl")}, or set ${siteKey("dnsZone")} and ${siteKey("dnsAddresses")} to manage the record`, { code: "SETTINGS_INCOMPLETE" }));
  }
  const asaName = required("asaName");
  const asaOu = required("asaOu");
  const asaEncryptionTypes = read(() => integerValue(siteKey("asaEncryptionTypes"), get("asaEncryptionTypes"), { min: 1, max: 0x7fffffff, unit: "a msDS-SupportedEncryptionTypes bit mask", example: EXAMPLES.asaEncryptionTypes }));
  const asaPasswordMaxAgeDays = read(() => integerValue(siteKey("asaPasswordMaxAgeDays"), get("asaPasswordMaxAgeDays"), { min: 1, max: MAX_AGE_DAYS_LIMIT, unit: "days", example: EXAMPLES.asaPasswordMaxAgeDays }));
  const extraSpnNames = list("extraSpnNames");
  const adopt = read(() => booleanValue(siteKey("adopt"), get("adopt")));
  const onDestroy = read(() => onDestroyInput(siteKey("onDestroy"), textValue(siteKey("onDestroy"), get("onDestroy"), EXAMPLES.onDestroy)));
  const kdcProxyServers = get("kdcProxyServers") === undefined ? undefined : list("kdcProxyServers");
  const kdcProxyThumbprint = read(() => textValue(siteKey("kdcProxyThumbprint"), get("kdcProxyThumbprint"), EXAMPLES.kdcProxyThumbprint));
  // The KDC proxy needs both: its servers and the certificate they bind.
  if (get("kdcProxyServers") !== undefined && kdcProxyThumbprint === undefined && get("kdcProxyThumbprint") === undefined) {
    problems.push(new InvalidInputError(siteKey("kdcProxyThumbprint"), `is not set, but ${siteKey("kdcProxyServers")} is`, `${setCommand(siteKey("kdcProxyThumbprint"), EXAMPLES.kdcProxyThumbprint)} (the thumbprint of the proxy's certificate on those servers), or remove ${siteKey("kdcProxyServers")}`));
  }
  if (get("kdcProxyServers") === undefined && get("kdcProxyThumbprint") !== undefined) {
    problems.push(new InvalidInputError(siteKey("kdcProxyServers"), `is not set, but ${siteKey("kdcProxyThumbprint")} is`, `${setCommand(siteKey("kdcProxyServers"), EXAMPLES.kdcProxyServers)}, or remove ${siteKey("kdcProxyThumbprint")}`));
  }
  // The password is a secret the program reads itself; here only whether it is set but empty.
  read(() => {
    if (get("asaPassword") === "") throw new InvalidInputError(siteKey("asaPassword"), "is empty", `${setCommand(siteKey("asaPassword"), "<password>", true)}, or remove it with pulumi config rm ${siteKey("asaPassword")} to have one generated`, { code: "VALUE_EMPTY" });
  });
  if (problems.length) throw new InvalidProgramInputError(problems);

  const settings: SiteSettings = {
    namespace: namespace!,
    servers: servers!,
    dns: dnsZone === undefined ? undefined : { zone: dnsZone, addresses: dnsAddresses!, ...(dnsTtl !== undefined ? { ttl: dnsTtl } : {}) },
    asa: { name: asaName!, ou: asaOu!, supportedEncryptionTypes: asaEncryptionTypes, ...(asaPasswordMaxAgeDays !== undefined ? { passwordMaxAgeDays: asaPasswordMaxAgeDays } : {}) },
    extraSpnNames: extraSpnNames ?? [],
    adopt: adopt ?? settingDefault("adopt"),
    ...(onDestroy !== undefined ? { onDestroy } : {}),
    kdcProxy: kdcProxyServers !== undefined && kdcProxyThumbprint !== undefined ? { servers: kdcProxyServers, certificateThumbprint: kdcProxyThumbprint } : undefined,
  };
  // What KerberosRollout would refuse, named by the config key the value came from.
  const args: KerberosRolloutArgs = { ...settings, asa: { ...settings.asa }, kdcProxy: settings.kdcProxy && { ...settings.kdcProxy } };
  const contentProblems = rolloutArgProblems(args);
  if (contentProblems.length) throw new InvalidProgramInputError(contentProblems.map((p) => p.renamed(keyOfArgument(p.field))));
  return settings;
}
