// `discover`'s reads, all read-only, through the same connections and Exchange operations the
// doctor uses (ldap/connection.ts, exchange/operations.ts): each server's ASA credentials, URLs and
// authentication; the account behind the majority's credential, its OU, encryption types and
// HTTP/ SPNs; the forest-wide holders of those SPNs; the namespace's A record.
import { directory, str, strs } from "../ldap/connection";
import { globalCatalog } from "../ldap/global-catalog";
import { domainInfo, findBySamAccountName } from "../ldap/domain";
import { findZone, liveRecords, nodeDn, readNode } from "../ldap/dns-zone";
import { DnsType, recordText } from "../ldap/dns-record-codec";
import { parentDn } from "../ldap/dn";
import { UAC_ACCOUNTDISABLE } from "../ldap/account-bits";
import { NotFoundError } from "../errors";
import { ExchangeSettings, LdapSettings } from "../settings";
import { getAsaCredentials, getOutlookAuth, getVdirUrls, serverHandle } from "../exchange/operations";
import { spnHolders } from "../doctor/directory";
import { fixOf, message } from "../doctor/report";
import { AccountFacts, AccountKind, DiscoveredFacts, DnsFacts, ServerFacts } from "./facts";
import { majorityChoice } from "./propose";

export interface DiscoverInputs {
  ldap: LdapSettings;
  exchange: ExchangeSettings;
  /** Server names, or "all" (every Exchange server in the Configuration partition). */
  servers: string[] | "all";
  /** Overrides the namespace the URLs show. */
  namespace?: string;
  /** The ASA to use when no server holds one; with asaOu, a new computer ASA that replaces one that
   * is not a computer account. */
  asaName?: string;
  asaOu?: string;
}

/** The kind of account an entry is, from its objectClass (most specific first). */
function accountKind(objectClasses: string[]): AccountKind {
  const c = objectClasses.map((x) => x.toLowerCase());
  if (c.includes("msds-groupmanagedserviceaccount")) return "group managed service account";
  if (c.includes("msds-managedserviceaccount")) return "managed service account";
  if (c.includes("computer")) return "computer";
  return "user";
}

/** Exchange's servers, from the Configuration partition (msExchExchangeServer objects), but Edge
 * Transport servers (msExchCurrentServerRoles 64), which are not in the organisation's namespace. */
export async function allExchangeServers(ldap: LdapSettings): Promise<string[]> {
  const dc = directory(ldap);
  const info = await domainInfo(dc);
  let found;
  try {
    found = await dc.search(`CN=Microsoft Exchange,CN=Services,${info.configurationNamingContext}`, {
      scope: "sub",
      filter: "(objectClass=msExchExchangeServer)",
      attributes: ["cn", "msExchCurrentServerRoles"],
      paged: true,
    });
  } catch (e) {
    if (e instanceof NotFoundError) return [];
    throw e;
  }
  return found.filter((e) => Number(str(e, "msExchCurrentServerRoles") ?? "0") !== 64).map((e) => str(e, "cn") ?? "").filter(Boolean).sort();
}

async function readServer(exchange: ExchangeSettings, server: string): Promise<ServerFacts> {
  try {
    const h = await serverHandle(exchange, server);
    return { server, credentials: await getAsaCredentials(h), urls: await getVdirUrls(h), auth: await getOutlookAuth(h) };
  } catch (e) {
    return { server, error: message(e), fix: fixOf(e, "") || undefined, credentials: [] };
  }
}

async function readDns(ldap: LdapSettings, namespace: string): Promise<DnsFacts> {
  const dc = directory(ldap);
  // The zone: the longest suffix of the namespace that is an AD-integrated zone.
  const labels = namespace.split(".");
  for (let i = 0; i < labels.length - 1; i++) {
    const zone = labels.slice(i).join(".");
    let zoneDn: string;
    try {
      zoneDn = await findZone(dc, zone);
    } catch (e) {
      if (e instanceof NotFoundError) continue;
      return { addresses: [], error: `the zone of ${namespace} could not be read: ${message(e)}` };
    }
    const name = i === 0 ? "@" : labels.slice(0, i).join(".");
    const records = liveRecords(await readNode(dc, nodeDn(zoneDn, name))).filter((r) => r.type === DnsType.A);
    return { zone, addresses: records.map((r) => recordText(r) ?? "").filter(Boolean), ttl: records[0]?.ttl };
  }
  return { addresses: [] };
}

/** Everything discover needs, read-only. */
export async function readFacts(i: DiscoverInputs): Promise<DiscoveredFacts> {
  const names = i.servers === "all" ? await allExchangeServers(i.ldap) : i.servers;
  if (names.length === 0) throw new NotFoundError("no Exchange servers were found in the Configuration partition", "give the Client Access servers with --servers EX1,EX2", { code: "NO_EXCHANGE_SERVERS_FOUND" });
  const servers: ServerFacts[] = [];
  // One at a time: they share one session when exchangeEndpoint is set.
  for (const s of names) servers.push(await readServer(i.exchange, s));
  const { namespace, credentialOf, asaName: name } = majorityChoice(servers, { namespace: i.namespace, asaName: i.asaName });

  const dc = directory(i.ldap);
  const info = await domainInfo(dc);
  let account: AccountFacts | undefined;
  let accountMissing: string | undefined;
  if (name) {
    // The credential names the account as bound (CORP\EXCH-ASA$, or CORP\svc-exch for a user
    // account): look it up by that sAMAccountName, and only add the $ of a computer name for --asa-name.
    const sam = credentialOf ? credentialOf.replace(/^[^\\]*\\/, "") : `${name}$`;
    const [e] = await findBySamAccountName(dc, info.defaultNamingContext, sam, ["sAMAccountName", "userAccountControl", "msDS-SupportedEncryptionTypes", "servicePrincipalName", "objectClass"]);
    if (e) {
      const enc = str(e, "msDS-SupportedEncryptionTypes");
      const sam = str(e, "sAMAccountName") ?? `${name}$`;
      account = {
        qualifiedName: `${info.netbiosName}\\${sam}`,
        name: sam.replace(/\$$/, "").toUpperCase(),
        dn: e.dn,
        ou: parentDn(e.dn),
        enabled: (Number(str(e, "userAccountControl") ?? "0") & UAC_ACCOUNTDISABLE) === 0,
        encryptionTypes: enc === undefined ? undefined : Number(enc),
        httpSpns: strs(e, "servicePrincipalName").filter((v) => /^HTTP\/[^/:]+$/i.test(v)),
        kind: accountKind(strs(e, "objectClass")),
      };
    } else {
      accountMissing = credentialOf ?? `${info.netbiosName}\\${name}$`;
    }
  }

  const spns = [...new Set([...(namespace ? [`HTTP/${namespace}`] : []), ...(account?.httpSpns ?? [])].map((s) => `HTTP/${s.slice(5).toLowerCase()}`))];
  const gc = globalCatalog(i.ldap);
  const holders = [];
  for (const spn of spns) holders.push({ spn, holders: await spnHolders(gc, spn) });
  const dns = namespace ? await readDns(i.ldap, namespace) : { addresses: [] };
  const newAsa = i.asaName && i.asaOu ? { name: i.asaName.toUpperCase(), ou: i.asaOu } : undefined;
  return { servers, namespace, netbiosName: info.netbiosName, defaultNamingContext: info.defaultNamingContext, account, accountMissing, spnHolders: holders, dns, ...(newAsa ? { newAsa } : {}) };
}

