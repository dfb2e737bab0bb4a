// ExchangeVirtualDirectoryUrls: the URLs one Exchange server hands to clients, pointed at the
// Outlook namespace (step 2 of the how-to): InternalUrl (and, when declared, ExternalUrl) of OWA,
// ECP, EWS, OAB, ActiveSync and MAPI, the Autodiscover service's internal URI, and Outlook
// Anywhere's InternalHostname + InternalClientsRequireSsl. Everything derives from one namespace
// unless overridden. The values found before create are kept in state and restored on delete.
import * as pulumi from "@pulumi/pulumi";
import { dynamicResourceUrn } from "../owner";
import { InvalidInputError, warn } from "../errors";
import type { ExchangeOverride } from "../settings";
import { bool, fqdn, httpsUrl } from "../validate";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs, partialCreate } from "./dynamic";
import { carryOriginals, changedKeys, describeDrift, exchangeServerName, pick, type SettingsMap, resourceUrnInput } from "../exchange/inputs";
import { exchangeServer, getVdirUrls, setVdirUrls, VDIR_KINDS, type ServerHandle, type VdirKind, type VdirUrlsChange, type VdirUrlsState, serverExists, deleteOnServer, readOnServer, refuseOutlookAnywhereChange } from "../exchange/operations";
import { exchangeOverride } from "../overrides";

export type ServiceUrls = Partial<Record<VdirKind, string>>;

export interface ExchangeVirtualDirectoryUrlsArgs {
  /** The Exchange server (EX1 or its FQDN). Changing it replaces the resource. */
  server: pulumi.Input<string>;
  /** The internal namespace (outlook.corp.example): every internal URL, the Autodiscover URI and
   * the Outlook Anywhere host name derive from it unless overridden. */
  namespace?: pulumi.Input<string>;
  /** Per-service internal URLs, overriding the namespace. */
  internalUrls?: pulumi.Input<ServiceUrls>;
  /** The external namespace: when set, every ExternalUrl derives from it. Absent: ExternalUrls are left alone. */
  externalNamespace?: pulumi.Input<string>;
  /** Per-service external URLs (only these are managed when externalNamespace is absent). */
  externalUrls?: pulumi.Input<ServiceUrls>;
  /** Default https://<namespace>/Autodiscover/Autodiscover.xml. */
  autodiscoverInternalUri?: pulumi.Input<string>;
  /** Default: the namespace. */
  outlookAnywhereInternalHostname?: pulumi.Input<string>;
  /** Default true. */
  outlookAnywhereInternalClientsRequireSsl?: pulumi.Input<boolean>;
  /** Per-resource override of the stack's Exchange connection settings. */
  exchange?: pulumi.Input<ExchangeOverride>;
}

interface Inputs {
  server: string;
  namespace?: string;
  internalUrls: ServiceUrls;
  externalNamespace?: string;
  externalUrls: ServiceUrls;
  autodiscoverInternalUri?: string;
  outlookAnywhereInternalHostname?: string;
  outlookAnywhereInternalClientsRequireSsl: boolean;
  exchange?: ExchangeOverride;
  /** This resource's URN, for the fix when its server cannot be reached on read or delete. */
  resourceUrn?: string;
}

export interface VdirUrlsOutputs extends Inputs {
  /** Exchange's version on the server (2013, 2016, 2019, SE). */
  version: string;
  /** The managed settings as last found on the server. */
  settings: SettingsMap;
  /** The managed settings as found before create (or before a setting was first managed): restored on delete. */
  originals: SettingsMap;
  drift: string[];
}

/** The path of each service under the namespace, as Exchange setup creates it. */
export const SERVICE_PATHS: Record<VdirKind, string> = {
  owa: "/owa",
  ecp: "/ecp",
  ews: "/EWS/Exchange.asmx",
  oab: "/OAB",
  activeSync: "/Microsoft-Server-ActiveSync",
  mapi: "/mapi",
};
const AUTODISCOVER_PATH = "/Autodiscover/Autodiscover.xml";

