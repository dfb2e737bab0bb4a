// What the resources and the doctor ask of Exchange, in their terms, on top of the operations of
// ExchangeKerberos.psm1 (whose parameters and result shapes are declared, and checked, by
// operation-table.ts). Version detection lives here: Exchange 2013 manages the Client
// Access settings with Set-ClientAccessServer, 2016/2019/SE with Set-ClientAccessService.
import { urnNow } from "../current-config";
import { causeOf, InvalidInputError, KerberosRolloutError, NotFoundError, UnreachableError, warn } from "../errors";
import type { CheckFailures } from "../check-failures";
import { declaredServers, exchangeSettings, type ExchangeOverride, type ExchangeSettings } from "../settings";
import { ExchangeCommandError, typedError } from "./error-mapping";
import type { ClientAccessNoun, OperationParams, OperationResult } from "./operation-table";
import { outlookAnywhereProblems, type OutlookAnywhereRule, type OutlookAnywhereSettings } from "./outlook-anywhere-rules";
import { Secret } from "./sealing";
import { assertTargetSessions, sessionFor, targetSessionFor, type ExchangeSession } from "./session";

export type ExchangeVersion = "2013" | "2016" | "2019" | "SE";
export type { ClientAccessNoun };

// Exchange SE's RTM build is 15.2.2562; 2019 CUs stay below it.
const SE_FIRST_BUILD = 2562;

/** "Version 15.1 (Build 2507.6)" → "2016". */
export function versionFromAdminDisplayVersion(text: string): ExchangeVersion {
  const m = /Version\s+(\d+)\.(\d+)\s*\(Build\s+(\d+)\.(\d+)\)/i.exec(text);
  if (!m) throw new ExchangeCommandError(`cannot read the Exchange version from "${text}"`, "the server must be Exchange 2013 or later");
  const [major, minor, build] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major !== 15) throw new ExchangeCommandError(`Exchange version ${major}.${minor} is not supported`, "use Exchange 2013, 2016, 2019 or SE");
  if (minor === 0) return "2013";
  if (minor === 1) return "2016";
  if (minor === 2) return build >= SE_FIRST_BUILD ? "SE" : "2019";
  throw new ExchangeCommandError(`Exchange version 15.${minor} is not known to this provider`, "upgrade pulumi-exchange-kerberos");
}

/** 2013 has only *-ClientAccessServer; from 2016 on Microsoft says to use *-ClientAccessService. */
export function clientAccessNoun(version: ExchangeVersion): ClientAccessNoun {
  return version === "2013" ? "ClientAccessServer" : "ClientAccessService";
}

// ---- the session for a server ------------------------------------------------------------------

export interface ServerHandle {
  /** The endpoint's shared sessions: every operation but the ASA's writes and password reads. */
  session: ExchangeSession;
  settings: ExchangeSettings;
  server: string;
  version: ExchangeVersion;
  noun: ClientAccessNoun;
}

export interface ServerInfo {
  name: string;
  fqdn: string;
  adminDisplayVersion: string;
  version: ExchangeVersion;
}

const infoKey = (server: string) => `server:${server.toLowerCase()}`;

/**
 * A server's name and version, asked once per endpoint and run (the promise is memoised). The
 * engine checks resources one at a time, so asking one server per check would make a preview of N
 * servers N round trips in a row: the first ask names, in the same call, every server the stack
 * declares (exchange-kerberos:servers) that this endpoint manages and nobody asked yet.
 */
export async function serverInfo(settings: ExchangeSettings, session: ExchangeSession, server: string): Promise<ServerInfo> {
  const hit = session.memo.get(infoKey(server)) as Promise<ServerInfo> | undefined;
  if (hit) return hit;
  const seen = new Set([server.toLowerCase()]);
  const names = [server];
  for (const other of declaredServers()) {
    const k = other.toLowerCase();
    if (seen.has(k) || session.memo.has(infoKey(other)) || sessionFor(settings, other) !== session) continue;
    seen.add(k);
    names.push(other);
  }
  const answer = session.call("Get-EkServerInfo", { Servers: names }, { what: names.length === 1 ? `server ${server}` : `servers ${names.join(", ")}`, idempotent: true });
  for (const name of names) {
    const info = answer.then((list): ServerInfo => {
      const d = list.find((x) => x.requested.toLowerCase() === name.toLowerCase());
      if (!d) throw new ExchangeCommandError(`Get-EkServerInfo did not answer for server ${name}`);
      if (d.errorMessage !== null) {
        throw typedError({ category: d.errorCategory ?? "", reason: d.errorReason ?? "", errorId: d.errorId ?? "", message: d.errorMessage }, `server ${name}`);
      }
      return { name: d.name, fqdn: d.fqdn, adminDisplayVersion: d.adminDisplayVersion, version: versionFromAdminDisplayVersion(d.adminDisplayVersion) };
    });
    session.memo.set(infoKey(name), info);
    info.catch(() => session.memo.delete(infoKey(name)));
  }
  return session.memo.get(infoKey(server)) as Promise<ServerInfo>;
}

