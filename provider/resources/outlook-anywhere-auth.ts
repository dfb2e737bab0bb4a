// OutlookAnywhereAuth: Negotiate for Outlook on one Exchange server (step 7 of the how-to):
// Outlook Anywhere's internal (and, when declared, external) client authentication method and its
// IIS authentication methods, and the MAPI virtual directory's IIS authentication methods. An IIS
// list not declared in full is merged: Negotiate is added and everything found is kept — OAuth on
// MAPI (hybrid, and the 2016+ default Ntlm,OAuth,Negotiate) must never be wiped. The values found
// before create are kept in state and restored on delete.
import * as pulumi from "@pulumi/pulumi";
import { deleteFirst, dynamicResourceUrn, stackInput } from "../owner";
import { InvalidInputError, warn } from "../errors";
import type { ExchangeOverride } from "../settings";
import { bool, oneOf } from "../validate";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs, partialCreate } from "./dynamic";
import { carryOriginals, changedKeys, describeDrift, exchangeServerName, pick, sameServer, type SettingsMap, resourceUrnInput } from "../exchange/inputs";
import { exchangeServer, getOutlookAuth, setOutlookAuth, type OutlookAuthChange, type OutlookAuthState, serverExists, deleteOnServer, readOnServer, refuseOutlookAnywhereChange } from "../exchange/operations";
import { exchangeOverride } from "../overrides";
import { keptOrigin, noteLegacyOrigin, OnDestroy, onDestroyInput, Origin, originOf, recordedOrigin, refuseIfHeld, releasedOnDestroy, replacedProps } from "./lifecycle";

/** Set-OutlookAnywhere's client authentication methods (Microsoft's cmdlet reference). */
export const CLIENT_AUTH_METHODS = ["Basic", "Ntlm", "Negotiate"] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];
export const OA_IIS_METHODS = ["Basic", "Ntlm", "Negotiate"] as const;
export const MAPI_IIS_METHODS = ["Basic", "Ntlm", "Negotiate", "OAuth"] as const;

export interface OutlookAnywhereAuthArgs {
  /** The Exchange server (EX1 or its FQDN). Changing it replaces the resource. */
  server: pulumi.Input<string>;
  /** Default Negotiate. */
  internalClientAuthenticationMethod?: pulumi.Input<ClientAuthMethod>;
  /** Left alone unless declared. */
  externalClientAuthenticationMethod?: pulumi.Input<ClientAuthMethod>;
  /** Outlook Anywhere's IIS methods, in full; absent: Negotiate added to what the server has. */
  iisAuthenticationMethods?: pulumi.Input<pulumi.Input<string>[]>;
  /** The MAPI virtual directory's IIS methods, in full; absent: Negotiate added, OAuth and the rest kept. */
  mapiIisAuthenticationMethods?: pulumi.Input<pulumi.Input<string>[]>;
  /** Taken over with a rollout done by hand (the site's adopt): destroy leaves the methods as they
   * are (released) unless onDestroy is delete; without it, destroy puts back what create found. */
  adopt?: pulumi.Input<boolean>;
  onDestroy?: pulumi.Input<OnDestroy>;
  /**
   * The ASA's AsaComputerAccount `origin` output: Negotiate is worth offering only while the ASA,
   * its SPNs and credentials stay, so destroy releases these settings exactly when it releases the
   * ASA, and puts back what it found when it deletes the ASA.
   */
  accountOrigin?: pulumi.Input<string>;
  exchange?: pulumi.Input<ExchangeOverride>;
}

interface Inputs {
  server: string;
  internalClientAuthenticationMethod: ClientAuthMethod;
  externalClientAuthenticationMethod?: ClientAuthMethod;
  iisAuthenticationMethods?: string[];
  mapiIisAuthenticationMethods?: string[];
  adopt: boolean;
  onDestroy?: OnDestroy;
  accountOrigin?: Origin;
  exchange?: ExchangeOverride;
  /** This resource's URN, for the fix when its server cannot be reached on read or delete. */
  resourceUrn?: string;
}

