// AD-integrated DNS zones over LDAP ([MS-DNSP] §2.3): finding a zone's container, reading a node,
// and replacing the records of one type on a node while leaving every other type alone. Every
// write is a compare-and-swap (delete the exact old values, add the new ones, in one modify): if
// someone changed the node in between, the delete fails and we re-read.
//
// The zone apex (DC=@) is read, never written. Each Windows DNS server keeps the zone's SOA serial
// itself: when a record arrives through AD replication (or its own poll of the directory) whose
// Serial field is higher than its serial, it takes the record's (KB 282826, "Active
// Directory-integrated DNS zone serial number behavior"; the field: [MS-DNSP] §2.3.2.2). So a
// record written with the apex serial + 1 moves every server's serial, as a write of the SOA at
// DC=@ would, without the right to write the apex, which a delegated account does not have.
// (Samba's DNS server answers the SOA stored at DC=@ and serves no zone transfers unless told to,
// so its serial does not move; nothing in Samba depends on it.)
import { ConflictError, KerberosRolloutError, NotFoundError } from "../errors";
import { childDn, dnKey } from "./dn";
import { escapeFilterValue } from "./escape";
import { bufs, LdapConnection, Modification, str, strs } from "./connection";
import { domainInfo } from "./domain";
import {
  decodeDnsRecord,
  decodeSoa,
  DnsRecordValue,
  DnsType,
  encodeDnsRecord,
  nextSerial,
  tombstoneRecord,
} from "./dns-record-codec";
import { filetimeFromDate } from "./filetime";
import { OWNER_ATTRIBUTE } from "../owner";

export interface NodeState {
  dn: string;
  exists: boolean;
  tombstoned: boolean;
  /** The raw values and their decoded form, in directory order. */
  values: { raw: Buffer; rec: DnsRecordValue }[];
  /** The owner mark on the node (owner.ts), if any. */
  mark?: string;
}

/** Where the zone lives: DomainDnsZones, ForestDnsZones, another DNS application partition, or
 * the legacy System container of the domain partition. */
export async function findZone(c: LdapConnection, zone: string): Promise<string> {
  const key = `zone:${zone.toLowerCase()}`;
  let p = c.cache.get(key) as Promise<string> | undefined;
  if (!p) {
    p = locateZone(c, zone);
    c.cache.set(key, p);
    p.catch(() => c.cache.delete(key));
  }
  return p;
}

export interface DnsPartition {
  /** The partition's DN, DC=DomainDnsZones,DC=corp,DC=example. */
  nc: string;
  /** The DCs that hold a replica (msDS-NC-Replica-Locations: their NTDS Settings' server names). */
  replicas: string[];
}

/**
 * The forest's DNS application partitions, from the crossRefs under CN=Partitions of the
 * Configuration partition ([MS-ADTS] §6.1.1.2.1.1.5: an application NC's crossRef has
 * systemFlags FLAG_CR_NTDS_NC without FLAG_CR_NTDS_DOMAIN, and msDS-NC-Replica-Locations names
 * the nTDSDSA objects of the DCs holding it). A DC holds only the application partitions it is a
 * replica of: one without the DNS role holds none ([MS-DNSP] §3.1.1: the zones of
 * DomainDnsZones/ForestDnsZones live on the DNS servers' DCs), so its namingContexts alone cannot
 * tell "no such zone" from "this DC does not hold the zone's partition".
 */
export async function dnsPartitions(c: LdapConnection): Promise<DnsPartition[]> {
  const info = await domainInfo(c);
  const refs = await c.search(`CN=Partitions,${info.configurationNamingContext}`, {
    scope: "one",
    filter: "(objectClass=crossRef)",
    attributes: ["nCName", "systemFlags", "msDS-NC-Replica-Locations"],
  });
  const FLAG_CR_NTDS_NC = 0x1;
  const FLAG_CR_NTDS_DOMAIN = 0x2;
  const out: DnsPartition[] = [];
  for (const r of refs) {
    const nc = str(r, "nCName");
    const flags = Number(str(r, "systemFlags") ?? "0");
    if (!nc || !(flags & FLAG_CR_NTDS_NC) || flags & FLAG_CR_NTDS_DOMAIN) continue;
    if (!/^DC=[^,]*DnsZones,/i.test(nc)) continue;
    // CN=NTDS Settings,CN=DC2,CN=Servers,… → DC2
    const replicas = strs(r, "msDS-NC-Replica-Locations").map((dn) => /^CN=NTDS Settings,CN=([^,]+),/i.exec(dn)?.[1] ?? dn);
    out.push({ nc, replicas });
  }
  return out;
}

