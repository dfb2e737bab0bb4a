// KdcProxyServer: the KDC Proxy Server service (KPSSVC, MS-KKDCP) on one Windows server, so that
// Outlook outside the network gets Kerberos tickets over HTTPS
// (docs/guides/outlook-outside-the-network.md). What Microsoft's manual method configures (the "SMB
// over QUIC" article; "Netsh http commands"), each one managed and read back for drift:
//   - the Settings values under HKLM\SYSTEM\CurrentControlSet\Services\KPSSVC\Settings:
//     HttpsClientAuth and DisallowUnprotectedPasswordAuth (Microsoft sets both to 0; 1 asks for
//     client certificates, or refuses password logons that are not protected);
//   - the HTTP.sys URL reservation https://+:443/KdcProxy for NT AUTHORITY\NETWORK SERVICE;
//   - the certificate binding of 0.0.0.0:443 (netsh http add sslcert certhash= appid=);
//   - the service's start type and state.
// The commands run on the named server through the Exchange session's PowerShell process
// (Invoke-Command; provider/exchange/kdc-proxy.ts). What create found is kept in state
// (`originals`) and put back on delete: a reservation that was not there goes. The certificate
// binding of 0.0.0.0:443 is the resource's own or is left alone: a binding another application
// holds (IIS's, on every Exchange server: OWA, EWS, MAPI and Autodiscover would lose HTTPS) is
// refused at preview, and never replaced nor deleted.
import * as pulumi from "@pulumi/pulumi";
import { InvalidInputError, KerberosRolloutError, NotFoundError, causeOf, warn } from "../errors";
import { deleteFirst, dynamicResourceUrn, stackInput } from "../owner";
import type { ExchangeOverride } from "../settings";
import { bool, fqdn, oneOf } from "../validate";
import { exchangeOverride } from "../overrides";
import { carryOriginals, changedKeys, describeDrift, exchangeServerName, pick, resourceUrnInput, type SettingsMap } from "../exchange/inputs";
import { deleteOnServer, readOnServer } from "../exchange/operations";
import { getKdcProxy, kdcProxySession, setKdcProxy, type KdcProxyChange, type KdcProxyState, type KdcProxyTarget, type RegistryFlag } from "../exchange/kdc-proxy";
import { CheckFailures, ResourceImpl, checkInputs, partialCreate, thinProvider } from "./dynamic";

/** Set-Service -StartupType values Windows PowerShell 5.1 accepts. */
export const START_TYPES = ["Automatic", "Manual", "Disabled"] as const;
export type KdcProxyStartType = (typeof START_TYPES)[number];
export const SERVICE_STATES = ["Running", "Stopped"] as const;
export type KdcProxyServiceState = (typeof SERVICE_STATES)[number];

/** The URL KPSSVC listens on (Microsoft's reservation), and the only one this resource manages. */
export const DEFAULT_KDC_PROXY_URL = "https://+:443/KdcProxy";
/**
 * The application id of the certificate binding when none is given. It only names the binding's
 * owner; Microsoft's example makes a new GUID, a fixed one lets every run recognise its own binding.
 */
export const DEFAULT_APP_ID = "{4f550960-0435-47fc-9df7-cb1c782edf2a}";
/** The application id IIS gives its certificate bindings (W3SVC_SSL_OWNER_GUID in IIS's SDK headers). */
export const IIS_APP_ID = "{4dc3e181-e14b-4a21-b022-59fc669b0914}";

export interface KdcProxyServerArgs {
  /** The Windows server that runs the KDC proxy (its name or FQDN). Changing it replaces the resource. */
  server: pulumi.Input<string>;
  /** The SHA-1 thumbprint of the server's certificate for the proxy's public name, in Cert:\LocalMachine\My. */
  certificateThumbprint: pulumi.Input<string>;
  /** Default https://+:443/KdcProxy, the URL KPSSVC serves (the only one Microsoft documents). */
  url?: pulumi.Input<string>;
  /** HttpsClientAuth: true asks clients for a certificate (smart card, Windows Hello). Default false, as Microsoft's steps set it. */
  httpsClientAuth?: pulumi.Input<boolean>;
  /** DisallowUnprotectedPasswordAuth: true refuses password logons not otherwise protected. Default false, as Microsoft's steps set it. */
  disallowUnprotectedPasswordAuth?: pulumi.Input<boolean>;
  /** The certificate binding's appid ({GUID}); default a fixed one of this package. */
  appId?: pulumi.Input<string>;
  /** Default Automatic. */
  startType?: pulumi.Input<KdcProxyStartType>;
  /** Default Running. */
  state?: pulumi.Input<KdcProxyServiceState>;
  /** The Exchange server whose PowerShell session runs the commands (when exchangeEndpoint is not set); default: the server itself. */
  via?: pulumi.Input<string>;
  exchange?: pulumi.Input<ExchangeOverride>;
}