const VERSIONS: readonly string[] = ["2013", "2016", "2019", "SE"];

/**
 * The shared session for `server` (from stack config plus the resource's override), version
 * detected once per session. `recorded` is the version a resource's state holds: Exchange has no
 * in-place upgrade that changes which cmdlets apply (2013 stays 2013), so read, update and delete
 * use it and spare a call per server.
 */
export async function exchangeServer(server: string, override: ExchangeOverride = {}, recorded?: unknown): Promise<ServerHandle> {
  return serverHandle(exchangeSettings(override), server, recorded);
}

/** The same from explicit settings (the doctor, which runs outside a provider's configure). */
export async function serverHandle(settings: ExchangeSettings, server: string, recorded?: unknown): Promise<ServerHandle> {
  const session = sessionFor(settings, server);
  const version = typeof recorded === "string" && VERSIONS.includes(recorded) ? (recorded as ExchangeVersion) : (await serverInfo(settings, session, server)).version;
  return { session, settings, server, version, noun: clientAccessNoun(version) };
}

/**
 * The session that runs on the handle's server itself, for what Exchange does only there: setting
 * the ASA credential and reading its passwords (Set-ClientAccessService refuses elsewhere,
 * CannotManipulateAlternateServiceAccountsRemotely). Opened to the server's FQDN with
 * TargetServer=<fqdn>, as RollAlternateServiceAccountPassword.ps1 does.
 */
async function onTarget(h: ServerHandle, what: string): Promise<ExchangeSession> {
  // Refused before any round trip when the connection cannot reach a server's own session.
  assertTargetSessions(h.settings, what);
  const info = await serverInfo(h.settings, h.session, h.server);
  return targetSessionFor(h.settings, info.fqdn || h.server, what);
}

/**
 * The online part of an Exchange resource's `check`: a server Exchange does not know, or one with
 * no session to open (a remote session goes to http://<server>/PowerShell/ unless exchangeEndpoint
 * says otherwise), fails `pulumi preview` with Exchange's own message. The session is the one the
 * operations will reuse.
 */
export async function serverExists(inputs: { server: string; exchange?: ExchangeOverride }, f: CheckFailures): Promise<void> {
  if (inputs.server === undefined) return; // not known yet (preview)
  try {
    await exchangeServer(inputs.server, inputs.exchange);
  } catch (e) {
    if (e instanceof KerberosRolloutError) f.addError("server", e, `cannot manage Exchange server ${JSON.stringify(inputs.server)}`);
    else throw e;
  }
}

/** serverExists, and the server's ASA credential can be set from here (not through the snap-in). */
export async function asaServerExists(inputs: { server: string; exchange?: ExchangeOverride }, f: CheckFailures): Promise<void> {
  try {
    assertTargetSessions(exchangeSettings(inputs.exchange), "binding the ASA credential");
  } catch (e) {
    if (e instanceof InvalidInputError) {
      f.addError(e.field ?? "exchange", e);
      return;
    }
    throw e;
  }
  await serverExists(inputs, f);
}

