// From what `discover` read (facts.ts) to a site config and what the first `pulumi up` of it will
// do. Pure: no I/O. Where the servers disagree the proposal follows the majority, and every
// disagreement is reported with the doctor's code (docs/reference/doctor.md) and what `up` would change.
import { DEFAULT_TTL } from "../resources/dns-record";
import { declaredSettings, flattenVdirUrls, validateVdirUrlsInputs } from "../resources/exchange-virtual-directory-urls";
import { declaredOutlookAuth, flattenOutlookAuth, validateOutlookAuthInputs } from "../resources/outlook-anywhere-auth";
import { AES_TYPES, DEFAULT_ENCRYPTION_TYPES } from "../ldap/account-bits";
import { DiscoveredFacts, ServerFacts } from "./facts";
import type { DoctorCode } from "../doctor/codes";

export interface DiscoverFinding {
  /** The doctor's stable code (SERVER_NO_ASA, SERVER_WRONG_ASA, SPN_WRONG_ACCOUNT, URL_NOT_NAMESPACE…): doctor/codes.ts. */
  code: DoctorCode;
  /** A server, an SPN, the ASA or the namespace. */
  subject: string;
  cause: string;
  /** What the first `pulumi up` of the proposed config does about it. */
  upWill: string;
}

/** The site settings proposed (the keys of site-config.ts), as the stack file holds them. */
export interface ProposedSite {
  namespace: string;
  servers: string[];
  dnsZone?: string;
  dnsAddresses?: string[];
  dnsTtl?: number;
  asaName: string;
  asaOu: string;
  asaEncryptionTypes: number;
  extraSpnNames: string[];
  adopt: true;
}

export interface Proposal {
  site: ProposedSite;
  findings: DiscoverFinding[];
  /** What the first `pulumi up` changes, one line each, in the order it does it. */
  plan: string[];
  /** What it takes over as it is. */
  unchanged: string[];
}

export class DiscoverError extends Error {}

/** The host of a URL, lowercased; undefined when there is none. */
export function hostOf(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/** The most frequent value (ties: the first seen), or undefined for an empty list. */
export function majority<T>(values: T[], key: (v: T) => string = String): T | undefined {
  const counts = new Map<string, { v: T; n: number }>();
  for (const v of values) {
    const k = key(v);
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { v, n: 1 });
  }
  let best: { v: T; n: number } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  return best?.v;
}

/** The namespace one server's URLs are on: the most frequent host among those Outlook uses
 * (MAPI, EWS, OAB, Outlook Anywhere's internal host name), then the rest. */
export function serverNamespace(s: ServerFacts): string | undefined {
  if (!s.urls) return undefined;
  const u = s.urls;
  const outlook = [hostOf(u.mapi.internalUrl), hostOf(u.ews.internalUrl), hostOf(u.oab.internalUrl), u.outlookAnywhere.internalHostname?.toLowerCase() ?? undefined];
  const rest = [hostOf(u.owa.internalUrl), hostOf(u.ecp.internalUrl), hostOf(u.activeSync.internalUrl)];
  return majority(outlook.filter((h): h is string => !!h)) ?? majority(rest.filter((h): h is string => !!h));
}

/** The account a credential names: `CORP\EXCH-ASA$` → `EXCH-ASA`. */
export function accountName(qualified: string): string {
  return qualified.replace(/^[^\\]*\\/, "").replace(/\$$/, "").toUpperCase();
}

/** What the servers agree on, by majority: the namespace their URLs are on (unless given) and the
 * ASA whose credential they hold (the latest one each; unless none holds one: then the given name). */
