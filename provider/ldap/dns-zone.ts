// AD-integrated DNS zones over LDAP ([MS-DNSP] §2.3): finding a zone's container, reading a node,
// bumping the SOA serial, and replacing the records of one type on a node while leaving every
// other type alone. Every write is a compare-and-swap (delete the exact old values, add the new
// ones, in one modify): if someone changed the node in between, the delete fails and we re-read.
import { ConflictError, KerberosRolloutError, NotFoundError } from "../errors";
import { childDn } from "./dn";
import { escapeFilterValue } from "./escape";
import { bufs, LdapConnection, Modification, str } from "./connection";
import { domainInfo } from "./domain";
import {
  decodeDnsRecord,
  decodeSoa,
  DnsRecordValue,
  DnsType,
  encodeDnsRecord,
  encodeSoa,
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

/** Where the zone lives: DomainDnsZones, ForestDnsZones, or the legacy System container. */
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

async function locateZone(c: LdapConnection, zone: string): Promise<string> {
  const info = await domainInfo(c);
  const partitions = info.namingContexts.filter((nc) => /^DC=(DomainDnsZones|ForestDnsZones),/i.test(nc));
  partitions.sort((a, b) => (/^DC=DomainDnsZones/i.test(a) ? 0 : 1) - (/^DC=DomainDnsZones/i.test(b) ? 0 : 1));
  const bases = [...partitions.map((nc) => `CN=MicrosoftDNS,${nc}`), `CN=MicrosoftDNS,CN=System,${info.defaultNamingContext}`];
  const hits: string[] = [];
  for (const base of bases) {
    try {
      const found = await c.search(base, { scope: "one", filter: `(&(objectClass=dnsZone)(dc=${escapeFilterValue(zone)}))`, attributes: ["dc"] });
      hits.push(...found.map((e) => e.dn));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e; // no such container (Samba has no legacy one)
    }
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

/** Increments the zone's SOA serial ([MS-DNSP] §2.2.2.2.4.3, RFC 1982) and returns the new value. */
export async function bumpSerial(c: LdapConnection, zoneDn: string): Promise<number> {
  const apex = nodeDn(zoneDn, "@");
  for (let attempt = 0; ; attempt++) {
    const n = await readNode(c, apex);
    const soa = n.values.find((v) => v.rec.type === DnsType.SOA);
    if (!soa) throw new NotFoundError(`the zone apex ${apex} has no SOA record`, "repair the zone (its @ node must hold an SOA record)", { code: "DNS_ZONE_NO_SOA" });
    const data = decodeSoa(soa.rec.data);
    const serial = nextSerial(data.serial);
    const raw = encodeDnsRecord({ ...soa.rec, serial, data: encodeSoa({ ...data, serial }) });
    try {
      await c.modify(apex, [
        { operation: "delete", type: "dnsRecord", values: [soa.raw] },
        { operation: "add", type: "dnsRecord", values: [raw] },
      ]);
      return serial;
    } catch (e) {
      if (!isRetryable(e) || attempt >= ATTEMPTS) throw e;
      await backoff(attempt);
    }
  }
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
    const keep = ours.filter((v) => v.rec.ttl === ttl && desired.some((d) => d.equals(v.rec.data)));
    const remove = ours.filter((v) => !keep.includes(v));
    const add = desired.filter((d) => !keep.some((k) => k.rec.data.equals(d)));
    const tombstone = desired.length === 0 && others.length === 0 && n.exists && !n.tombstoned;
    const revive = desired.length > 0 && n.exists && (n.tombstoned || dead.length > 0);
    const remark = mark !== undefined && n.exists && (n.mark ?? null) !== mark;
    if (add.length === 0 && remove.length === 0 && !tombstone && !revive && !remark) return { added: 0, removed: 0, tombstoned: false, revived: false };
    if (!n.exists && desired.length === 0) return { added: 0, removed: 0, tombstoned: false, revived: false };
    try {
      // Only a change of the records themselves is a new version of the zone: taking over a
      // record (writing our mark beside it) leaves the SOA serial alone.
      const recordsChange = !n.exists || add.length > 0 || remove.length > 0 || tombstone || revive;
      const serial = recordsChange ? await bumpSerial(c, zoneDn) : 0;
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