/** The Outlook Anywhere settings a change would leave on the server, as Set-OutlookAnywhere validates them. */
async function outlookAnywhereAfter(h: ServerHandle, change: Partial<OutlookAnywhereSettings>): Promise<OutlookAnywhereSettings> {
  const [urls, auth] = await Promise.all([readPart(h, "urls"), readPart(h, "auth")]);
  const found: OutlookAnywhereSettings = {
    internalHostname: urls.outlookAnywhere.internalHostname,
    internalClientsRequireSsl: urls.outlookAnywhere.internalClientsRequireSsl,
    internalClientAuthenticationMethod: auth.outlookAnywhere.internalClientAuthenticationMethod,
    externalHostname: urls.outlookAnywhere.externalHostname,
    externalClientsRequireSsl: urls.outlookAnywhere.externalClientsRequireSsl,
    externalClientAuthenticationMethod: auth.outlookAnywhere.externalClientAuthenticationMethod,
    sslOffloading: urls.outlookAnywhere.sslOffloading,
  };
  return { ...found, ...change };
}

const OA_FIXES: Record<OutlookAnywhereRule, (server: string) => string> = {
  OA_SSL_OFFLOADING_REQUIRED: (server) =>
    `require TLS for those clients (outlookAnywhereInternalClientsRequireSsl true, the default); only where a load balancer terminates TLS, turn SSL offloading on first: Set-OutlookAnywhere "${server}\\Rpc (Default Web Site)" -SSLOffloading $true`,
  OA_BASIC_OVER_HTTP: () => "require TLS for those clients (ClientsRequireSsl true), or declare Negotiate or Ntlm",
  OA_NO_HOSTNAME: (server) => `keep an internal host name, or set Outlook Anywhere's ExternalHostname on ${server} first`,
};

/**
 * The online part of a check for a declared Outlook Anywhere change: refused at preview, naming
 * `field`, when Set-OutlookAnywhere would refuse the settings it leaves (outlook-anywhere-rules.ts).
 */
export async function refuseOutlookAnywhereChange(inputs: { server: string; exchange?: ExchangeOverride }, change: Partial<OutlookAnywhereSettings>, field: string, f: CheckFailures): Promise<void> {
  if (inputs.server === undefined) return; // not known yet (preview)
  let after: OutlookAnywhereSettings;
  try {
    after = await outlookAnywhereAfter(await exchangeServer(inputs.server, inputs.exchange), change);
  } catch (e) {
    if (e instanceof KerberosRolloutError) f.addError(field, e, `cannot read Outlook Anywhere on ${JSON.stringify(inputs.server)}`);
    else throw e;
    return;
  }
  for (const p of outlookAnywhereProblems(after)) f.add(field, p.rule, `on ${inputs.server}, ${p.reason}`, OA_FIXES[p.rule](inputs.server));
}

// ---- a server that is gone ---------------------------------------------------------------------

/** What an Exchange resource's read and delete need to say about the server it manages. */
export interface ServerRef {
  server: string;
  /** The resource's URN, as its inputs recorded it at the last up, for the `pulumi state delete` fix. */
  resourceUrn?: string;
}

function stateDeleteFix(ref: ServerRef): string {
  // State from before resources recorded their URN names none: then only the CLI can list it.
  const urn = typeof ref.resourceUrn === "string" ? `'${urnNow(ref.resourceUrn)}'` : "<its URN, from pulumi stack --show-urns>";
  return `if ${ref.server} is decommissioned for good, remove this resource from state: pulumi state delete ${urn}`;
}

/** An unreachable server still fails read and delete, with the way out named. */
function unreachable(e: UnreachableError, ref: ServerRef): UnreachableError {
  return new UnreachableError(causeOf(e), `${e.fix ? `${e.fix}; ` : ""}${stateDeleteFix(ref)}`, { code: e.code, cause: e });
}

/**
 * `read` of an Exchange resource: when Exchange says the server or its virtual directory does not
 * exist, the resource is gone (refresh shows it deleted); an unreachable server still fails.
 */
export async function readOnServer(ref: ServerRef, fn: () => Promise<{ id?: string; props?: unknown }>): Promise<{ id?: string; props?: unknown }> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof NotFoundError) return { id: "", props: {} };
    if (e instanceof UnreachableError) throw unreachable(e, ref);
    throw e;
  }
}

/**
 * `delete` of an Exchange resource: a server (or virtual directory) Exchange says does not exist
 * is already gone, so delete succeeds with a warning; an unreachable server still fails.
 */
export async function deleteOnServer(ref: ServerRef, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof NotFoundError) {
      warn(`${ref.server}: ${what} is already gone (${causeOf(e)}); nothing to undo there`);
      return;
    }
    if (e instanceof UnreachableError) throw unreachable(e, ref);
    throw e;
  }
}

