// ExchangeVirtualDirectoryUrls: the URLs one Exchange server hands to clients, pointed at the
// Outlook namespace (step 2 of the how-to): InternalUrl (and, when declared, ExternalUrl) of OWA,
// ECP, EWS, OAB, ActiveSync and MAPI, the Autodiscover service's internal URI, and Outlook
// Anywhere's InternalHostname + InternalClientsRequireSsl. Everything derives from one namespace
// unless overridden. The values found before create are kept in state and restored on delete.
import * as pulumi from "@pulumi/pulumi";
import { deleteFirst, dynamicResourceUrn, stackInput } from "../owner";
import { InvalidInputError, warn } from "../errors";
import type { ExchangeOverride } from "../settings";
import { bool, fqdn, httpsUrl } from "../validate";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs, partialCreate } from "./dynamic";
import { carryOriginals, changedKeys, describeDrift, exchangeServerName, pick, sameServer, type SettingsMap, resourceUrnInput } from "../exchange/inputs";
import { exchangeServer, getVdirUrls, setVdirUrls, VDIR_KINDS, type ServerHandle, type VdirKind, type VdirUrlsChange, type VdirUrlsState, serverExists, deleteOnServer, readOnServer, refuseOutlookAnywhereChange } from "../exchange/operations";
import { exchangeOverride } from "../overrides";
import { keptOrigin, noteLegacyOrigin, OnDestroy, onDestroyInput, Origin, originOf, recordedOrigin, refuseIfHeld, releasedOnDestroy, replacedProps } from "./lifecycle";

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
  /**
   * The server is taken over as part of a rollout done by hand (the site's adopt): destroy then
   * leaves its URLs as they are (released), unless onDestroy is delete. Without it, destroy puts
   * back the URLs found before create.
   */
  adopt?: pulumi.Input<boolean>;
  /** With adopt: `release` (the default) or `delete` (destroy puts back what create found). */
  onDestroy?: pulumi.Input<OnDestroy>;
  /**
   * The namespace's DnsRecord `origin` output, when the stack manages the record: the URLs name it,
   * so destroy releases them exactly when it releases the record (a record kept, URLs on it; a
   * record deleted, URLs put back), and never leaves a URL naming a record it deleted.
   */
  recordOrigin?: pulumi.Input<string>;
  /**
   * Destroy deletes the namespace's DNS record that existed before the stack (the component sets it
   * for onDestroy delete with a DNS record under adopt): preview then refuses when the URLs found
   * before the stack name the namespace, since destroy would point them at a name with no record.
   */
  deletesNamespaceRecord?: pulumi.Input<boolean>;
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
  adopt: boolean;
  onDestroy?: OnDestroy;
  recordOrigin?: Origin;
  deletesNamespaceRecord: boolean;
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
  /** Created (restored on destroy) or adopted (released on destroy): lifecycle.ts. Absent in older state. */
  origin?: Origin;
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
  f.guard("adopt", () => (out.adopt = bool("adopt", news.adopt, false)));
  f.guard("onDestroy", () => (out.onDestroy = onDestroyInput("onDestroy", news.onDestroy)));
  out.recordOrigin = recordedOrigin(news.recordOrigin);
  f.guard("deletesNamespaceRecord", () => (out.deletesNamespaceRecord = bool("deletesNamespaceRecord", news.deletesNamespaceRecord, false)));
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

/** The URLs found before the stack that name `namespace`: what destroy would point at it again. */
export function originalsNaming(originals: SettingsMap, namespace: string): string[] {
  return Object.entries(originals)
    .filter(([k, v]) => typeof v === "string" && (k === "outlookAnywhere.internalHostname" ? v.toLowerCase() === namespace.toLowerCase() : /^https?:\/\/([^/:]+)/i.exec(v)?.[1]?.toLowerCase() === namespace.toLowerCase()))
    .map(([k]) => k);
}

/** Destroy would delete the namespace's record while putting back URLs that name it. */
function strandedName(server: string, namespace: string | undefined, originals: SettingsMap): InvalidInputError | undefined {
  if (!namespace) return undefined;
  const naming = originalsNaming(originals, namespace);
  if (naming.length === 0) return undefined;
  return new InvalidInputError(
    "onDestroy",
    `delete would delete the DNS record of ${namespace}, which existed before this stack, while destroy puts back ${server}'s URLs as found before the stack (${naming.join(", ")}), which name it: the site would be left with URLs and no name`,
    "leave exchange-kerberos:onDestroy at release (the default: what existed before the stack stays), or take DNS out of the stack (dnsZone, dnsAddresses)",
    { code: "DESTROY_WOULD_STRAND_NAME" },
  );
}

