// The dnsRecord attribute of a dnsNode in an AD-integrated zone, [MS-DNSP] §2.3.2.2: a 24-byte
// header followed by type-specific data. Every multi-byte header field is little-endian except
// TtlSeconds, which is big-endian; the numbers inside SOA data are big-endian too (§2.2.2.2.4.3).
import { isIPv4, isIPv6 } from "node:net";
import { filetimeToBytes } from "./filetime";

/** DNS_RECORD_TYPE values we handle ([MS-DNSP] §2.2.2.1.1). */
export const DnsType = { ZERO: 0, A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, SRV: 33 } as const;
/** The header's Version field MUST be 5. */
export const DNS_RECORD_VERSION = 5;
/** RANK_ZONE: authoritative data of a zone the server hosts (§2.2.2.2.5 dwFlags). */
export const RANK_ZONE = 0xf0;
export const HEADER_LENGTH = 24;

export interface DnsRecordValue {
  type: number;
  version: number;
  rank: number;
  flags: number;
  /** The zone's SOA serial when the record was written. */
  serial: number;
  ttl: number;
  reserved: number;
  /** Hours since 1601 for a dynamically registered (scavengeable) record, 0 for a static one. */
  timestamp: number;
  data: Buffer;
}

export function encodeDnsRecord(r: Partial<DnsRecordValue> & { type: number; data: Buffer }): Buffer {
  if (r.data.length > 0xffff) throw new Error(`record data of ${r.data.length} bytes does not fit DataLength`);
  const b = Buffer.alloc(HEADER_LENGTH + r.data.length);
  b.writeUInt16LE(r.data.length, 0);
  b.writeUInt16LE(r.type, 2);
  b.writeUInt8(r.version ?? DNS_RECORD_VERSION, 4);
  b.writeUInt8(r.rank ?? RANK_ZONE, 5);
  b.writeUInt16LE(r.flags ?? 0, 6);
  b.writeUInt32LE(r.serial ?? 0, 8);
  b.writeUInt32BE(r.ttl ?? 3600, 12);
  b.writeUInt32LE(r.reserved ?? 0, 16);
  b.writeUInt32LE(r.timestamp ?? 0, 20);
  r.data.copy(b, HEADER_LENGTH);
  return b;
}

export function decodeDnsRecord(b: Buffer): DnsRecordValue {
  if (b.length < HEADER_LENGTH) throw new Error(`a dnsRecord value is at least ${HEADER_LENGTH} bytes, got ${b.length}`);
  const length = b.readUInt16LE(0);
  if (HEADER_LENGTH + length > b.length) throw new Error(`dnsRecord DataLength ${length} exceeds the ${b.length - HEADER_LENGTH} data bytes present`);
  return {
    type: b.readUInt16LE(2),
    version: b.readUInt8(4),
    rank: b.readUInt8(5),
    flags: b.readUInt16LE(6),
    serial: b.readUInt32LE(8),
    ttl: b.readUInt32BE(12),
    reserved: b.readUInt32LE(16),
    timestamp: b.readUInt32LE(20),
    data: Buffer.from(b.subarray(HEADER_LENGTH, HEADER_LENGTH + length)),
  };
}

// ---- record data ----

export function encodeA(ip: string): Buffer {
  if (!isIPv4(ip)) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  return Buffer.from(ip.split(".").map(Number));
}

export function decodeA(d: Buffer): string {
  if (d.length !== 4) throw new Error(`A record data is 4 bytes, got ${d.length}`);
  return Array.from(d).join(".");
}