/** The search bases for a zone, and the DNS partitions this DC does not hold (pure: unit-tested). */
export function zoneBases(namingContexts: string[], defaultNc: string, partitions: DnsPartition[]): { bases: string[]; notHeld: DnsPartition[] } {
  const held = new Set(namingContexts.map((nc) => dnKey(nc)));
  const all = [...partitions];
  // DomainDnsZones first (a zone in both is refused as a duplicate anyway), then ForestDnsZones, then custom ones.
  all.sort((a, b) => rank(a.nc) - rank(b.nc));
  const local = all.filter((p) => held.has(dnKey(p.nc)));
  // A partition this DC holds that no crossRef lists (a reader who may not see CN=Partitions) is still searched.
  for (const nc of namingContexts) if (/^DC=[^,]*DnsZones,/i.test(nc) && !local.some((p) => dnKey(p.nc) === dnKey(nc))) local.push({ nc, replicas: [] });
  return {
    bases: [...local.map((p) => `CN=MicrosoftDNS,${p.nc}`), `CN=MicrosoftDNS,CN=System,${defaultNc}`],
    notHeld: all.filter((p) => !held.has(dnKey(p.nc))),
  };
}

function rank(nc: string): number {
  return /^DC=DomainDnsZones,/i.test(nc) ? 0 : /^DC=ForestDnsZones,/i.test(nc) ? 1 : 2;
}

async function locateZone(c: LdapConnection, zone: string): Promise<string> {
  const info = await domainInfo(c);
  const partitions = await dnsPartitions(c).catch((e: unknown) => {
    if (e instanceof NotFoundError) return [];
    throw e;
  });
  const { bases, notHeld } = zoneBases(info.namingContexts, info.defaultNamingContext, partitions);
  const hits: string[] = [];
  for (const base of bases) {
    try {
      const found = await c.search(base, { scope: "one", filter: `(&(objectClass=dnsZone)(dc=${escapeFilterValue(zone)}))`, attributes: ["dc"] });
      hits.push(...found.map((e) => e.dn));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e; // no such container (Samba has no legacy one)
    }
  }
  if (hits.length === 0 && notHeld.length > 0) {
    const where = notHeld.map((p) => `${p.nc}${p.replicas.length ? ` (held by ${p.replicas.join(", ")})` : ""}`).join("; ");
    throw new NotFoundError(
      `the DNS zone ${zone} is not in the partitions ${c.url} holds, and that DC does not hold the DNS partition(s) ${where}: a DC without the DNS role holds no DNS application partition`,
      `point exchange-kerberos:ldapUrl (or the DnsRecord's ldap.url) at a DC that holds the zone's partition, such as ${notHeld[0].replicas[0] ?? "a DNS server's DC"}`,
      { code: "DNS_PARTITION_NOT_HELD" },
    );
  }
  if (hits.length === 0) {
    throw new NotFoundError(`the DNS zone ${zone} is not in the directory (searched ${bases.join("; ")})`, "check the zone name, or create it as an AD-integrated zone (DNS Manager, or samba-tool dns zonecreate)", { code: "DNS_ZONE_NOT_FOUND" });
  }
  if (hits.length > 1) {
    throw new ConflictError(`the DNS zone ${zone} exists more than once: ${hits.join("; ")}`, "delete the duplicate zone (Windows DNS logs event 4515 for this) so that only one partition holds it", { code: "DNS_ZONE_DUPLICATE" });
  }
  return hits[0];
}

export function nodeDn(zoneDn: string, name: string): string {
  return childDn("DC", name, zoneDn);
}

export async function readNode(c: LdapConnection, dn: string): Promise<NodeState> {
  try {
    const [e] = await c.search(dn, { scope: "base", attributes: ["dnsRecord", "dNSTombstoned", OWNER_ATTRIBUTE], binary: ["dnsRecord"] });
    if (!e) return { dn, exists: false, tombstoned: false, values: [] };
    const values = bufs(e, "dnsRecord").map((raw) => ({ raw, rec: decodeDnsRecord(raw) }));
    return { dn, exists: true, tombstoned: (str(e, "dNSTombstoned") ?? "").toUpperCase() === "TRUE", values, mark: str(e, OWNER_ATTRIBUTE) };
  } catch (e) {
    if (e instanceof NotFoundError) return { dn, exists: false, tombstoned: false, values: [] };
    throw e;
  }
}

/** Records that answer queries: not Type 0, on a node that is not tombstoned. */
export function liveRecords(n: NodeState): DnsRecordValue[] {
  return n.tombstoned ? [] : n.values.map((v) => v.rec).filter((r) => r.type !== DnsType.ZERO);
}

function isRetryable(e: unknown): boolean {
  return e instanceof ConflictError || (e instanceof KerberosRolloutError && e.name === "AlreadyExistsError");
}

const ATTEMPTS = 25;

async function backoff(attempt: number): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.min(500, 10 * 2 ** attempt) * Math.random()));
}

/** The serial to stamp in records written now: the apex SOA's serial + 1 (RFC 1982), read only
 * (see the header: the DNS servers raise their own serial to it). */