function serviceUrls(field: string, value: unknown, f: CheckFailures): ServiceUrls {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    f.add(field, "NOT_AN_OBJECT", "must be an object keyed by service", `use keys ${VDIR_KINDS.join(", ")}`);
    return {};
  }
  const out: ServiceUrls = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    if (!(VDIR_KINDS as readonly string[]).includes(k)) {
      f.add(`${field}.${k}`, "UNKNOWN_SETTING", "is not a virtual directory this resource manages", `use ${VDIR_KINDS.join(", ")}`);
      continue;
    }
    f.guard(`${field}.${k}`, () => (out[k as VdirKind] = httpsUrl(`${field}.${k}`, v)));
  }
  return out;
}

export function validateVdirUrlsInputs(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("server", () => (out.server = exchangeServerName("server", news.server)));
  if (news.namespace !== undefined && news.namespace !== null) f.guard("namespace", () => (out.namespace = fqdn("namespace", news.namespace)));
  out.internalUrls = serviceUrls("internalUrls", news.internalUrls, f);
  if (news.externalNamespace !== undefined && news.externalNamespace !== null) f.guard("externalNamespace", () => (out.externalNamespace = fqdn("externalNamespace", news.externalNamespace)));
  out.externalUrls = serviceUrls("externalUrls", news.externalUrls, f);
  if (news.autodiscoverInternalUri !== undefined && news.autodiscoverInternalUri !== null) f.guard("autodiscoverInternalUri", () => (out.autodiscoverInternalUri = httpsUrl("autodiscoverInternalUri", news.autodiscoverInternalUri)));
  if (news.outlookAnywhereInternalHostname !== undefined && news.outlookAnywhereInternalHostname !== null) {
    f.guard("outlookAnywhereInternalHostname", () => (out.outlookAnywhereInternalHostname = fqdn("outlookAnywhereInternalHostname", news.outlookAnywhereInternalHostname)));
  }
  f.guard("outlookAnywhereInternalClientsRequireSsl", () => (out.outlookAnywhereInternalClientsRequireSsl = bool("outlookAnywhereInternalClientsRequireSsl", news.outlookAnywhereInternalClientsRequireSsl, true)));
  f.guard("exchange", () => (out.exchange = exchangeOverride("exchange", news.exchange)));
  out.resourceUrn = resourceUrnInput(news.resourceUrn);
  if (out.namespace === undefined) {
    const missing = [
      ...VDIR_KINDS.filter((k) => out.internalUrls?.[k] === undefined).map((k) => `internalUrls.${k}`),
      ...(out.autodiscoverInternalUri === undefined && news.autodiscoverInternalUri === undefined ? ["autodiscoverInternalUri"] : []),
      ...(out.outlookAnywhereInternalHostname === undefined && news.outlookAnywhereInternalHostname === undefined ? ["outlookAnywhereInternalHostname"] : []),
    ];
    if (missing.length > 0) {
      f.add("namespace", "SETTING_MISSING", `is not set, so nothing gives ${missing.join(", ")}`, "set namespace (such as outlook.corp.example), or give each of those explicitly");
    }
  }
  if (!failures) f.throwFirst();
  return out as Inputs;
}

/** The declared settings, every default resolved. */
export function declaredSettings(inputs: Inputs): SettingsMap {
  const s: SettingsMap = {};
  for (const k of VDIR_KINDS) {
    s[`${k}.internalUrl`] = inputs.internalUrls[k] ?? `https://${inputs.namespace}${SERVICE_PATHS[k]}`;
    const external = inputs.externalUrls[k] ?? (inputs.externalNamespace ? `https://${inputs.externalNamespace}${SERVICE_PATHS[k]}` : undefined);
    if (external !== undefined) s[`${k}.externalUrl`] = external;
  }
  s.autodiscoverInternalUri = inputs.autodiscoverInternalUri ?? `https://${inputs.namespace}${AUTODISCOVER_PATH}`;
  s["outlookAnywhere.internalHostname"] = inputs.outlookAnywhereInternalHostname ?? inputs.namespace ?? null;
  s["outlookAnywhere.internalClientsRequireSsl"] = inputs.outlookAnywhereInternalClientsRequireSsl;
  return s;
}

