// Which server answers as the forest's Global Catalog. The default used to be the DC itself on
// 3269, but on Windows only the DCs an admin made GCs are ([MS-ADTS] §6.1.1.2.2.1.2.1.1: the
// NTDSDSA_OPT_IS_GC bit of the DC's nTDSDSA options; the RootDSE's isGlobalCatalogReady says
// whether it serves as one, §3.1.1.3.2). So, unless exchange-kerberos:gcUrl names one: the DC
// when it is a GC, else the first GC of the forest's SRV records _gc._tcp.<forest root> (the
// record every GC registers, [MS-ADTS] §6.3.2.3), asked of the DC's own DNS server, as a
// domain-joined client would. A GC other than the DC written to sees what the stack wrote only
// after replication: the ASA's own SPNs are therefore read from the DC (resources/spn.ts).
import { lookup, Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { NotFoundError } from "../errors";
import { CONFIG_NAMESPACE, LdapSettings } from "../settings";
import { directory, globalCatalogUrl, LdapConnection, LocatedServer, locatedServer, str } from "./connection";
import { dnToDomain } from "./dn";
import { domainInfo } from "./domain";
import { querySrv, SrvAnswer } from "./srv-lookup";

/** The forest's Global Catalog: `gcUrl` when set, else located at its first use (see the header). */
export function globalCatalog(s: LdapSettings): LdapConnection {
  if (s.gcUrl) return locatedServer(s, s.gcUrl, async () => ({ url: s.gcUrl! }));
  return locatedServer(s, globalCatalogUrl(s), () => locateGlobalCatalog(directory(s), s));
}

/** The SRV target to use: lowest priority, then highest weight (RFC 2782, without the random draw). */
export function pickSrv(records: SrvAnswer[]): SrvAnswer | undefined {
  return [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight)[0];
}

export async function locateGlobalCatalog(dc: LdapConnection, s: LdapSettings): Promise<LocatedServer> {
  const secure = new URL(dc.url).protocol === "ldaps:";
  const [root] = await dc.search("", { scope: "base", attributes: ["isGlobalCatalogReady"] });
  if ((root && str(root, "isGlobalCatalogReady"))?.toUpperCase() === "TRUE") return { url: globalCatalogUrl(s) };
  const info = await domainInfo(dc);
  const forest = dnToDomain(info.rootDomainNamingContext);
  const dcHost = new URL(dc.url).hostname.replace(/^\[|\]$/g, "");
  const timeout = Math.min(s.timeoutMs, 5000);
  const notFound = (why: string) =>
    new NotFoundError(`${dc.url} is not a Global Catalog (isGlobalCatalogReady is FALSE) and ${why}`, `set ${CONFIG_NAMESPACE}:gcUrl to a Global Catalog of the forest, such as ldaps://gc1.${forest}:3269`, { code: "GC_NOT_FOUND" });
  // The DC's own DNS server (a DC without the DNS role: set gcUrl).
  const dnsServer = isIP(dcHost) ? dcHost : await lookup(dcHost).then((a) => a.address, () => undefined);
  if (!dnsServer) throw notFound(`its host ${dcHost} does not resolve here`);
  const name = `_gc._tcp.${forest}`;
  const records = await querySrv(dnsServer, name, timeout).catch((e: NodeJS.ErrnoException) => e);
  if (records instanceof Error) throw notFound(`the DNS server ${dnsServer} did not answer for ${name} (${records.code ?? records.message})`);
  const srv = pickSrv(records);
  if (!srv) throw notFound(`no ${name} SRV record names one (asked ${dnsServer})`);
  const resolver = new Resolver({ timeout, tries: 2 });
  resolver.setServers([dnsServer]);
  const address = (await resolver.resolve4(srv.name).catch(() => [] as string[]))[0];
  return { url: secure ? `ldaps://${srv.name}:3269` : `ldap://${srv.name}:3268`, ...(address ? { address } : {}) };
}