// ---- one read per server -----------------------------------------------------------------------

/** What Get-EkServerState answers: the three resources' views of one server, each part or its error. */
export type ServerState = OperationResult<"Get-EkServerState">;
type StatePart = "urls" | "asa" | "auth";
type PartOf<P extends StatePart> = NonNullable<ServerState[P]>;

/** One Get-EkServerState in flight or answered, and the parts a reader has taken from it. */
interface StateFill {
  answer: Promise<ServerState>;
  taken: Set<StatePart>;
}

/**
 * One round trip reads a server for all three Exchange resources (vdir URLs, ASA binding,
 * Negotiate): the reads that arrive together (a refresh, the doctor, discover) share it. Each part
 * is handed out once; a second read of the same part (a read after this process wrote it, or a
 * caller reading again) goes to Exchange again, so nothing is served from memory twice. The parts
 * are disjoint: a write of one (its answer is its own read-back) leaves the others as read. A part
 * Exchange could not read fails only its own reader (the ASA status needs the Remote Registry
 * service on the server; the URLs and Negotiate do not).
 */
async function readPart<P extends StatePart>(h: ServerHandle, part: P): Promise<PartOf<P>> {
  const key = `state:${h.server.toLowerCase()}`;
  let fill = h.session.memo.get(key) as StateFill | undefined;
  if (!fill || fill.taken.has(part)) {
    const answer = h.session.call("Get-EkServerState", { Server: h.server, Noun: h.noun }, { what: `server ${h.server}`, idempotent: true });
    const fresh: StateFill = { answer, taken: new Set() };
    h.session.memo.set(key, fresh);
    answer.catch(() => {
      if (h.session.memo.get(key) === fresh) h.session.memo.delete(key);
    });
    fill = fresh;
  }
  fill.taken.add(part);
  const state = await fill.answer;
  const error = state[`${part}Error` as `${P}Error`];
  if (error) throw typedError(error, `server ${h.server}`);
  const value = state[part];
  if (value === null) throw new ExchangeCommandError(`Get-EkServerState answered no ${part} for server ${h.server}`);
  return value as PartOf<P>;
}

/** After a write of `part`, the next read of it goes to Exchange. */
function written(h: ServerHandle, part: StatePart): void {
  (h.session.memo.get(`state:${h.server.toLowerCase()}`) as StateFill | undefined)?.taken.add(part);
}

// ---- virtual directory URLs --------------------------------------------------------------------

export const VDIR_KINDS = ["owa", "ecp", "ews", "oab", "activeSync", "mapi"] as const;
export type VdirKind = (typeof VDIR_KINDS)[number];

/** The URLs part of Get-EkServerState (Set-EkVdirUrls answers the same). */
export type VdirUrlsState = PartOf<"urls">;
export type VdirUrls = VdirUrlsState[VdirKind];
export type OutlookAnywhereHost = Pick<VdirUrlsState["outlookAnywhere"], "internalHostname" | "internalClientsRequireSsl">;

/** A change: a present property is set (null clears it), an absent one is left alone. */
export type VdirUrlsChange = Partial<Record<VdirKind, Partial<VdirUrls>>> & {
  autodiscoverInternalUri?: string | null;
  outlookAnywhere?: OutlookAnywhereHost;
};

const PS_KEY = { owa: "Owa", ecp: "Ecp", ews: "Ews", oab: "Oab", activeSync: "ActiveSync", mapi: "Mapi" } as const satisfies Record<VdirKind, keyof OperationParams<"Set-EkVdirUrls">>;

export async function getVdirUrls(h: ServerHandle): Promise<VdirUrlsState> {
  return readPart(h, "urls");
}

export async function setVdirUrls(h: ServerHandle, change: VdirUrlsChange): Promise<VdirUrlsState> {
  const params: OperationParams<"Set-EkVdirUrls"> = { Server: h.server, Noun: h.noun };
  for (const k of VDIR_KINDS) {
    const c = change[k];
    if (!c) continue;
    const v: { InternalUrl?: string | null; ExternalUrl?: string | null } = {};
    if ("internalUrl" in c) v.InternalUrl = c.internalUrl;
    if ("externalUrl" in c) v.ExternalUrl = c.externalUrl;
    if (Object.keys(v).length > 0) params[PS_KEY[k]] = v;
  }
  if ("autodiscoverInternalUri" in change) params.AutodiscoverInternalUri = change.autodiscoverInternalUri;
  if (change.outlookAnywhere) {
    params.OutlookAnywhere = { InternalHostname: change.outlookAnywhere.internalHostname, InternalClientsRequireSsl: change.outlookAnywhere.internalClientsRequireSsl };
  }
  written(h, "urls");
  return h.session.call("Set-EkVdirUrls", params, { what: `server ${h.server}`, idempotent: true });
}