export function encodeAAAA(ip: string): Buffer {
  if (!isIPv6(ip)) throw new Error(`${JSON.stringify(ip)} is not an IPv6 address`);
  let s = ip.toLowerCase();
  const groups: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    s = `${s.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":").map((x) => parseInt(x, 16)) : [];
  const t = tail ? tail.split(":").map((x) => parseInt(x, 16)) : [];
  groups.push(...h, ...new Array(tail === undefined ? 0 : 8 - h.length - t.length).fill(0), ...t);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

/** RFC 5952 text: lowercase, leading zeros dropped, the longest run (≥ 2) of zero groups as `::`. */
export function decodeAAAA(d: Buffer): string {
  if (d.length !== 16) throw new Error(`AAAA record data is 16 bytes, got ${d.length}`);
  const g = Array.from({ length: 8 }, (_, i) => d.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** The canonical text of an address, for comparing declared values with stored ones. */
export function canonicalAddress(type: "A" | "AAAA", ip: string): string {
  return type === "A" ? decodeA(encodeA(ip)) : decodeAAAA(encodeAAAA(ip));
}

/**
 * DNS_COUNT_NAME ([MS-DNSP] §2.2.2.2.2): Length (bytes of RawName including its final 0),
 * LabelCount, RawName (each label prefixed by its length, then a 0 byte).
 */
export function encodeCountName(fqdn: string): Buffer {
  const name = fqdn.endsWith(".") ? fqdn.slice(0, -1) : fqdn;
  if (name === "") return Buffer.from([0, 0]);
  const labels = name.split(".").map((l) => Buffer.from(l, "utf8"));
  if (labels.some((l) => l.length === 0 || l.length > 63)) throw new Error(`${JSON.stringify(fqdn)} has an empty or over-long label`);
  const raw = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
  if (raw.length > 256) throw new Error(`${JSON.stringify(fqdn)} is longer than a DNS name may be`);
  return Buffer.concat([Buffer.from([raw.length, labels.length]), raw]);
}

/** Decodes a DNS_COUNT_NAME at `offset`; returns the name (no trailing dot) and the bytes used. */
export function decodeCountName(d: Buffer, offset = 0): { name: string; length: number } {
  if (d.length < offset + 2) throw new Error("DNS_COUNT_NAME is truncated");
  const len = d[offset];
  const count = d[offset + 1];
  if (len === 0) return { name: "", length: 2 };
  const raw = d.subarray(offset + 2, offset + 2 + len);
  if (raw.length !== len) throw new Error("DNS_COUNT_NAME is truncated");
  const labels: string[] = [];
  let i = 0;
  while (i < raw.length && raw[i] !== 0) {
    const l = raw[i];
    if (i + 1 + l > raw.length) throw new Error("DNS_COUNT_NAME label runs past its Length");
    labels.push(raw.subarray(i + 1, i + 1 + l).toString("utf8"));
    i += 1 + l;
  }
  if (labels.length !== count) throw new Error(`DNS_COUNT_NAME says ${count} labels, holds ${labels.length}`);
  return { name: labels.join("."), length: 2 + len };
}

export interface SoaData {
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimumTtl: number;
  primaryServer: string;
  zoneAdministratorEmail: string;
}

/** DNS_RPC_RECORD_SOA ([MS-DNSP] §2.2.2.2.4.3): five big-endian u32, then two DNS_COUNT_NAMEs. */
export function decodeSoa(d: Buffer): SoaData {
  if (d.length < 22) throw new Error(`SOA record data is at least 22 bytes, got ${d.length}`);
  const primary = decodeCountName(d, 20);
  const admin = decodeCountName(d, 20 + primary.length);
  return {
    serial: d.readUInt32BE(0),
    refresh: d.readUInt32BE(4),
    retry: d.readUInt32BE(8),
    expire: d.readUInt32BE(12),
    minimumTtl: d.readUInt32BE(16),
    primaryServer: primary.name,
    zoneAdministratorEmail: admin.name,
  };
}

export function encodeSoa(s: SoaData): Buffer {
  const nums = Buffer.alloc(20);
  [s.serial, s.refresh, s.retry, s.expire, s.minimumTtl].forEach((v, i) => nums.writeUInt32BE(v >>> 0, i * 4));
  return Buffer.concat([nums, encodeCountName(s.primaryServer), encodeCountName(s.zoneAdministratorEmail)]);
}

/** RFC 1982 serial arithmetic: the next serial after `s`, skipping 0 as Windows does. */
export function nextSerial(s: number): number {
  const n = (s + 1) >>> 0;
  return n === 0 ? 1 : n;
}

/** A tombstone value (§2.3.2.2 with Type 0): the data is the FILETIME the node was entombed. */
export function tombstoneRecord(entombed: bigint, serial = 0): Buffer {
  return encodeDnsRecord({ type: DnsType.ZERO, data: filetimeToBytes(entombed), serial, ttl: 0, rank: RANK_ZONE });
}

/** The value of an A, AAAA or CNAME record as text; undefined for other types. */
export function recordText(r: DnsRecordValue): string | undefined {
  switch (r.type) {
    case DnsType.A:
      return decodeA(r.data);
    case DnsType.AAAA:
      return decodeAAAA(r.data);
    case DnsType.CNAME:
      return decodeCountName(r.data).name.toLowerCase();
    default:
      return undefined;
  }
}

export function typeName(t: number): string {
  const hit = Object.entries(DnsType).find(([, v]) => v === t);
  return hit ? hit[0] : `TYPE${t}`;
}