export function vdirUrlsDiff(olds: Partial<VdirUrlsOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  if (news.deletesNamespaceRecord && !releasedOnDestroy({ origin: olds.recordOrigin ?? olds.origin, onDestroy: news.onDestroy })) {
    const refusal = strandedName(news.server, news.namespace, olds.originals ?? {});
    if (refusal) throw refusal;
  }
  const replaces = sameServer(olds.server ?? "", news.server) ? [] : ["server"];
  const declared = declaredSettings(news);
  const found = olds.settings ?? {};
  const dropped = Object.keys(found).filter((k) => !(k in declared));
  const changed = changedKeys(declared, found);
  const override = JSON.stringify(olds.exchange ?? {}) !== JSON.stringify(news.exchange ?? {});
  const recorded = (olds.onDestroy ?? undefined) !== news.onDestroy || Boolean(olds.deletesNamespaceRecord) !== news.deletesNamespaceRecord;
  return { changes: replaces.length > 0 || changed.length > 0 || dropped.length > 0 || override || recorded, replaces, deleteBeforeReplace: false };
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
  refuseIfHeld(raw, "ExchangeVirtualDirectoryUrls", `the URLs of ${inputs.server}`, (o) => typeof o.server === "string" && sameServer(o.server, inputs.server));
  const current = pick(flattenVdirUrls(await getVdirUrls(h)), keys);
  // A replacement deleted first keeps what its predecessor found before the stack: a release left
  // the server as the stack had set it, which is not what it was before.
  const replaced = replacedProps(raw);
  const originals = { ...current, ...pick((replaced?.originals ?? {}) as SettingsMap, keys.filter((k) => k in ((replaced?.originals ?? {}) as SettingsMap))) };
  const kept = { origin: (replaced?.origin as Origin | undefined) ?? originOf(inputs.adopt) };
  const id = `${inputs.server.toLowerCase()}/virtual-directory-urls`;
  // A server that already has every declared URL (a rollout done by hand, taken over) is left
  // untouched: taking it over changes nothing on it.
  if (keys.every((k) => JSON.stringify(current[k] ?? null) === JSON.stringify(declared[k] ?? null))) {
    return { id, outs: { ...inputs, version: h.version, settings: current, originals, drift: [], ...kept } };
  }
  let settings: SettingsMap;
  try {
    settings = await apply(h, declared, keys);
  } catch (e) {
    // Some URLs may be set already: keep what they were before, for the update and the restore.
    throw partialCreate(e, id, { ...inputs, version: h.version, settings: current, originals, drift: [`${inputs.server}: the URLs were being set when this failed`], ...kept });
  }
  const outs: VdirUrlsOutputs = { ...inputs, version: h.version, settings, originals, drift: describeDrift(inputs.server, declared, settings), ...kept };
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
  return { outs: { ...news, version: h.version, settings, originals, drift: describeDrift(news.server, declared, settings), ...keptOrigin(olds as unknown as Record<string, unknown>) } };
}

async function del(_id: string, props: VdirUrlsOutputs): Promise<void> {
  if (releasedOnDestroy({ origin: props.recordOrigin ?? props.origin, onDestroy: props.onDestroy })) {
    warn(`${props.server}: its URLs were taken over with the site (and the namespace's record stays): released, left as they are`);
    return;
  }
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

/**
 * Read-only, at preview: a declared InternalClientsRequireSsl false is refused where
 * Set-OutlookAnywhere would refuse it; and for a server not in state yet, onDestroy delete is
 * refused where the URLs destroy would put back name a record it deletes (the URLs it has now).
 */
async function online(inputs: Inputs, f: CheckFailures, olds: Record<string, unknown>): Promise<void> {
  await serverExists(inputs, f);
  if (f.failures.length === 0 && Object.keys(olds).length === 0 && inputs.deletesNamespaceRecord && inputs.adopt && inputs.onDestroy === "delete" && inputs.server !== undefined) {
    const h = await exchangeServer(inputs.server, inputs.exchange);
    const refusal = strandedName(inputs.server, inputs.namespace, flattenVdirUrls(await getVdirUrls(h)));
    if (refusal) f.addError("onDestroy", refusal);
  }
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
    noteLegacyOrigin(olds);
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
        resourceUrn: dynamicResourceUrn("ExchangeVirtualDirectoryUrls", name, opts?.parent), pulumiStack: stackInput(), version: undefined, settings: undefined, originals: undefined, drift: undefined },
      deleteFirst(opts),
      "exchange-kerberos",
      "ExchangeVirtualDirectoryUrls",
    );
  }
}