interface Inputs {
  server: string;
  certificateThumbprint: string;
  url: string;
  httpsClientAuth: boolean;
  disallowUnprotectedPasswordAuth: boolean;
  appId: string;
  startType: KdcProxyStartType;
  state: KdcProxyServiceState;
  via?: string;
  exchange?: ExchangeOverride;
  resourceUrn?: string;
}

export interface KdcProxyServerOutputs extends Inputs {
  /** The managed settings as last found on the server. */
  settings: SettingsMap;
  /** The managed settings as found before create: restored on delete. */
  originals: SettingsMap;
  drift: string[];
}

const K = {
  httpsClientAuth: "httpsClientAuth",
  disallow: "disallowUnprotectedPasswordAuth",
  urlReserved: "urlReserved",
  sslBinding: "sslBinding",
  startType: "startType",
  status: "status",
} as const;

const NETBIOS = /^[A-Za-z0-9]([A-Za-z0-9-]{0,13}[A-Za-z0-9])?$/;

/** A Windows server as WinRM reaches it: its computer name or FQDN. */
export function windowsServerName(field: string, value: unknown): string {
  if (typeof value === "string" && NETBIOS.test(value)) return value;
  if (typeof value === "string" && value.includes(".")) return fqdn(field, value);
  throw new InvalidInputError(field, `${JSON.stringify(value)} is not a server name`, "give the Windows server's computer name (GW1, at most 15 letters, digits or hyphens) or its FQDN");
}

