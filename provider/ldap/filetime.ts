// Windows FILETIME: 100-nanosecond intervals since 1601-01-01 UTC ([MS-DTYP] §2.3.3). AD stores
// pwdLastSet, lastLogonTimestamp and accountExpires this way, as decimal strings of a 64-bit value;
// MS-DNSP tombstones store it as 8 little-endian bytes; dnsRecord TimeStamp counts *hours* since 1601.

/** Intervals between 1601-01-01 and 1970-01-01. */
const EPOCH_DIFF = 116444736000000000n;
const PER_MS = 10000n;

/** `pwdLastSet: 0` means "must change at next logon"; `0x7FFFFFFFFFFFFFFF` means "never". */
export const FILETIME_NEVER = 0x7fffffffffffffffn;

export function filetimeFromDate(d: Date): bigint {
  return BigInt(d.getTime()) * PER_MS + EPOCH_DIFF;
}

/** undefined for 0 and "never", which are markers rather than times. */
export function dateFromFiletime(ft: bigint): Date | undefined {
  if (ft <= 0n || ft >= FILETIME_NEVER) return undefined;
  return new Date(Number((ft - EPOCH_DIFF) / PER_MS));
}

/** Parses AD's decimal string form (`"133482114123456789"`). */
export function parseFiletime(value: string): bigint {
  if (!/^-?\d+$/.test(value.trim())) throw new Error(`${JSON.stringify(value)} is not a FILETIME`);
  return BigInt(value.trim());
}

/** 8-byte little-endian form (MS-DNSP §2.2.2.2.4.23 DNS_RPC_RECORD_TS, the tombstone's EntombedTime). */
export function filetimeToBytes(ft: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(ft);
  return b;
}

export function filetimeFromBytes(b: Buffer): bigint {
  if (b.length !== 8) throw new Error(`a FILETIME is 8 bytes, got ${b.length}`);
  return b.readBigUInt64LE(0);
}