export interface OutlookAnywhereAuthOutputs extends Inputs {
  version: string;
  /** The managed settings as last found on the server. */
  settings: SettingsMap;
  /** The managed settings as found before create: restored on delete. */
  originals: SettingsMap;
  drift: string[];
  /** Created (restored on destroy) or adopted (released on destroy): lifecycle.ts. Absent in older state. */
  origin?: Origin;
}

const K = {
  internal: "outlookAnywhere.internalClientAuthenticationMethod",
  external: "outlookAnywhere.externalClientAuthenticationMethod",
  oaIis: "outlookAnywhere.iisAuthenticationMethods",
  mapiIis: "mapi.iisAuthenticationMethods",
} as const;

function methodList(field: string, value: unknown, allowed: readonly string[]): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidInputError(field, "must be a non-empty list", `list the methods from ${allowed.join(", ")}, or leave it out to add Negotiate to what the server has`, { code: "VALUE_EMPTY" });
  }
  const out = value.map((v, i) => oneOf(`${field}[${i}]`, v, allowed));
  const dup = out.find((v, i) => out.indexOf(v) !== i);
  if (dup) throw new InvalidInputError(field, `lists ${dup} twice`, "list each method once", { code: "DUPLICATE_VALUE" });
  return out;
}

export function validateOutlookAuthInputs(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("server", () => (out.server = exchangeServerName("server", news.server)));
  f.guard("internalClientAuthenticationMethod", () => (out.internalClientAuthenticationMethod = oneOf("internalClientAuthenticationMethod", news.internalClientAuthenticationMethod ?? "Negotiate", CLIENT_AUTH_METHODS)));
  if (news.externalClientAuthenticationMethod !== undefined && news.externalClientAuthenticationMethod !== null) {
    f.guard("externalClientAuthenticationMethod", () => (out.externalClientAuthenticationMethod = oneOf("externalClientAuthenticationMethod", news.externalClientAuthenticationMethod, CLIENT_AUTH_METHODS)));
  }
  f.guard("iisAuthenticationMethods", () => (out.iisAuthenticationMethods = methodList("iisAuthenticationMethods", news.iisAuthenticationMethods, OA_IIS_METHODS)));
  f.guard("mapiIisAuthenticationMethods", () => (out.mapiIisAuthenticationMethods = methodList("mapiIisAuthenticationMethods", news.mapiIisAuthenticationMethods, MAPI_IIS_METHODS)));
  f.guard("adopt", () => (out.adopt = bool("adopt", news.adopt, false)));
  f.guard("onDestroy", () => (out.onDestroy = onDestroyInput("onDestroy", news.onDestroy)));
  out.accountOrigin = recordedOrigin(news.accountOrigin);
  f.guard("exchange", () => (out.exchange = exchangeOverride("exchange", news.exchange)));
  out.resourceUrn = resourceUrnInput(news.resourceUrn);
  if (!failures) f.throwFirst();
  return out as Inputs;
}

/** Negotiate added to what is there, in the server's order, nothing removed. */
export function withNegotiate(found: readonly string[]): string[] {
  return found.some((m) => m.toLowerCase() === "negotiate") ? [...found] : [...found, "Negotiate"];
}

export function flattenOutlookAuth(state: OutlookAuthState): SettingsMap {
  return {
    [K.internal]: state.outlookAnywhere.internalClientAuthenticationMethod,
    [K.external]: state.outlookAnywhere.externalClientAuthenticationMethod,
    [K.oaIis]: state.outlookAnywhere.iisAuthenticationMethods,
    [K.mapiIis]: state.mapi.iisAuthenticationMethods,
  };
}

/** The declared settings; a list not declared in full is the found list with Negotiate added. */
export function declaredOutlookAuth(inputs: Inputs, found: Partial<SettingsMap>): SettingsMap {
  const list = (k: string) => (Array.isArray(found[k]) ? (found[k] as string[]) : []);
  const s: SettingsMap = { [K.internal]: inputs.internalClientAuthenticationMethod };
  if (inputs.externalClientAuthenticationMethod !== undefined) s[K.external] = inputs.externalClientAuthenticationMethod;
  s[K.oaIis] = inputs.iisAuthenticationMethods ?? withNegotiate(list(K.oaIis));
  s[K.mapiIis] = inputs.mapiIisAuthenticationMethods ?? withNegotiate(list(K.mapiIis));
  return s;
}