/** A certificate thumbprint as certmgr shows it (spaces allowed), normalised to 40 upper-case hex digits. */
export function thumbprint(field: string, value: unknown): string {
  const t = typeof value === "string" ? value.replace(/\s+/g, "").toUpperCase() : "";
  if (!/^[0-9A-F]{40}$/.test(t)) {
    const hidden = typeof value === "string" && /[^\x20-\x7e]/.test(value);
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not a certificate thumbprint${hidden ? " (it holds an invisible character, as one copied from the certificate dialog often does)" : ""}`, "give the 40 hex digits of the certificate's SHA-1 thumbprint, as (Get-ChildItem Cert:\\LocalMachine\\My).Thumbprint shows it");
  }
  return t;
}

function appId(field: string, value: unknown): string {
  if (value === undefined || value === null) return DEFAULT_APP_ID;
  const m = typeof value === "string" ? /^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$/.exec(value) : null;
  if (!m) throw new InvalidInputError(field, `${JSON.stringify(value)} is not a GUID`, "give a GUID such as {4f550960-0435-47fc-9df7-cb1c782edf2a} ([Guid]::NewGuid() makes one), or leave it out");
  return `{${m[1].toLowerCase()}}`;
}

/** The reservation URL; only https://+:443/KdcProxy, since another port needs KPSSVC's HttpsUrlGroup, which Microsoft does not document. */
export function kdcProxyUrl(field: string, value: unknown): string {
  const v = value ?? DEFAULT_KDC_PROXY_URL;
  const m = typeof v === "string" ? /^https:\/\/\+:([0-9]{1,5})\/kdcproxy\/?$/i.exec(v) : null;
  if (!m) throw new InvalidInputError(field, `${JSON.stringify(v)} is not the KDC proxy's reservation URL`, `give ${DEFAULT_KDC_PROXY_URL} (the URL KPSSVC serves), or leave it out`);
  if (m[1] !== "443") throw new InvalidInputError(field, `port ${m[1]} needs KPSSVC's HttpsUrlGroup value, which Microsoft does not document`, `use ${DEFAULT_KDC_PROXY_URL} and publish another port at your firewall if you must`);
  return DEFAULT_KDC_PROXY_URL;
}

export function validateKdcProxyServerInputs(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("server", () => (out.server = windowsServerName("server", news.server)));
  f.guard("certificateThumbprint", () => (out.certificateThumbprint = thumbprint("certificateThumbprint", news.certificateThumbprint)));
  f.guard("url", () => (out.url = kdcProxyUrl("url", news.url)));
  f.guard("httpsClientAuth", () => (out.httpsClientAuth = bool("httpsClientAuth", news.httpsClientAuth, false)));
  f.guard("disallowUnprotectedPasswordAuth", () => (out.disallowUnprotectedPasswordAuth = bool("disallowUnprotectedPasswordAuth", news.disallowUnprotectedPasswordAuth, false)));
  f.guard("appId", () => (out.appId = appId("appId", news.appId)));
  f.guard("startType", () => (out.startType = oneOf("startType", news.startType ?? "Automatic", START_TYPES)));
  f.guard("state", () => {
    out.state = oneOf("state", news.state ?? "Running", SERVICE_STATES);
    if (out.state === "Running" && out.startType === "Disabled") throw new InvalidInputError("state", "is Running, but startType is Disabled: a disabled service cannot run", "set startType to Automatic or Manual, or state to Stopped");
  });
  if (news.via !== undefined && news.via !== null) f.guard("via", () => (out.via = exchangeServerName("via", news.via)));
  f.guard("exchange", () => (out.exchange = exchangeOverride("exchange", news.exchange)));
  out.resourceUrn = resourceUrnInput(news.resourceUrn);
  if (!failures) f.throwFirst();
  return out as Inputs;
}

function target(i: Pick<Inputs, "server" | "url">): KdcProxyTarget {
  const port = /:([0-9]+)\//.exec(i.url)?.[1] ?? "443";
  return { server: i.server, url: i.url, ipPort: `0.0.0.0:${port}` };
}

const flagOf = (b: boolean): RegistryFlag => (b ? "1" : "0");

export function flattenKdcProxy(s: KdcProxyState): SettingsMap {
  return {
    [K.httpsClientAuth]: s.httpsClientAuth,
    [K.disallow]: s.disallowUnprotectedPasswordAuth,
    [K.urlReserved]: s.urlReserved,
    [K.sslBinding]: s.sslBinding ? `${s.sslBinding.certHash} ${s.sslBinding.appId}` : null,
    [K.startType]: s.startType,
    [K.status]: s.status,
  };
}

export function declaredKdcProxy(i: Inputs): SettingsMap {
  return {
    [K.httpsClientAuth]: flagOf(i.httpsClientAuth),
    [K.disallow]: flagOf(i.disallowUnprotectedPasswordAuth),
    [K.urlReserved]: true,
    [K.sslBinding]: `${i.certificateThumbprint} ${i.appId}`,
    [K.startType]: i.startType,
    [K.status]: i.state,
  };
}

/** The change that sets `settings`; only the keys present are touched. */
export function kdcProxyChange(settings: SettingsMap): KdcProxyChange {
  const c: KdcProxyChange = {};
  const asFlag = (v: unknown): RegistryFlag => (v === "0" || v === "1" ? v : null);
  if (K.httpsClientAuth in settings) c.httpsClientAuth = asFlag(settings[K.httpsClientAuth]);
  if (K.disallow in settings) c.disallowUnprotectedPasswordAuth = asFlag(settings[K.disallow]);
  if (typeof settings[K.urlReserved] === "boolean") c.urlReserved = settings[K.urlReserved] as boolean;
  if (K.sslBinding in settings) {
    const b = settings[K.sslBinding];
    const [certHash, app] = typeof b === "string" ? b.split(" ") : [];
    c.sslBinding = certHash && app ? { certHash, appId: app } : null;
  }
  // A service found in another state (Paused, StartPending) is put back Running or Stopped.
  if (typeof settings[K.startType] === "string" && (START_TYPES as readonly string[]).includes(settings[K.startType] as string)) c.startType = settings[K.startType] as KdcProxyStartType;
  if (typeof settings[K.status] === "string") c.status = settings[K.status] === "Stopped" ? "Stopped" : "Running";
  return c;
}

export function kdcProxyDiff(olds: Partial<KdcProxyServerOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces = [
    ...((olds.server ?? "").toLowerCase() === news.server.toLowerCase() ? [] : ["server"]),
    ...((olds.url ?? DEFAULT_KDC_PROXY_URL) === news.url ? [] : ["url"]),
  ];
  const declared = declaredKdcProxy(news);
  const routing = (olds.via ?? null) !== (news.via ?? null) || JSON.stringify(olds.exchange ?? {}) !== JSON.stringify(news.exchange ?? {});
  const changes = replaces.length > 0 || changedKeys(declared, olds.settings ?? {}).length > 0 || routing;
  return { changes, replaces, deleteBeforeReplace: replaces.length > 0 };
}

function session(i: Pick<Inputs, "server" | "via" | "exchange">) {
  return kdcProxySession(i.server, i.via, i.exchange);
}

/** A binding of the IP:port that another application holds, named for the message; undefined: none, or ours. */
function foreignBinding(found: KdcProxyState, ours: readonly (string | undefined)[]): string | undefined {
  const b = found.sslBinding;
  if (!b || ours.includes(b.appId)) return undefined;
  return b.appId === IIS_APP_ID ? `IIS (application ${IIS_APP_ID}, certificate ${b.certHash})` : `application ${b.appId} (certificate ${b.certHash})`;
}

function takenError(server: string, ipPort: string, owner: string): InvalidInputError {
  return new InvalidInputError(
    "server",
    `${server}'s certificate binding of ${ipPort} belongs to ${owner}; the KDC proxy would have to replace it, and every HTTPS site of that application on ${server} (on an Exchange server: OWA, EWS, MAPI, Autodiscover) would present the proxy's certificate, or none once the proxy is removed`,
    "publish the KDC proxy on a server where nothing else serves HTTPS on 443 (Microsoft notes the same of Windows Admin Center on 443)",
    { code: "KDC_PROXY_PORT_TAKEN" },
  );
}

async function create(raw: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const inputs = validateKdcProxyServerInputs(raw);
  const t = target(inputs);
  const s = session(inputs);
  const found = await getKdcProxy(s, t);
  const foreign = foreignBinding(found, [inputs.appId]);
  if (foreign) throw takenError(inputs.server, t.ipPort, foreign);
  const before = flattenKdcProxy(found);
  const declared = declaredKdcProxy(inputs);
  const keys = Object.keys(declared);
  const id = `${inputs.server.toLowerCase()}/kdc-proxy`;
  let settings: SettingsMap;
  try {
    settings = pick(flattenKdcProxy(await setKdcProxy(s, t, kdcProxyChange(declared), inputs.appId)), keys);
  } catch (e) {
    // Some steps may have run: keep what was there before, for the next up and for destroy.
    throw partialCreate(e, id, { ...inputs, settings: pick(before, keys), originals: pick(before, keys), drift: [`${inputs.server}: the KDC proxy was being configured when this failed`] });
  }
  const outs: KdcProxyServerOutputs = { ...inputs, settings, originals: pick(before, keys), drift: describeDrift(inputs.server, declared, settings) };
  return { id, outs };
}

async function read(id: string, props: KdcProxyServerOutputs): Promise<pulumi.dynamic.ReadResult> {
  return readOnServer(props, async () => {
    const found = pick(flattenKdcProxy(await getKdcProxy(session(props), target(props))), Object.keys(declaredKdcProxy(props)));
    return { id, props: { ...props, settings: found, drift: describeDrift(props.server, declaredKdcProxy(props), found) } };
  });
}

async function update(_id: string, olds: KdcProxyServerOutputs, raw: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const news = validateKdcProxyServerInputs(raw);
  const t = target(news);
  const s = session(news);
  const found = await getKdcProxy(s, t);
  const foreign = foreignBinding(found, [news.appId, olds.appId]);
  if (foreign) throw takenError(news.server, t.ipPort, foreign);
  const current = flattenKdcProxy(found);
  const declared = declaredKdcProxy(news);
  const { originals } = carryOriginals(olds.originals, declared, current);
  // The binding there is ours under the old or the new application id (or there is none).
  const owner = found.sslBinding?.appId ?? news.appId;
  const settings = pick(flattenKdcProxy(await setKdcProxy(s, t, kdcProxyChange(declared), owner)), Object.keys(declared));
  return { outs: { ...news, settings, originals, drift: describeDrift(news.server, declared, settings) } };
}

async function del(_id: string, props: KdcProxyServerOutputs): Promise<void> {
  await deleteOnServer(props, "the server or its KDC Proxy Server service", async () => {
    const s = session(props);
    const t = target(props);
    const change = kdcProxyChange(props.originals ?? {});
    const foreign = "sslBinding" in change ? foreignBinding(await getKdcProxy(s, t), [props.appId]) : undefined;
    if (foreign) {
      // Someone bound another application there since: it is theirs now, and stays.
      delete change.sslBinding;
      warn(`${props.server}: the certificate binding of ${t.ipPort} belongs to ${foreign} now; it is left as it is`);
    }
    return setKdcProxy(s, t, change, props.appId ?? DEFAULT_APP_ID);
  });
}

/**
 * The online part of check: the server answers through the channel, runs KPSSVC, and holds the
 * certificate in its computer store (HTTP.sys binds only from there), so that `pulumi preview`
 * refuses what `up` would fail on. What the stack already manages is not refused for drift.
 */
async function online(inputs: Inputs, f: CheckFailures, olds: Record<string, unknown>): Promise<void> {
  if (inputs.server === undefined) return; // not known yet (preview)
  let found: KdcProxyState;
  try {
    found = await getKdcProxy(session(inputs), target(inputs), inputs.certificateThumbprint ?? "");
  } catch (e) {
    if (e instanceof NotFoundError) {
      f.add("server", "KPSSVC_MISSING", `${inputs.server} has no KDC Proxy Server service (kpssvc): ${causeOf(e)}`, "use a server running Windows Server 2012 or later, where KPSSVC is built in");
      return;
    }
    if (e instanceof KerberosRolloutError) {
      f.addError("server", e, `cannot configure the KDC proxy on ${JSON.stringify(inputs.server)}`);
      return;
    }
    throw e;
  }
  const foreign = foreignBinding(found, [inputs.appId, typeof olds.appId === "string" ? olds.appId : undefined]);
  if (foreign) {
    const e = takenError(inputs.server, target(inputs).ipPort, foreign);
    f.add("server", "KDC_PROXY_PORT_TAKEN", e.reason, e.fix);
  }
  if (inputs.certificateThumbprint !== undefined && !found.certificateFound) {
    f.add("certificateThumbprint", "CERTIFICATE_NOT_IN_STORE", `no certificate ${inputs.certificateThumbprint} in Cert:\\LocalMachine\\My on ${inputs.server}`, `import the certificate for the proxy's public name, with its private key, into the computer's Personal store on ${inputs.server}, or give the thumbprint of one that is there`);
  }
}

export const kdcProxyServerImpl: ResourceImpl = {
  replaceKeys: ["server", "url"],
  async check(olds, news) {
    return checkInputs(news, validateKdcProxyServerInputs, online, olds);
  },
  async diff(_id, olds, news) {
    return kdcProxyDiff(olds, validateKdcProxyServerInputs(news));
  },
  create,
  read,
  update,
  delete: del,
};

export class KdcProxyServer extends pulumi.dynamic.Resource {
  declare readonly server: pulumi.Output<string>;
  declare readonly url: pulumi.Output<string>;
  declare readonly certificateThumbprint: pulumi.Output<string>;
  declare readonly settings: pulumi.Output<SettingsMap>;
  declare readonly originals: pulumi.Output<SettingsMap>;
  declare readonly drift: pulumi.Output<string[]>;

  constructor(name: string, args: KdcProxyServerArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      thinProvider("exchange-kerberos:KdcProxyServer"),
      name,
      { ...args, resourceUrn: dynamicResourceUrn("KdcProxyServer", name, opts?.parent), pulumiStack: stackInput(), settings: undefined, originals: undefined, drift: undefined },
      deleteFirst(opts),
      "exchange-kerberos",
      "KdcProxyServer",
    );
  }
}