// ---- ASA credential ----------------------------------------------------------------------------

export interface AsaCredentialStatus {
  account: string;
  /** ISO 8601, UTC. */
  whenAddedUtc: string;
}

/**
 * Where AlternateServiceAccountConfiguration arrives as its display text rather than an object (a
 * session without serializationLevel=Full serializes the nested object as its ToString()), the
 * credentials are read from it: "Latest: <date>, DOMAIN\ASA$" and "Previous: …". The session's
 * culture is pinned to en-US (SESSION_CULTURE), which is the only wording and date format read
 * here. ⚠ The date is the server's local time (the credential's WhenAdded), whose offset the text
 * does not say: it is read as UTC, so that it reads the same wherever the provider runs.
 */
export function parseAsaDisplay(raw: string): AsaCredentialStatus[] {
  const out: AsaCredentialStatus[] = [];
  // en-US's general date and long time (M/d/yyyy h:mm:ss tt), then DOMAIN\NAME$.
  const re = /(?:Latest|Previous):\s*(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: ([AP]M))?,\s*([^\s,\\]+\\[^\s,]+)/g;
  for (let m = re.exec(raw); m; m = re.exec(raw)) {
    const [month, day, year, hour, minute, second] = m.slice(1, 7).map(Number);
    const h24 = m[7] === undefined ? hour : (hour % 12) + (m[7] === "PM" ? 12 : 0);
    out.push({ account: m[8], whenAddedUtc: new Date(Date.UTC(year, month - 1, day, h24, minute, second)).toISOString() });
  }
  return out;
}

/** An ISO 8601 UTC time when Date.parse can read it; else the text as given. */
function isoTime(text: string): string {
  const t = Date.parse(text);
  return Number.isNaN(t) ? text : new Date(t).toISOString();
}

function latestFirst<T extends { whenAddedUtc: string }>(list: T[]): T[] {
  return list.sort((a, b) => (a.whenAddedUtc < b.whenAddedUtc ? 1 : a.whenAddedUtc > b.whenAddedUtc ? -1 : 0));
}

/**
 * The credentials of an ASA status answer. Display text that holds no credential the en-US reading
 * finds is an error, never "no credential": read would otherwise mark the binding deleted, and a
 * bind would fail after its write.
 */
export function asaCredentialsOf(d: { credentials: { account: string; whenAddedUtc: string }[]; raw: string }, server: string): AsaCredentialStatus[] {
  if (d.credentials.length > 0) return latestFirst(d.credentials.map((c) => ({ account: c.account, whenAddedUtc: isoTime(c.whenAddedUtc) })));
  const raw = d.raw.trim();
  if (raw === "") return [];
  const parsed = parseAsaDisplay(raw);
  if (parsed.length > 0 || /^Latest:\s*<not set>,\s*Previous:\s*<not set>/i.test(raw)) return latestFirst(parsed);
  throw new ExchangeCommandError(
    `the ASA status of ${server} arrived as display text that cannot be read: ${JSON.stringify(raw.slice(0, 200))}`,
    "check that the session runs with serializationLevel=Full and culture en-US (the provider opens it so); run Get-ClientAccessService -IncludeAlternateServiceAccountCredentialStatus on the server to see what it holds",
    { code: "ASA_STATUS_UNREADABLE" },
  );
}

function asaState(d: PartOf<"asa">, server: string): AsaCredentialStatus[] {
  return asaCredentialsOf(d, server);
}

/** The credentials the server holds, latest first. */
export async function getAsaCredentials(h: ServerHandle): Promise<AsaCredentialStatus[]> {
  return asaState(await readPart(h, "asa"), h.server);
}

export interface AsaCredentialProof extends AsaCredentialStatus {
  /** The credential's password is the one asked about (compared on the server). */
  holdsPassword: boolean;
}

