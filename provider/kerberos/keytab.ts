// MIT FILE: keytab, version 0x0502 (MIT krb5 doc/formats/keytab_file_format.rst; field widths as
// MIT 1.20 ktutil writes them): after the version, records of { s32 length, entry }, where
//   entry     ::= u16 component count, data realm, data component…, u32 name type,
//                 u32 timestamp, u8 kvno, u16 enctype, data key, [u32 kvno]
//   data      ::= u16 length, octets
// A negative length is a hole of that many octets. Lets tests and admins hand `kvno -k` a keytab
// built from the ASA password without ktutil. The file holds keys: write it 0600 in a private dir.
import { writeFile } from "node:fs/promises";
import { EncryptionKey } from "./crypto";
import { KerberosFormatError } from "./errors";
import { Principal } from "./principal";

export interface KeytabEntry {
  principal: Principal;
  kvno: number;
  key: EncryptionKey;
  /** Default: now. */
  timestamp?: Date;
}

function data(b: Buffer): Buffer {
  if (b.length > 0xffff) throw new RangeError(`keytab field of ${b.length} octets`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function encodeEntry(e: KeytabEntry): Buffer {
  if (!Number.isInteger(e.kvno) || e.kvno < 0 || e.kvno > 0xffffffff) throw new RangeError(`kvno ${e.kvno}`);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(e.principal.components.length);
  const tail = Buffer.alloc(4 + 4 + 1 + 2);
  tail.writeUInt32BE(e.principal.nameType, 0);
  tail.writeUInt32BE(Math.floor((e.timestamp ?? new Date()).getTime() / 1000) >>> 0, 4);
  // The 8-bit kvno wraps; the trailing 32-bit kvno carries the real value (MIT reads it when non-zero).
  tail.writeUInt8(e.kvno & 0xff, 8);
  tail.writeUInt16BE(e.key.etype, 9);
  const kvno32 = Buffer.alloc(4);
  kvno32.writeUInt32BE(e.kvno);
  return Buffer.concat([
    head,
    data(Buffer.from(e.principal.realm, "utf8")),
    ...e.principal.components.map((c) => data(Buffer.from(c, "utf8"))),
    tail,
    data(e.key.value),
    kvno32,
  ]);
}

export function encodeKeytab(entries: KeytabEntry[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x05, 0x02])];
  for (const e of entries) {
    const body = encodeEntry(e);
    const len = Buffer.alloc(4);
    len.writeInt32BE(body.length);
    parts.push(len, body);
  }
  return Buffer.concat(parts);
}

/** Writes the keytab with mode 0600 (it holds keys). */
export async function writeKeytab(path: string, entries: KeytabEntry[]): Promise<void> {
  await writeFile(path, encodeKeytab(entries), { mode: 0o600 });
}

/** Parses a v2 keytab (used to check what MIT tools wrote, and by tests). */
export function parseKeytab(bytes: Buffer): Required<KeytabEntry>[] {
  const fail = (m: string): never => {
    throw new KerberosFormatError("keytab", m);
  };
  if (bytes.length < 2 || bytes[0] !== 0x05 || bytes[1] !== 0x02) fail("not a version 0x0502 keytab");
  const out: Required<KeytabEntry>[] = [];
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    const size = bytes.readInt32BE(pos);
    pos += 4;
    if (size === 0) break;
    if (size < 0) {
      pos += -size;
      continue;
    }
    if (pos + size > bytes.length) fail(`record at offset ${pos - 4} claims ${size} octets`);
    const rec = bytes.subarray(pos, pos + size);
    pos += size;
    let p = 0;
    const need = (n: number): void => {
      if (p + n > rec.length) fail(`record truncated at offset ${p}`);
    };
    const u16 = (): number => {
      need(2);
      p += 2;
      return rec.readUInt16BE(p - 2);
    };
    const u32 = (): number => {
      need(4);
      p += 4;
      return rec.readUInt32BE(p - 4);
    };
    const str = (): Buffer => {
      const n = u16();
      need(n);
      p += n;
      return rec.subarray(p - n, p);
    };
    const count = u16();
    const realm = str().toString("utf8");
    const components: string[] = [];
    for (let i = 0; i < count; i++) components.push(str().toString("utf8"));
    const nameType = u32();
    const timestamp = new Date(u32() * 1000);
    need(1);
    let kvno = rec[p++];
    const etype = u16();
    const value = Buffer.from(str());
    if (p + 4 <= rec.length) {
      const k32 = rec.readUInt32BE(p);
      if (k32 !== 0) kvno = k32;
    }
    out.push({ principal: { nameType, components, realm }, kvno, key: { etype, value }, timestamp });
  }
  return out;
}