/** The change that sets `settings`; only the keys present are touched. */
export function outlookAuthChange(settings: SettingsMap): OutlookAuthChange {
  const oa: NonNullable<OutlookAuthChange["outlookAnywhere"]> = {};
  if (typeof settings[K.internal] === "string") oa.internalClientAuthenticationMethod = settings[K.internal] as string;
  if (typeof settings[K.external] === "string") oa.externalClientAuthenticationMethod = settings[K.external] as string;
  if (Array.isArray(settings[K.oaIis])) oa.iisAuthenticationMethods = settings[K.oaIis] as string[];
  const c: OutlookAuthChange = {};
  if (Object.keys(oa).length > 0) c.outlookAnywhere = oa;
  if (Array.isArray(settings[K.mapiIis])) c.mapi = { iisAuthenticationMethods: settings[K.mapiIis] as string[] };
  return c;
}

export function outlookAuthDiff(olds: Partial<OutlookAnywhereAuthOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces = sameServer(olds.server ?? "", news.server) ? [] : ["server"];
  const found = olds.settings ?? {};
  const declared = declaredOutlookAuth(news, found);
  const dropped = Object.keys(found).filter((k) => !(k in declared));
  const declaredLists = JSON.stringify([olds.iisAuthenticationMethods ?? null, olds.mapiIisAuthenticationMethods ?? null]) !== JSON.stringify([news.iisAuthenticationMethods ?? null, news.mapiIisAuthenticationMethods ?? null]);
  const override = JSON.stringify(olds.exchange ?? {}) !== JSON.stringify(news.exchange ?? {});
  const recorded = (olds.onDestroy ?? undefined) !== news.onDestroy;
  const changes = replaces.length > 0 || changedKeys(declared, found).length > 0 || dropped.length > 0 || declaredLists || override || recorded;
  return { changes, replaces, deleteBeforeReplace: false };
}

async function create(raw: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const inputs = validateOutlookAuthInputs(raw);
  const h = await exchangeServer(inputs.server, inputs.exchange);
  refuseIfHeld(raw, "OutlookAnywhereAuth", `the authentication methods of ${inputs.server}`, (o) => typeof o.server === "string" && sameServer(o.server, inputs.server));
  const before = flattenOutlookAuth(await getOutlookAuth(h));
  const declared = declaredOutlookAuth(inputs, before);
  const keys = Object.keys(declared);
  // A replacement deleted first keeps what its predecessor found before the stack (lifecycle.ts).
  const replaced = replacedProps(raw);
  const found = (replaced?.originals ?? {}) as SettingsMap;
  const originals = { ...pick(before, keys), ...pick(found, keys.filter((k) => k in found)) };
  const kept = { origin: (replaced?.origin as Origin | undefined) ?? originOf(inputs.adopt) };
  const id = `${inputs.server.toLowerCase()}/outlook-anywhere-auth`;
  // A server that already offers what is declared (a rollout done by hand, taken over) is left
  // untouched: taking it over changes nothing on it.
  if (keys.every((k) => JSON.stringify(before[k] ?? null) === JSON.stringify(declared[k] ?? null))) {
    return { id, outs: { ...inputs, version: h.version, settings: pick(before, keys), originals, drift: [], ...kept } };
  }
  let settings: SettingsMap;
  try {
    settings = pick(flattenOutlookAuth(await setOutlookAuth(h, outlookAuthChange(declared))), keys);
  } catch (e) {
    // Some settings may be changed already: keep what they were before, for the update and the restore.
    throw partialCreate(e, id, { ...inputs, version: h.version, settings: pick(before, keys), originals, drift: [`${inputs.server}: the authentication methods were being set when this failed`], ...kept });
  }
  const outs: OutlookAnywhereAuthOutputs = { ...inputs, version: h.version, settings, originals, drift: describeDrift(inputs.server, declared, settings), ...kept };
  return { id, outs };
}