export async function nextRecordSerial(c: LdapConnection, zoneDn: string): Promise<number> {
  const apex = nodeDn(zoneDn, "@");
  const n = await readNode(c, apex);
  const soa = n.values.find((v) => v.rec.type === DnsType.SOA);
  if (!soa) throw new NotFoundError(`the zone apex ${apex} has no SOA record`, "repair the zone (its @ node must hold an SOA record)", { code: "DNS_ZONE_NO_SOA" });
  return nextSerial(decodeSoa(soa.rec.data).serial);
}

export interface RecordSetChange {
  added: number;
  removed: number;
  tombstoned: boolean;
  revived: boolean;
}

/**
 * Makes the records of `type` on the node exactly `desired` (already-encoded data), each with
 * `ttl`; records of other types stay. With `desired` empty, removes ours and, when nothing live
 * remains, tombstones the node as Windows does: dNSTombstoned TRUE and one Type-0 record holding
 * the time of death (§2.3.2.2). A tombstoned node is revived by writing live records into it.
 * `mark` (owner.ts) is written in the same add or modify as the records (null removes it), so a
 * write whose answer was lost is recognised as ours on the next run.
 */
export async function setRecords(c: LdapConnection, zoneDn: string, name: string, type: number, desired: Buffer[], ttl: number, mark?: string | null): Promise<RecordSetChange> {
  const dn = nodeDn(zoneDn, name);
  for (let attempt = 0; ; attempt++) {
    const n = await readNode(c, dn);
    const live = n.tombstoned ? [] : n.values.filter((v) => v.rec.type !== DnsType.ZERO);
    const dead = n.values.filter((v) => n.tombstoned || v.rec.type === DnsType.ZERO);
    const ours = live.filter((v) => v.rec.type === type);
    const others = live.filter((v) => v.rec.type !== type);
    // A record with an aging timestamp is dynamic: scavenging deletes it once the zone's no-refresh
    // and refresh intervals (7 + 7 days by default) pass without a refresh ([MS-DNSP] §3.1.1
    // aging; §2.3.2.2 TimeStamp: 0 = static). A declared record is written static, so an adopted
    // dynamic one is rewritten with TimeStamp 0.
    const keep = ours.filter((v) => v.rec.ttl === ttl && v.rec.timestamp === 0 && desired.some((d) => d.equals(v.rec.data)));
    const remove = ours.filter((v) => !keep.includes(v));
    const add = desired.filter((d) => !keep.some((k) => k.rec.data.equals(d)));
    const tombstone = desired.length === 0 && others.length === 0 && n.exists && !n.tombstoned;
    const revive = desired.length > 0 && n.exists && (n.tombstoned || dead.length > 0);
    const remark = mark !== undefined && n.exists && (n.mark ?? null) !== mark;
    if (add.length === 0 && remove.length === 0 && !tombstone && !revive && !remark) return { added: 0, removed: 0, tombstoned: false, revived: false };
    if (!n.exists && desired.length === 0) return { added: 0, removed: 0, tombstoned: false, revived: false };
    try {
      // Only a change of the records themselves is a new version of the zone: taking over a
      // record (writing our mark beside it) stamps no serial.
      const recordsChange = !n.exists || add.length > 0 || remove.length > 0 || tombstone || revive;
      const serial = recordsChange ? await nextRecordSerial(c, zoneDn) : 0;
      const blobs = add.map((data) => encodeDnsRecord({ type, data, ttl, serial }));
      if (!n.exists) {
        await c.add(dn, { objectClass: ["top", "dnsNode"], dnsRecord: blobs, ...(mark ? { [OWNER_ATTRIBUTE]: [mark] } : {}) });
      } else {
        const mods: Modification[] = [];
        const gone = [...remove, ...(revive || tombstone ? dead : [])].map((v) => v.raw);
        if (gone.length) mods.push({ operation: "delete", type: "dnsRecord", values: gone });
        if (tombstone) {
          mods.push({ operation: "add", type: "dnsRecord", values: [tombstoneRecord(filetimeFromDate(new Date()), serial)] });
          mods.push({ operation: "replace", type: "dNSTombstoned", values: ["TRUE"] });
        } else {
          if (blobs.length) mods.push({ operation: "add", type: "dnsRecord", values: blobs });
          if (revive || n.tombstoned) mods.push({ operation: "replace", type: "dNSTombstoned", values: ["FALSE"] });
        }
        if (remark) mods.push({ operation: "replace", type: OWNER_ATTRIBUTE, values: mark ? [mark] : [] });
        await c.modify(dn, mods);
      }
      return { added: add.length, removed: remove.length, tombstoned: tombstone, revived: revive };
    } catch (e) {
      if (!isRetryable(e) || attempt >= ATTEMPTS) throw e;
      await backoff(attempt);
    }
  }
}