/** Which of the server's credentials hold `password`, latest first (doctor check 6). The password
 * travels sealed, and only true/false per credential comes back. */
export async function testAsaCredentials(h: ServerHandle, password: string): Promise<AsaCredentialProof[]> {
  const session = await onTarget(h, "comparing the server's ASA passwords");
  const d = await session.call("Test-EkAsaCredential", { Server: h.server, Noun: h.noun, Password: new Secret(password) }, { what: `server ${h.server}`, idempotent: true });
  if (d.credentials.length === 0 && d.raw.trim() !== "") {
    // Display text holds no password to compare: the caller judges by the credentials' times.
    throw new ExchangeCommandError(`the ASA configuration of ${h.server} arrived as display text, without the credentials' passwords`, undefined, { code: "ASA_STATUS_UNREADABLE" });
  }
  return latestFirst(d.credentials.map((c) => ({ ...c, whenAddedUtc: isoTime(c.whenAddedUtc) })));
}

/**
 * Sets the server's ASA credentials to exactly `password` (latest) and, when given and different,
 * `currentPassword`: the one AD holds now, kept so that tickets for AD's current key still decrypt
 * until AD's password changes. Explicit, so repeating it gives the same result (retried when the
 * session dies) and no sequence of failed rotations can leave a server without AD's password.
 */
export async function setAsaCredentials(h: ServerHandle, account: string, password: string, currentPassword?: string): Promise<AsaCredentialStatus[]> {
  const params: OperationParams<"Set-EkAsaCredential"> = { Server: h.server, Noun: h.noun, Account: account, Password: new Secret(password) };
  if (currentPassword !== undefined && currentPassword !== password) params.CurrentPassword = new Secret(currentPassword);
  const session = await onTarget(h, "binding the ASA credential");
  written(h, "asa");
  return asaState(
    await session.call("Set-EkAsaCredential", params, {
      what: `server ${h.server} (ASA ${account})`,
      idempotent: true,
    }),
    h.server,
  );
}

/** Removal needs no password, so Exchange does it from any server (through the Remote Registry service of the target). */
export async function removeAsaCredentials(h: ServerHandle): Promise<AsaCredentialStatus[]> {
  written(h, "asa");
  return asaState(await h.session.call("Remove-EkAsaCredential", { Server: h.server, Noun: h.noun }, { what: `server ${h.server}`, idempotent: true }), h.server);
}

// ---- Outlook Anywhere and MAPI authentication --------------------------------------------------

/** The authentication part of Get-EkServerState (Set-EkOutlookAuth answers the same). */
export type OutlookAuthState = PartOf<"auth">;

export interface OutlookAuthChange {
  outlookAnywhere?: {
    internalClientAuthenticationMethod?: string;
    externalClientAuthenticationMethod?: string;
    iisAuthenticationMethods?: string[];
  };
  mapi?: { iisAuthenticationMethods?: string[] };
}

export async function getOutlookAuth(h: ServerHandle): Promise<OutlookAuthState> {
  return readPart(h, "auth");
}

export async function setOutlookAuth(h: ServerHandle, change: OutlookAuthChange): Promise<OutlookAuthState> {
  const params: OperationParams<"Set-EkOutlookAuth"> = { Server: h.server };
  const oa = change.outlookAnywhere;
  if (oa) {
    const v: NonNullable<OperationParams<"Set-EkOutlookAuth">["OutlookAnywhere"]> = {};
    if (oa.internalClientAuthenticationMethod !== undefined) v.InternalClientAuthenticationMethod = oa.internalClientAuthenticationMethod;
    if (oa.externalClientAuthenticationMethod !== undefined) v.ExternalClientAuthenticationMethod = oa.externalClientAuthenticationMethod;
    if (oa.iisAuthenticationMethods !== undefined) v.IISAuthenticationMethods = oa.iisAuthenticationMethods;
    if (Object.keys(v).length > 0) params.OutlookAnywhere = v;
  }
  if (change.mapi?.iisAuthenticationMethods !== undefined) params.Mapi = { IISAuthenticationMethods: change.mapi.iisAuthenticationMethods };
  written(h, "auth");
  return h.session.call("Set-EkOutlookAuth", params, { what: `server ${h.server}`, idempotent: true });
}
