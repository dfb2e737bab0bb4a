// Test-side encoders for the structures the provider only reads: a Ticket with its encrypted
// EncTicketPart (RFC 4120 §5.3) and an MIT FILE: ccache (MIT krb5 doc/formats/ccache_file_format.rst).
// Written independently of the readers so that a shared misreading would have to be made twice.
import { EncryptionKey, encrypt } from "../../../provider/kerberos/crypto";
import { der } from "../../../provider/kerberos/der";
import { Principal, PrincipalName } from "../../../provider/kerberos/principal";

export function principalName(p: PrincipalName): Buffer {
  return der.sequence(der.context(0, der.integer(p.nameType)), der.context(1, der.sequence(...p.components.map((c) => der.generalString(c)))));
}

export interface EncTicketPartSpec {
  client: Principal;
  authTime: Date;
  endTime: Date;
  sessionKeyEtype?: number;
}

export function encTicketPart(s: EncTicketPartSpec): Buffer {
  return der.application(
    3,
    der.sequence(
      der.context(0, der.bitString(Buffer.from([0x40, 0xe1, 0x00, 0x00]))),
      der.context(1, der.sequence(der.context(0, der.integer(s.sessionKeyEtype ?? 18)), der.context(1, der.octetString(Buffer.alloc(32, 0xee))))),
      der.context(2, der.generalString(s.client.realm)),
      der.context(3, principalName(s.client)),
      der.context(4, der.sequence(der.context(0, der.integer(1)), der.context(1, der.octetString(Buffer.alloc(0))))),
      der.context(5, der.generalizedTime(s.authTime)),
      der.context(6, der.generalizedTime(s.authTime)),
      der.context(7, der.generalizedTime(s.endTime)),
    ),
  );
}

/** A Ticket for `server` whose enc-part is `cipher` (already encrypted) of type `etype`. */
export function ticketWithCipher(server: Principal, etype: number, kvno: number | undefined, cipher: Buffer): Buffer {
  const encPart = der.sequence(
    der.context(0, der.integer(etype)),
    ...(kvno === undefined ? [] : [der.context(1, der.integer(kvno))]),
    der.context(2, der.octetString(cipher)),
  );
  return der.application(1, der.sequence(der.context(0, der.integer(5)), der.context(1, der.generalString(server.realm)), der.context(2, principalName(server)), der.context(3, encPart)));
}

/** A Ticket for `server`, its EncTicketPart encrypted with `serviceKey` for key usage 2. */
export function ticket(server: Principal, serviceKey: EncryptionKey, kvno: number, part: EncTicketPartSpec): Buffer {
  return ticketWithCipher(server, serviceKey.etype, kvno, encrypt(serviceKey, 2, encTicketPart(part)));
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function data(b: Buffer | string): Buffer {
  const buf = typeof b === "string" ? Buffer.from(b, "utf8") : b;
  return Buffer.concat([u32(buf.length), buf]);
}

function ccPrincipal(p: Principal): Buffer {
  return Buffer.concat([u32(p.nameType), u32(p.components.length), data(p.realm), ...p.components.map((c) => data(c))]);
}

export interface CcacheCredentialSpec {
  client: Principal;
  server: Principal;
  key: EncryptionKey;
  authTime: number;
  startTime: number;
  endTime: number;
  renewTill: number;
  flags: number;
  ticket: Buffer;
}

export function ccache(version: 0x0503 | 0x0504, defaultPrincipal: Principal, creds: CcacheCredentialSpec[]): Buffer {
  const parts: Buffer[] = [u16(version)];
  if (version === 0x0504) {
    // One header field: tag 1 (KDC time offset), 8 octets: seconds -3, microseconds 250.
    const offset = Buffer.alloc(8);
    offset.writeInt32BE(-3, 0);
    offset.writeInt32BE(250, 4);
    parts.push(u16(12), u16(1), u16(8), offset);
  }
  parts.push(ccPrincipal(defaultPrincipal));
  for (const c of creds) {
    parts.push(
      ccPrincipal(c.client),
      ccPrincipal(c.server),
      u16(c.key.etype),
      ...(version === 0x0503 ? [u16(c.key.etype)] : []),
      data(c.key.value),
      u32(c.authTime),
      u32(c.startTime),
      u32(c.endTime),
      u32(c.renewTill),
      Buffer.from([0]),
      u32(c.flags),
      u32(1),
      u16(2),
      data(Buffer.from([127, 0, 0, 2])),
      u32(0),
      data(c.ticket),
      data(Buffer.alloc(0)),
    );
  }
  return Buffer.concat(parts);
}

/** A configuration entry as MIT writes it: server realm X-CACHECONF:, components
 * krb5_ccache_conf_data / key [/ principal], the value in the ticket field, the rest zero. */
export function ccacheConfigEntry(client: Principal, key: string, value: string): CcacheCredentialSpec {
  return {
    client,
    server: { nameType: 0, realm: "X-CACHECONF:", components: ["krb5_ccache_conf_data", key] },
    key: { etype: 0, value: Buffer.alloc(0) },
    authTime: 0,
    startTime: 0,
    endTime: 0,
    renewTill: 0,
    flags: 0,
    ticket: Buffer.from(value),
  };
}
