// Facts about the domain and forest the connection points at, read once per connection: the
// naming contexts from the RootDSE and the NetBIOS domain name from the Partitions container
// ([MS-ADTS] §6.1.1.2.1.1.5: the crossRef whose nCName is the domain NC carries nETBIOSName).
import { NotFoundError } from "../errors";
import { dnToDomain } from "./dn";
import { escapeFilterValue } from "./escape";
import { LdapConnection, str, strs } from "./connection";
import { sidFromString, sidToString } from "./sid";
import { Entry } from "ldapts";

export interface DomainInfo {
  defaultNamingContext: string;
  configurationNamingContext: string;
  rootDomainNamingContext: string;
  namingContexts: string[];
  /** corp.example */
  dnsDomain: string;
  /** CORP.EXAMPLE */
  realm: string;
  /** CORP */
  netbiosName: string;
}

export function domainInfo(conn: LdapConnection): Promise<DomainInfo> {
  let p = conn.cache.get("domainInfo") as Promise<DomainInfo> | undefined;
  if (!p) {
    p = readDomainInfo(conn);
    conn.cache.set("domainInfo", p);
    p.catch(() => conn.cache.delete("domainInfo"));
  }
  return p;
}

async function readDomainInfo(conn: LdapConnection): Promise<DomainInfo> {
  const [root] = await conn.search("", {
    scope: "base",
    attributes: ["defaultNamingContext", "configurationNamingContext", "rootDomainNamingContext", "namingContexts"],
  });
  const defaultNc = root && str(root, "defaultNamingContext");
  const configNc = root && str(root, "configurationNamingContext");
  if (!root || !defaultNc || !configNc) {
    throw new NotFoundError(`${conn.url} did not return the RootDSE naming contexts`, "point exchange-kerberos:ldapUrl at an Active Directory domain controller", { code: "NOT_A_DOMAIN_CONTROLLER" });
  }
  const [xref] = await conn.search(`CN=Partitions,${configNc}`, {
    scope: "one",
    filter: `(&(objectClass=crossRef)(nCName=${escapeFilterValue(defaultNc)}))`,
    attributes: ["nETBIOSName", "dnsRoot"],
  });
  const netbios = xref && str(xref, "nETBIOSName");
  if (!netbios) {
    throw new NotFoundError(`no crossRef with a nETBIOSName for ${defaultNc} under CN=Partitions,${configNc}`, "check that the bind user can read the Configuration partition", { code: "NETBIOS_NAME_UNREADABLE" });
  }
  const dnsDomain = (str(xref, "dnsRoot") ?? dnToDomain(defaultNc)).toLowerCase();
  return {
    defaultNamingContext: defaultNc,
    configurationNamingContext: configNc,
    rootDomainNamingContext: str(root, "rootDomainNamingContext") ?? defaultNc,
    namingContexts: strs(root, "namingContexts"),
    dnsDomain,
    realm: dnsDomain.toUpperCase(),
    netbiosName: netbios.toUpperCase(),
  };
}

/** The object with this SID in the domain, or undefined. */
export async function findBySid(conn: LdapConnection, base: string, sid: string, attributes: string[], binary: string[] = []): Promise<Entry | undefined> {
  const [e] = await conn.search(base, {
    scope: "sub",
    filter: `(objectSid=${escapeFilterValue(sidFromString(sid))})`,
    attributes,
    binary: ["objectSid", ...binary],
  });
  return e;
}

/** The objects with this sAMAccountName in the domain (0 or 1 in a healthy directory). */
export async function findBySamAccountName(conn: LdapConnection, base: string, sam: string, attributes: string[], binary: string[] = []): Promise<Entry[]> {
  return conn.search(base, {
    scope: "sub",
    filter: `(sAMAccountName=${escapeFilterValue(sam)})`,
    attributes,
    binary: ["objectSid", ...binary],
  });
}

export function entrySid(e: Entry): string | undefined {
  const k = Object.keys(e).find((x) => x.toLowerCase() === "objectsid");
  const v = k === undefined ? undefined : e[k];
  const b = Array.isArray(v) ? v[0] : v;
  return Buffer.isBuffer(b) ? sidToString(b) : undefined;
}

/**
 * Every object in the forest that holds `spn` (one search of the Global Catalog, `gc`), exactly:
 * the attribute matches case-insensitively, and the value is compared again here so that a
 * wildcard-like value can never widen the match. `attributes` are returned besides the SPNs.
 */
export async function findSpnHolders(gc: LdapConnection, spn: string, attributes: string[]): Promise<Entry[]> {
  const found = await gc.search("", {
    scope: "sub",
    filter: `(servicePrincipalName=${escapeFilterValue(spn)})`,
    attributes: [...new Set(["distinguishedName", "servicePrincipalName", ...attributes])],
    binary: ["objectSid"],
    paged: true,
  });
  return found.filter((e) => {
    const v = e.servicePrincipalName;
    const values = Array.isArray(v) ? v : v === undefined ? [] : [v];
    return values.some((x) => String(x).toLowerCase() === spn.toLowerCase());
  });
}
