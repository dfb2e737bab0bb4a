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
 * The forest's SPN aliases: sPNMappings on CN=Directory Service,CN=Windows NT,CN=Services of the
 * Configuration partition ([MS-ADA3] §2.276; default "host=alerter,…,http,…,w3svc"), as
 * alias service class → the class it maps to (http → host). Read once per connection; a forest
 * whose object cannot be read has none.
 */
export function spnMappings(c: LdapConnection): Promise<Map<string, string>> {
  let p = c.cache.get("spnMappings") as Promise<Map<string, string>> | undefined;
  if (!p) {
    p = (async () => {
      const info = await domainInfo(c);
      const [e] = await c
        .search(`CN=Directory Service,CN=Windows NT,CN=Services,${info.configurationNamingContext}`, { scope: "base", attributes: ["sPNMappings"] })
        .catch((err: unknown) => {
          if (err instanceof NotFoundError) return [];
          throw err;
        });
      const map = new Map<string, string>();
      for (const v of e ? strs(e, "sPNMappings") : []) {
        const m = /^([^=]+)=(.*)$/.exec(v);
        if (!m) continue;
        for (const alias of m[2].split(",")) if (alias.trim()) map.set(alias.trim().toLowerCase(), m[1].trim().toLowerCase());
      }
      return map;
    })();
    c.cache.set("spnMappings", p);
    p.catch(() => c.cache.delete("spnMappings"));
  }
  return p;
}

/** The value `spn` is an alias of (HOST/outlook.corp.example for HTTP/outlook.corp.example), if any. */
export function spnAliasTarget(spn: string, mappings: Map<string, string>): string | undefined {
  const slash = spn.indexOf("/");
  if (slash <= 0) return undefined;
  const target = mappings.get(spn.slice(0, slash).toLowerCase());
  return target === undefined ? undefined : `${target.toUpperCase()}${spn.slice(slash)}`;
}

/** The value of `e` that makes it a holder of `spn`: the SPN itself, or else the alias it holds. */
export function heldAs(e: Entry, spn: string, alias: string | undefined): string | undefined {
  const values = strs(e, "servicePrincipalName").map((x) => x.toLowerCase());
  if (values.includes(spn.toLowerCase())) return spn;
  return alias !== undefined && values.includes(alias.toLowerCase()) ? alias : undefined;
}

/**
 * Every object in the forest that holds `spn` (one search of the Global Catalog, `gc`), exactly,
 * or holds the value `spn` is an alias of: HTTP/ is an alias of HOST/ in the default sPNMappings,
 * so the KDC answers a request for HTTP/<name> that no account holds with a ticket for the holder
 * of HOST/<name> ([MS-DRSR] §4.1.4.2.19 MapSPN, which DsCrackNames applies to an SPN it does not
 * find), and a DC at the 2012 R2 functional level refuses an admin's write of an SPN whose alias
 * another account holds (error 8647, [MS-ADTS] §3.1.1.5.1.3 "Uniqueness Constraints"; it does not
 * check for a delegated, non-admin account, nor does Samba 4.17: so we do). The attribute matches
 * case-insensitively and the values are compared again here, so that a wildcard-like value can
 * never widen the match. `attributes` are returned besides the SPNs; `heldAs` tells which value
 * an entry holds.
 */
export async function findSpnHolders(gc: LdapConnection, spn: string, attributes: string[]): Promise<Entry[]> {
  const alias = spnAliasTarget(spn, await spnMappings(gc));
  const values = alias === undefined ? [spn] : [spn, alias];
  const found = await gc.search("", {
    scope: "sub",
    filter: values.length === 1 ? `(servicePrincipalName=${escapeFilterValue(spn)})` : `(|${values.map((v) => `(servicePrincipalName=${escapeFilterValue(v)})`).join("")})`,
    attributes: [...new Set(["distinguishedName", "servicePrincipalName", ...attributes])],
    binary: ["objectSid"],
    paged: true,
  });
  return found.filter((e) => heldAs(e, spn, alias) !== undefined);
}