export function majorityChoice(servers: ServerFacts[], given: { namespace?: string; asaName?: string }): { namespace?: string; credentialOf?: string; asaName?: string } {
  const namespace = given.namespace?.toLowerCase() ?? majority(servers.map(serverNamespace).filter((n): n is string => !!n));
  const credentialOf = majority(servers.map((s) => s.credentials[0]?.account).filter((a): a is string => !!a), (a) => a.toLowerCase());
  return { namespace, credentialOf, asaName: credentialOf ? accountName(credentialOf) : given.asaName?.toUpperCase() };
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function show(v: unknown): string {
  return v === null || v === undefined ? "empty" : Array.isArray(v) ? v.join(",") : String(v);
}

/** The site config and findings for `facts`; throws DiscoverError when there is nothing to propose. */
export function propose(facts: DiscoveredFacts): Proposal {
  const findings: DiscoverFinding[] = [];
  const plan: string[] = [];
  const unchanged: string[] = [];
  const readable = facts.servers.filter((s) => !s.error);
  for (const s of facts.servers.filter((x) => x.error)) {
    findings.push({ code: "EXCHANGE_UNREACHABLE", subject: s.server, cause: `${s.server} could not be read: ${s.error}`, upWill: "nothing: it is left out of the proposed servers; add it once it can be read" });
  }
  if (readable.length === 0) {
    // One cause for all (no WSMan client, ssh refused): say it once, with its fix, as the doctor does.
    const first = facts.servers[0];
    const same = first?.fix !== undefined && facts.servers.every((s) => s.fix === first.fix);
    throw new DiscoverError(same ? `no Exchange server could be read: ${first.error}. Fix: ${first.fix}` : "no Exchange server could be read; check the Exchange connection settings and --servers");
  }
  const namespace = facts.namespace;
  if (!namespace) throw new DiscoverError("no namespace found in the servers' URLs; give it with --namespace FQDN");

  // The ASA: the majority of the servers' latest credentials.
  const account = facts.account;
  const asaQualified = account?.qualifiedName ?? facts.accountMissing;
  if (!account) {
    throw new DiscoverError(
      facts.accountMissing
        ? `the servers hold the credential of ${facts.accountMissing}, which is not in the directory (ASA_MISSING); create the account or give --asa-name and --asa-ou of the one to use`
        : "no server holds an ASA credential (SERVER_NO_ASA on every server) and no --asa-name was given: there is no rollout to take over; write the stack file by hand (docs/guides/roll-out-a-site.md)",
    );
  }
  // An ASA that is not a computer account (a user, a managed service account): Microsoft's how-to
  // prescribes a computer account, and this stack manages only computer ASAs. It is never reported
  // as missing: it is there, of another kind. The way out is a new computer ASA that the stack
  // binds on every server in its place.
  if (account.kind !== "computer") {
    const spns = account.httpSpns.length ? account.httpSpns.join(", ") : `HTTP/${namespace}`;
    const howTo = `take the site over with a new computer ASA: discover again with --asa-name NAME --asa-ou "OU=…" (the computer account the stack creates), then, right before pulumi up, remove the SPNs from ${account.qualifiedName} (setspn -D ${spns.split(", ")[0]} ${account.qualifiedName}, for each of ${spns}): up binds the new ASA on every server in place of ${account.qualifiedName}'s credential, sets its password in AD, then adds the SPNs to it (until then Outlook uses NTLM)`;
    findings.push({ code: "ASA_NOT_A_COMPUTER", subject: account.qualifiedName, cause: `${account.qualifiedName} (${account.dn}), whose credential the servers hold and which holds ${spns}, is a ${account.kind}, not a computer account (Microsoft's how-to prescribes a computer account)`, upWill: facts.newAsa ? `replaces it with the computer account ${facts.newAsa.name} in ${facts.newAsa.ou}` : "nothing until a computer ASA is named" });
    if (!facts.newAsa) throw new DiscoverError(`${account.qualifiedName} (${account.dn}) is a ${account.kind}, not a computer account (ASA_NOT_A_COMPUTER): ${howTo}`);
    return proposeNewAsa(facts, facts.newAsa, account.qualifiedName, spns, findings, readable);
  }
  let bound = 0;
  for (const s of readable) {
    const latest = s.credentials[0];
    if (!latest) {
      findings.push({ code: "SERVER_NO_ASA", subject: s.server, cause: `${s.server} holds no ASA credential`, upWill: `binds ${account.qualifiedName} on ${s.server} (its AsaBinding is created)` });
    } else if (latest.account.toLowerCase() !== account.qualifiedName.toLowerCase()) {
      findings.push({ code: "SERVER_WRONG_ASA", subject: s.server, cause: `${s.server} holds the credential of ${latest.account}, the other servers (the majority) ${account.qualifiedName}`, upWill: `replaces it with ${account.qualifiedName}'s on ${s.server}` });
    } else {
      bound++;
    }
  }
  // The password the servers hold cannot be read back (Exchange only compares it), and AD never
  // gives one out: the stack cannot know it, so taking over means setting a new one, in
  // Microsoft's order.
  plan.push(
    `rotates the password of ${account.qualifiedName}: no tool can read its current one, so the stack sets a new one — first on the ${readable.length} server${readable.length === 1 ? "" : "s"} (${readable.map((s) => s.server).join(", ")}; each AsaBinding), then in AD (AsaPassword); clients holding a ticket from the old key use NTLM until they get a new one (klist purge)`,
  );
  if (bound < readable.length) plan.push(...findings.filter((f) => f.code === "SERVER_NO_ASA" || f.code === "SERVER_WRONG_ASA").map((f) => `${f.subject}: ${f.upWill}`));

  // The account itself.
  if (!account.enabled) {
    findings.push({ code: "ASA_DISABLED", subject: account.qualifiedName, cause: `${account.dn} is disabled`, upWill: "enables it" });
    plan.push(`${account.qualifiedName}: enables it`);
  }
  let enc = account.encryptionTypes ?? DEFAULT_ENCRYPTION_TYPES;
  if (account.encryptionTypes === undefined || !(account.encryptionTypes & AES_TYPES)) {
    findings.push({ code: "ASA_NO_AES", subject: account.qualifiedName, cause: `msDS-SupportedEncryptionTypes of ${account.qualifiedName} is ${account.encryptionTypes ?? "not set"}: no AES`, upWill: `sets it to ${DEFAULT_ENCRYPTION_TYPES} (AES128+AES256)` });
    plan.push(`${account.qualifiedName}: sets msDS-SupportedEncryptionTypes to ${DEFAULT_ENCRYPTION_TYPES}`);
    enc = DEFAULT_ENCRYPTION_TYPES;
  }

  // SPNs: the namespace's, and every HTTP/ SPN on the ASA as an extra name.
  const onAsa = account.httpSpns.map((s) => s.slice("HTTP/".length).toLowerCase());
  const extraSpnNames = [...new Set(onAsa.filter((h) => h !== namespace))];
  for (const h of facts.spnHolders) {
    const isAsa = (x: { dn: string }): boolean => x.dn.toLowerCase() === account.dn.toLowerCase();
    const others = h.holders.filter((x) => !isAsa(x));
    const names = others.map((x) => x.samAccountName ?? x.dn).join(", ");
    const held = h.holders.some(isAsa);
    if (!held && others.length === 0) {
      findings.push({ code: "SPN_MISSING", subject: h.spn, cause: `no account holds ${h.spn}`, upWill: `adds it to ${account.qualifiedName} (its Spn is created), after the servers hold the new password` });
      plan.push(`${h.spn}: adds it to ${account.qualifiedName}`);
    } else if (!held) {
      findings.push({ code: "SPN_WRONG_ACCOUNT", subject: h.spn, cause: `${h.spn} is held by ${names}, not by ${account.qualifiedName}`, upWill: `nothing: preview refuses to move another account's SPN; remove it there first (setspn -D ${h.spn} ${others[0].samAccountName ?? others[0].dn})` });
    } else if (others.length > 0) {
      findings.push({ code: "SPN_DUPLICATE", subject: h.spn, cause: `${h.spn} is held by ${account.qualifiedName} and also by ${names}`, upWill: `nothing: preview refuses it; remove it from the other account (setspn -D ${h.spn} ${others[0].samAccountName ?? others[0].dn})` });
    } else {
      unchanged.push(`${h.spn} on ${account.qualifiedName}`);
    }
  }

  // URLs and authentication, per server, against what the component declares for the namespace.
  for (const s of readable) {
    const ns = serverNamespace(s);
    const declared = declaredSettings(validateVdirUrlsInputs({ server: s.server, namespace }));
    const found = flattenVdirUrls(s.urls!);
    const differing = Object.keys(declared).filter((k) => !same(declared[k], found[k]));
    // As the doctor judges them: the internal URLs, Autodiscover's and Outlook Anywhere's host.
    const offNamespace = Object.keys(declared).filter((k) => /internalUrl$|^autodiscoverInternalUri$|^outlookAnywhere\.internalHostname$/.test(k) && differing.includes(k));
    if (offNamespace.length > 0) {
      const where = ns !== undefined && ns !== namespace ? `${s.server}'s URLs are on ${ns}, the majority's on ${namespace}` : `on ${s.server}, ${offNamespace.join(", ")} ${offNamespace.length === 1 ? "is" : "are"} not on ${namespace}`;
      findings.push({ code: "URL_NOT_NAMESPACE", subject: s.server, cause: where, upWill: `sets ${offNamespace.length === 1 ? "it" : "them"} to ${namespace}` });
    }
    if (differing.length > 0) {
      plan.push(`${s.server}: sets ${differing.map((k) => `${k} (${show(found[k])} → ${show(declared[k])})`).join(", ")}`);
    } else {
      unchanged.push(`${s.server}'s URLs`);
    }
    const foundAuth = flattenOutlookAuth(s.auth!);
    const declaredAuth = declaredOutlookAuth(validateOutlookAuthInputs({ server: s.server }), foundAuth);
    const authDiff = Object.keys(declaredAuth).filter((k) => !same(declaredAuth[k], foundAuth[k]));
    const oa = s.auth!.outlookAnywhere;
    const has = (l: string[]): boolean => l.some((m) => m.toLowerCase() === "negotiate");
    if ((oa.internalClientAuthenticationMethod ?? "").toLowerCase() !== "negotiate") findings.push({ code: "OA_CLIENT_AUTH_NOT_NEGOTIATE", subject: s.server, cause: `Outlook Anywhere on ${s.server} offers internal clients ${oa.internalClientAuthenticationMethod ?? "nothing"}`, upWill: "sets Negotiate" });
    if (!has(oa.iisAuthenticationMethods)) findings.push({ code: "OA_IIS_NO_NEGOTIATE", subject: s.server, cause: `Outlook Anywhere's IIS methods on ${s.server} (${show(oa.iisAuthenticationMethods)}) lack Negotiate`, upWill: "adds Negotiate" });
    if (!has(s.auth!.mapi.iisAuthenticationMethods)) findings.push({ code: "MAPI_NO_NEGOTIATE", subject: s.server, cause: `MAPI on ${s.server} (${show(s.auth!.mapi.iisAuthenticationMethods)}) lacks Negotiate`, upWill: "adds Negotiate (OAuth and the rest kept)" });
    if (authDiff.length > 0) plan.push(`${s.server}: sets ${authDiff.map((k) => `${k} (${show(foundAuth[k])} → ${show(declaredAuth[k])})`).join(", ")}`);
    else unchanged.push(`${s.server}'s Negotiate`);
  }

  // DNS: the record is taken over with its addresses and TTL; without one, DNS is left out.
  const site = proposedSite(facts, readable, { name: account.name, ou: account.ou, encryptionTypes: enc }, extraSpnNames);
  if (site.dnsZone) {
    unchanged.push(`the A record ${namespace} (${facts.dns.addresses.join(", ")})`);
  } else {
    findings.push({
      code: "DNS_NAME_MISSING",
      subject: namespace,
      cause: facts.dns.error ?? (facts.dns.zone ? `${namespace} has no A record in the zone ${facts.dns.zone}` : `no AD-integrated zone holds ${namespace}`),
      upWill: "nothing: DNS is left out of the proposed config (set dnsZone and dnsAddresses to manage the record)",
    });
  }
  unchanged.push(`the account ${asaQualified} (${account.dn}), but for its password${enc !== account.encryptionTypes ? ", encryption types" : ""} and description (the component's), and the stack's mark`);
  return { site, findings, plan, unchanged };
}

/**
 * The proposal that moves a site from an ASA that is not a computer account to a new computer ASA
 * (--asa-name, --asa-ou): the stack creates it, binds it on every server in place of the old
 * credential (adopt), sets its password, and adds the SPNs once they are off the old account.
 */
function proposeNewAsa(facts: DiscoveredFacts, asa: { name: string; ou: string }, old: string, spns: string, findings: DiscoverFinding[], readable: ServerFacts[]): Proposal {
  const namespace = facts.namespace!;
  const hosts = spns.split(", ").map((s) => s.slice("HTTP/".length).toLowerCase());
  const site = proposedSite(facts, readable, { name: asa.name, ou: asa.ou, encryptionTypes: DEFAULT_ENCRYPTION_TYPES }, [...new Set(hosts.filter((h) => h !== namespace))]);
  const plan = [
    `creates the computer account ${asa.name} in ${asa.ou} (AES)`,
    `binds ${facts.netbiosName}\\${asa.name}$ on ${site.servers.join(", ")} in place of ${old}'s credential`,
    `sets ${asa.name}'s password in AD`,
    `adds ${spns} to ${asa.name}: preview refuses them while ${old} still holds them (SPN_WRONG_ACCOUNT): remove them there first (setspn -D), right before pulumi up`,
  ];
  return { site, findings, plan, unchanged: [`${old} itself (the stack does not manage it; disable or delete it once the site works)`] };
}

/** The site config proposed for the servers that could be read, with the namespace's record (its
 * addresses and TTL) when there is one: otherwise DNS is left out. */
function proposedSite(facts: DiscoveredFacts, readable: ServerFacts[], asa: { name: string; ou: string; encryptionTypes: number }, extraSpnNames: string[]): ProposedSite {
  const site: ProposedSite = {
    namespace: facts.namespace!,
    servers: readable.map((s) => s.server),
    asaName: asa.name,
    asaOu: asa.ou,
    asaEncryptionTypes: asa.encryptionTypes,
    extraSpnNames,
    adopt: true,
  };
  if (facts.dns.zone && facts.dns.addresses.length > 0) {
    site.dnsZone = facts.dns.zone;
    site.dnsAddresses = facts.dns.addresses;
    if (facts.dns.ttl !== undefined && facts.dns.ttl !== DEFAULT_TTL) site.dnsTtl = facts.dns.ttl;
  }
  return site;
}