async function read(id: string, props: OutlookAnywhereAuthOutputs): Promise<pulumi.dynamic.ReadResult> {
  return readOnServer(props, async () => {
    const h = await exchangeServer(props.server, props.exchange, props.version);
    const all = flattenOutlookAuth(await getOutlookAuth(h));
    const found = pick(all, Object.keys(props.settings ?? all));
    return { id, props: { ...props, version: h.version, settings: found, drift: describeDrift(props.server, declaredOutlookAuth(props, found), found) } };
  });
}

async function update(_id: string, olds: OutlookAnywhereAuthOutputs, raw: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const news = validateOutlookAuthInputs(raw);
  const h = await exchangeServer(news.server, news.exchange, olds.version);
  const current = flattenOutlookAuth(await getOutlookAuth(h));
  const declared = declaredOutlookAuth(news, current);
  const { originals, restore } = carryOriginals(olds.originals, declared, current);
  if (Object.keys(restore).length > 0) await setOutlookAuth(h, outlookAuthChange(restore));
  const keys = Object.keys(declared);
  const settings = pick(flattenOutlookAuth(await setOutlookAuth(h, outlookAuthChange(declared))), keys);
  return { outs: { ...news, version: h.version, settings, originals, drift: describeDrift(news.server, declared, settings), ...keptOrigin(olds as unknown as Record<string, unknown>) } };
}

async function del(_id: string, props: OutlookAnywhereAuthOutputs): Promise<void> {
  if (releasedOnDestroy({ origin: props.accountOrigin ?? props.origin, onDestroy: props.onDestroy })) {
    warn(`${props.server}: its Outlook Anywhere and MAPI authentication were taken over with the site: released, left as they are`);
    return;
  }
  await deleteOnServer(props, "the server or its virtual directories", async () => setOutlookAuth(await exchangeServer(props.server, props.exchange, props.version), outlookAuthChange(props.originals ?? {})));
}

/** Basic declared for a side: refused at preview where those clients are not required to use TLS. */
async function online(inputs: Inputs, f: CheckFailures): Promise<void> {
  await serverExists(inputs, f);
  if (f.failures.length > 0) return;
  const internal = inputs.internalClientAuthenticationMethod;
  const external = inputs.externalClientAuthenticationMethod;
  if (internal === "Basic") await refuseOutlookAnywhereChange(inputs, { internalClientAuthenticationMethod: internal }, "internalClientAuthenticationMethod", f);
  if (external === "Basic") await refuseOutlookAnywhereChange(inputs, { externalClientAuthenticationMethod: external }, "externalClientAuthenticationMethod", f);
}

export const outlookAnywhereAuthImpl: ResourceImpl = {
  replaceKeys: ["server"],
  async check(_olds, news) {
    return checkInputs(news, validateOutlookAuthInputs, online);
  },
  async diff(_id, olds, news) {
    noteLegacyOrigin(olds);
    return outlookAuthDiff(olds, validateOutlookAuthInputs(news));
  },
  create,
  read,
  update,
  delete: del,
};

export class OutlookAnywhereAuth extends pulumi.dynamic.Resource {
  declare readonly server: pulumi.Output<string>;
  declare readonly internalClientAuthenticationMethod: pulumi.Output<string>;
  declare readonly version: pulumi.Output<string>;
  declare readonly settings: pulumi.Output<SettingsMap>;
  declare readonly originals: pulumi.Output<SettingsMap>;
  declare readonly drift: pulumi.Output<string[]>;

  constructor(name: string, args: OutlookAnywhereAuthArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      thinProvider("exchange-kerberos:OutlookAnywhereAuth"),
      name,
      { ...args,
        resourceUrn: dynamicResourceUrn("OutlookAnywhereAuth", name, opts?.parent), pulumiStack: stackInput(), version: undefined, settings: undefined, originals: undefined, drift: undefined },
      deleteFirst(opts),
      "exchange-kerberos",
      "OutlookAnywhereAuth",
    );
  }
}
