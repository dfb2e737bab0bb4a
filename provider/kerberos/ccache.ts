// Reader for the MIT FILE: credential cache (MIT krb5 doc/formats/ccache_file_format.rst):
// versions 0x0503 and 0x0504 (big-endian; 1 and 2 use native byte order and predate krb5 1.0's
// successors, so they are refused). The credentials carry session keys: callers hand back only the
// ticket and the public fields, never `key`.
import { readFile } from "node:fs/promises";
import { EncryptionKey } from "./crypto";
import { KerberosFormatError } from "./errors";
import { Principal } from "./principal";

export interface CcacheCredential {
  client: Principal;
  server: Principal;
  /** The session key. Secret: never log or return it from a public API. */
  key: EncryptionKey;
  authTime: Date;
  startTime?: Date;
  endTime: Date;
  renewTill?: Date;
  isSkey: boolean;
  /** TicketFlags as the 32-bit big-endian value of the BIT STRING (RFC 4120 §5.3). */
  flags: number;
  addresses: { type: number; data: Buffer }[];
  authData: { type: number; data: Buffer }[];
  /** The DER Ticket (RFC 4120 §5.3, [APPLICATION 1]). */
  ticket: Buffer;
  secondTicket: Buffer;
}

/** A configuration entry (realm X-CACHECONF:): key, optional principal, value. */
export interface CcacheConfigEntry {
  key: string;
  principal?: string;
  value: Buffer;
}

export interface Ccache {
  version: 0x0503 | 0x0504;
  /** Header tag 1 (v4): KDC time minus client time. */
  kdcTimeOffset?: { seconds: number; microseconds: number };
  defaultPrincipal: Principal;
  credentials: CcacheCredential[];
  config: CcacheConfigEntry[];
}

const CONFIG_REALM = "X-CACHECONF:";

class Cursor {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new KerberosFormatError("ccache", `truncated at offset ${this.pos} reading ${what} (${n} octets needed, ${this.buf.length - this.pos} left)`);
    }
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.pos++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** data ::= length (32 bits) value. */
  data(what: string): Buffer {
    return this.bytes(this.u32(`${what} length`), what);
  }
}

function readPrincipal(c: Cursor, what: string): Principal {
  const nameType = c.u32(`${what} name type`);
  const count = c.u32(`${what} component count`);
  if (count > 64) throw new KerberosFormatError("ccache", `${what} claims ${count} components`);
  const realm = c.data(`${what} realm`).toString("utf8");
  const components: string[] = [];
  for (let i = 0; i < count; i++) components.push(c.data(`${what} component ${i + 1}`).toString("utf8"));
  return { nameType, components, realm };
}

function time(seconds: number): Date | undefined {
  return seconds === 0 ? undefined : new Date(seconds * 1000);
}

function readCounted(c: Cursor, what: string): { type: number; data: Buffer }[] {
  const count = c.u32(`${what} count`);
  if (count > 4096) throw new KerberosFormatError("ccache", `${what} count ${count} is implausible`);
  const out: { type: number; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) out.push({ type: c.u16(`${what} type`), data: c.data(what) });
  return out;
}

/** Parses the bytes of a FILE: ccache. */
export function parseCcache(bytes: Buffer): Ccache {
  const c = new Cursor(bytes);
  const version = c.u16("file format version");
  if (version !== 0x0503 && version !== 0x0504) {
    const hex = version.toString(16).padStart(4, "0");
    throw new KerberosFormatError("ccache", `file format version 0x${hex} is not supported (0x0503 or 0x0504 expected)`, "obtain the ticket with a current MIT kinit/kvno, or check that the file is a FILE: ccache", { code: "CCACHE_VERSION_UNSUPPORTED" });
  }
  let kdcTimeOffset: Ccache["kdcTimeOffset"];
  if (version === 0x0504) {
    const headerLength = c.u16("header length");
    const end = c.pos + headerLength;
    while (c.pos < end) {
      const tag = c.u16("header tag");
      const length = c.u16("header field length");
      const value = c.bytes(length, `header field ${tag}`);
      if (tag === 1 && length === 8) kdcTimeOffset = { seconds: value.readInt32BE(0), microseconds: value.readInt32BE(4) };
    }
    if (c.pos !== end) throw new KerberosFormatError("ccache", "header fields overrun the header length");
  }
  const defaultPrincipal = readPrincipal(c, "default principal");
  const credentials: CcacheCredential[] = [];
  const config: CcacheConfigEntry[] = [];
  while (!c.done) {
    const client = readPrincipal(c, "client");
    const server = readPrincipal(c, "server");
    const etype = c.u16("key enctype");
    if (version === 0x0503) c.u16("key enctype (repeated in v3)");
    const keyValue = Buffer.from(c.data("key"));
    const authTime = c.u32("authtime");
    const startTime = c.u32("starttime");
    const endTime = c.u32("endtime");
    const renewTill = c.u32("renew_till");
    const isSkey = c.u8("is_skey") !== 0;
    const flags = c.u32("ticket_flags");
    const addresses = readCounted(c, "address");
    const authData = readCounted(c, "authdata");
    const ticket = c.data("ticket");
    const secondTicket = c.data("second_ticket");
    if (server.realm === CONFIG_REALM) {
      // Configuration entries reuse the credential layout; their "ticket" is the value and need not be DER.
      config.push({ key: server.components[1] ?? "", principal: server.components[2], value: ticket });
      continue;
    }
    credentials.push({
      client,
      server,
      key: { etype, value: keyValue },
      authTime: new Date(authTime * 1000),
      startTime: time(startTime),
      endTime: new Date(endTime * 1000),
      renewTill: time(renewTill),
      isSkey,
      flags,
      addresses,
      authData,
      ticket,
      secondTicket,
    });
  }
  return { version, kdcTimeOffset, defaultPrincipal, credentials, config };
}

/** Reads a ccache named "FILE:/path" or "/path". Other types (KEYRING:, KCM:, MEMORY:, DIR:) are
 * not files; the doctor always uses a private FILE: cache. */
export async function readCcacheFile(name: string): Promise<Ccache> {
  const m = /^([A-Z]+):(.*)$/.exec(name);
  if (m && m[1] !== "FILE") {
    throw new KerberosFormatError("ccache", `${m[1]}: credential caches are not files and cannot be read here`, "point KRB5CCNAME at a FILE: cache", { code: "CCACHE_NOT_A_FILE" });
  }
  return parseCcache(await readFile(m ? m[2] : name));
}
