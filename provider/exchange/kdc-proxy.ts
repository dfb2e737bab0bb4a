// Typed calls to the KDC proxy operations of ExchangeKerberos.psm1 (Get-EkKdcProxy,
// Set-EkKdcProxy, declared in operation-table.ts): the KDC Proxy Server service (KPSSVC) on a named
// Windows server, reached from the PowerShell process of an Exchange session with Invoke-Command
// (the module says why). Here the table's wire forms become the resource's types.
import { exchangeSettings, type ExchangeOverride } from "../settings";
import { ExchangeCommandError } from "./error-mapping";
import { sessionFor, type ExchangeSession } from "./session";
import type { OperationParams, OperationResult } from "./operation-table";

/** A KPSSVC Settings DWORD as the module passes it: "0", "1", or null when the value is absent. */
export type RegistryFlag = "0" | "1" | null;

export interface SslBinding {
  /** The certificate's SHA-1 thumbprint, 40 upper-case hex digits. */
  certHash: string;
  /** The owning application's GUID, `{…}` in lower case. */
  appId: string;
}

export interface KdcProxyState {
  /** Get-Service's Status (Running, Stopped, …) and StartType (Automatic, Manual, Disabled). */
  status: string;
  startType: string;
  httpsClientAuth: RegistryFlag;
  disallowUnprotectedPasswordAuth: RegistryFlag;
  urlReserved: boolean;
  sslBinding: SslBinding | null;
  /** The thumbprint asked about is in Cert:\LocalMachine\My (false when none was asked about). */
  certificateFound: boolean;
}

/** A change: a present property is set (a null flag removes the value, a null binding deletes it). */
export interface KdcProxyChange {
  httpsClientAuth?: RegistryFlag;
  disallowUnprotectedPasswordAuth?: RegistryFlag;
  urlReserved?: boolean;
  sslBinding?: SslBinding | null;
  startType?: "Automatic" | "Manual" | "Disabled";
  status?: "Running" | "Stopped";
}

/** Where a KDC proxy server's commands run: its name, the URL reserved, the IP:port bound. */
export interface KdcProxyTarget {
  server: string;
  url: string;
  ipPort: string;
}

/**
 * The session that reaches `server`: the Exchange endpoint the stack configures, else `via` (an
 * Exchange server), else the server itself when it is an Exchange server too.
 */
export function kdcProxySession(server: string, via: string | undefined, override: ExchangeOverride = {}): ExchangeSession {
  return sessionFor(exchangeSettings(override), via ?? server);
}

function flag(x: unknown): RegistryFlag {
  if (x === null || x === undefined || x === "") return null;
  const s = String(x);
  if (s === "0" || s === "1") return s;
  throw new ExchangeCommandError(`the KPSSVC setting is ${JSON.stringify(x)}, not 0 or 1`, "set it to 0 or 1 by hand, or remove the value, and run again");
}

/** A binding as it travels both ways: "<40 hex digits> {<guid>}", or null for none. */
export function parseSslBinding(x: unknown): SslBinding | null {
  if (x === null || x === undefined || x === "") return null;
  const m = /^([0-9A-Fa-f]{40}) (\{[0-9A-Fa-f-]{36}\})$/.exec(String(x));
  if (!m) throw new ExchangeCommandError(`the certificate binding came back as ${JSON.stringify(x)}, not a thumbprint and an {application id}`);
  return { certHash: m[1].toUpperCase(), appId: m[2].toLowerCase() };
}

export function kdcProxyState(d: OperationResult<"Get-EkKdcProxy">): KdcProxyState {
  return {
    status: d.status,
    startType: d.startType,
    httpsClientAuth: flag(d.httpsClientAuth),
    disallowUnprotectedPasswordAuth: flag(d.disallowUnprotectedPasswordAuth),
    urlReserved: d.urlReserved,
    sslBinding: parseSslBinding(d.sslBinding),
    certificateFound: d.certificateFound,
  };
}

export async function getKdcProxy(session: ExchangeSession, t: KdcProxyTarget, thumbprint = ""): Promise<KdcProxyState> {
  return kdcProxyState(await session.call("Get-EkKdcProxy", { Server: t.server, Url: t.url, IpPort: t.ipPort, Thumbprint: thumbprint }, { what: `KDC proxy server ${t.server}`, idempotent: true }));
}

/** `owner`: the application id whose binding the change may replace or delete (the resource's own). */
export async function setKdcProxy(session: ExchangeSession, t: KdcProxyTarget, change: KdcProxyChange, owner: string): Promise<KdcProxyState> {
  const params: OperationParams<"Set-EkKdcProxy"> = { Server: t.server, Url: t.url, IpPort: t.ipPort };
  if ("httpsClientAuth" in change) params.HttpsClientAuth = change.httpsClientAuth;
  if ("disallowUnprotectedPasswordAuth" in change) params.DisallowUnprotectedPasswordAuth = change.disallowUnprotectedPasswordAuth;
  if (change.urlReserved !== undefined) params.UrlReserved = change.urlReserved;
  if ("sslBinding" in change) {
    params.SslBinding = change.sslBinding ? `${change.sslBinding.certHash} ${change.sslBinding.appId}` : null;
    params.SslBindingOwner = owner;
  }
  if (change.startType !== undefined) params.StartType = change.startType;
  if (change.status !== undefined) params.Status = change.status;
  // Every step looks first and sets exactly the given state: safe to send again.
  return kdcProxyState(await session.call("Set-EkKdcProxy", params, { what: `KDC proxy server ${t.server}`, idempotent: true }));
}