export function flattenVdirUrls(state: VdirUrlsState): SettingsMap {
  const s: SettingsMap = {};
  for (const k of VDIR_KINDS) {
    s[`${k}.internalUrl`] = state[k].internalUrl;
    s[`${k}.externalUrl`] = state[k].externalUrl;
  }
  s.autodiscoverInternalUri = state.autodiscoverInternalUri;
  s["outlookAnywhere.internalHostname"] = state.outlookAnywhere.internalHostname;
  s["outlookAnywhere.internalClientsRequireSsl"] = state.outlookAnywhere.internalClientsRequireSsl;
  return s;
}

/** The change that sets `settings` (Outlook Anywhere's host name and SSL flag always travel together). */
export function vdirChange(settings: SettingsMap): VdirUrlsChange {
  const c: VdirUrlsChange = {};
  for (const k of VDIR_KINDS) {
    const v: { internalUrl?: string | null; externalUrl?: string | null } = {};
    if (`${k}.internalUrl` in settings) v.internalUrl = settings[`${k}.internalUrl`] as string | null;
    if (`${k}.externalUrl` in settings) v.externalUrl = settings[`${k}.externalUrl`] as string | null;
    if (Object.keys(v).length > 0) c[k] = v;
  }
  if ("autodiscoverInternalUri" in settings) c.autodiscoverInternalUri = settings.autodiscoverInternalUri as string | null;
  if ("outlookAnywhere.internalHostname" in settings) {
    c.outlookAnywhere = {
      internalHostname: settings["outlookAnywhere.internalHostname"] as string | null,
      internalClientsRequireSsl: settings["outlookAnywhere.internalClientsRequireSsl"] === true,
    };
  }
  return c;
}

export function vdirUrlsDiff(olds: Partial<VdirUrlsOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces = (olds.server ?? "").toLowerCase() === news.server.toLowerCase() ? [] : ["server"];
  const declared = declaredSettings(news);
  const found = olds.settings ?? {};
  const dropped = Object.keys(found).filter((k) => !(k in declared));
  const changed = changedKeys(declared, found);
  const override = JSON.stringify(olds.exchange ?? {}) !== JSON.stringify(news.exchange ?? {});
  return { changes: replaces.length > 0 || changed.length > 0 || dropped.length > 0 || override, replaces, deleteBeforeReplace: false };
}

async function apply(h: ServerHandle, settings: SettingsMap, keys: readonly string[]): Promise<SettingsMap> {
  const after = flattenVdirUrls(await setVdirUrls(h, vdirChange(settings)));
  return pick(after, keys);
}

async function create(raw: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const inputs = validateVdirUrlsInputs(raw);
  const h = await exchangeServer(inputs.server, inputs.exchange);
  const declared = declaredSettings(inputs);
  const keys = Object.keys(declared);
  const originals = pick(flattenVdirUrls(await getVdirUrls(h)), keys);
  const id = `${inputs.server.toLowerCase()}/virtual-directory-urls`;
  // A server that already has every declared URL (a rollout done by hand, taken over) is left
  // untouched: taking it over changes nothing on it.
  if (keys.every((k) => JSON.stringify(originals[k] ?? null) === JSON.stringify(declared[k] ?? null))) {
    return { id, outs: { ...inputs, version: h.version, settings: originals, originals, drift: [] } };
  }
  let settings: SettingsMap;
  try {
    settings = await apply(h, declared, keys);
  } catch (e) {
    // Some URLs may be set already: keep what they were before, for the update and the restore.
    throw partialCreate(e, id, { ...inputs, version: h.version, settings: originals, originals, drift: [`${inputs.server}: the URLs were being set when this failed`] });
  }
  const outs: VdirUrlsOutputs = { ...inputs, version: h.version, settings, originals, drift: describeDrift(inputs.server, declared, settings) };
  return { id, outs };
}

async function read(id: string, props: VdirUrlsOutputs): Promise<pulumi.dynamic.ReadResult> {
  return readOnServer(props, async () => {
    const h = await exchangeServer(props.server, props.exchange, props.version);
    const declared = declaredSettings(props);
    const found = pick(flattenVdirUrls(await getVdirUrls(h)), Object.keys(props.settings ?? declared));
    return { id, props: { ...props, version: h.version, settings: found, drift: describeDrift(props.server, declared, found) } };
  });
}

async function update(_id: string, olds: VdirUrlsOutputs, raw: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const news = validateVdirUrlsInputs(raw);
  const h = await exchangeServer(news.server, news.exchange, olds.version);
  const declared = declaredSettings(news);
  const current = flattenVdirUrls(await getVdirUrls(h));
  const { originals, restore } = carryOriginals(olds.originals, declared, current);
  if (Object.keys(restore).length > 0) await setVdirUrls(h, vdirChange(restore));
  const settings = await apply(h, declared, Object.keys(declared));
  return { outs: { ...news, version: h.version, settings, originals, drift: describeDrift(news.server, declared, settings) } };
}

async function del(_id: string, props: VdirUrlsOutputs): Promise<void> {
  await deleteOnServer(props, "the server or its virtual directories", async () => {
    const h = await exchangeServer(props.server, props.exchange, props.version);
    let restore = props.originals ?? {};
    // Exchange keeps an internal or an external host name (Set-OutlookAnywhere refuses to clear
    // the last one): a server found without either keeps the namespace.
    if ("outlookAnywhere.internalHostname" in restore && !restore["outlookAnywhere.internalHostname"] && !(await getVdirUrls(h)).outlookAnywhere.externalHostname) {
      restore = Object.fromEntries(Object.entries(restore).filter(([k]) => !k.startsWith("outlookAnywhere.")));
      warn(`${props.server}: Outlook Anywhere had no host name before this stack, and Exchange cannot clear the only one: it keeps ${declaredSettings(props)["outlookAnywhere.internalHostname"]}`, `set its ExternalHostname first if it must go (Set-OutlookAnywhere "${props.server}\\Rpc (Default Web Site)" -ExternalHostname <name> -ExternalClientsRequireSsl $true -ExternalClientAuthenticationMethod Negotiate)`);
    }
    return setVdirUrls(h, vdirChange(restore));
  });
}

/** A declared InternalClientsRequireSsl false: refused at preview where Set-OutlookAnywhere would refuse it. */
async function online(inputs: Inputs, f: CheckFailures): Promise<void> {
  await serverExists(inputs, f);
  if (inputs.outlookAnywhereInternalClientsRequireSsl !== false || f.failures.length > 0) return;
  const host = declaredSettings(inputs)["outlookAnywhere.internalHostname"] as string | null;
  await refuseOutlookAnywhereChange(inputs, { internalHostname: host, internalClientsRequireSsl: false }, "outlookAnywhereInternalClientsRequireSsl", f);
}

export const exchangeVirtualDirectoryUrlsImpl: ResourceImpl = {
  replaceKeys: ["server"],
  async check(_olds, news) {
    return checkInputs(news, validateVdirUrlsInputs, online);
  },
  async diff(_id, olds, news) {
    return vdirUrlsDiff(olds, validateVdirUrlsInputs(news));
  },
  create,
  read,
  update,
  delete: del,
};

export class ExchangeVirtualDirectoryUrls extends pulumi.dynamic.Resource {
  declare readonly server: pulumi.Output<string>;
  declare readonly namespace: pulumi.Output<string | undefined>;
  declare readonly version: pulumi.Output<string>;
  declare readonly settings: pulumi.Output<SettingsMap>;
  declare readonly originals: pulumi.Output<SettingsMap>;
  declare readonly drift: pulumi.Output<string[]>;

  constructor(name: string, args: ExchangeVirtualDirectoryUrlsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      thinProvider("exchange-kerberos:ExchangeVirtualDirectoryUrls"),
      name,
      { ...args,
        resourceUrn: dynamicResourceUrn("ExchangeVirtualDirectoryUrls", name, opts?.parent), version: undefined, settings: undefined, originals: undefined, drift: undefined },
      opts,
      "exchange-kerberos",
      "ExchangeVirtualDirectoryUrls",
    );
  }
}
