// A service ticket: decode the Ticket, decrypt its enc-part with the service's key (key usage 2,
// RFC 4120 §7.5.1) and decode enough of the EncTicketPart to say whom it is for and when.
//
//   Ticket        ::= [APPLICATION 1] SEQUENCE { tkt-vno [0] INTEGER (5), realm [1] Realm,
//                       sname [2] PrincipalName, enc-part [3] EncryptedData }     -- RFC 4120 §5.3
//   EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL,
//                       cipher [2] OCTET STRING }                                  -- §5.2.9
//   PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString } -- §5.2.2
//   EncTicketPart ::= [APPLICATION 3] SEQUENCE { flags [0] TicketFlags, key [1] EncryptionKey,
//                       crealm [2] Realm, cname [3] PrincipalName, transited [4] TransitedEncoding,
//                       authtime [5] KerberosTime, starttime [6] KerberosTime OPTIONAL,
//                       endtime [7] KerberosTime, renew-till [8] KerberosTime OPTIONAL,
//                       caddr [9] HostAddresses OPTIONAL, authorization-data [10] OPTIONAL } -- §5.3
import { EncryptionKey, decrypt } from "./crypto";
import {
  DerElement,
  Fields,
  TagClass,
  UniversalTag,
  children,
  expectTag,
  readBitString,
  readElement,
  readInteger,
  readKerberosString,
  readKerberosTime,
  readOctetString,
  readOnly,
  unwrapApplication,
} from "./der";
import { isAesSha1 } from "./etype";
import { IntegrityError, KerberosFormatError } from "./errors";
import { PrincipalName } from "./principal";

/** RFC 4120 §7.5.1: AS-REP/TGS-REP Ticket, encrypted with the service key. */
export const KEY_USAGE_TICKET = 2;

export interface EncryptedData {
  etype: number;
  kvno?: number;
  cipher: Buffer;
}

export interface Ticket {
  realm: string;
  sname: PrincipalName;
  encPart: EncryptedData;
}

export interface EncTicketPart {
  /** TicketFlags (RFC 4120 §5.3) as the first 32 bits, bit 0 = most significant. */
  flags: number;
  /** The session key's type only: the key itself is dropped on decode. */
  sessionKeyEtype: number;
  crealm: string;
  cname: PrincipalName;
  authTime: Date;
  startTime?: Date;
  endTime: Date;
  renewTill?: Date;
}

export function readPrincipalName(el: DerElement, what: string): PrincipalName {
  const f = new Fields(el, what);
  const nameType = readInteger(f.required(0, "name-type"), `${what} name-type`);
  const strings = expectTag(f.required(1, "name-string"), TagClass.Universal, UniversalTag.Sequence, `${what} name-string`);
  return { nameType, components: children(strings).map((s) => readKerberosString(s, `${what} name-string`)) };
}

export function readEncryptedData(el: DerElement, what: string): EncryptedData {
  const f = new Fields(el, what);
  const kvnoEl = f.optional(1);
  return {
    etype: readInteger(f.required(0, "etype"), `${what} etype`),
    kvno: kvnoEl ? readInteger(kvnoEl, `${what} kvno`) : undefined,
    cipher: readOctetString(f.required(2, "cipher"), `${what} cipher`),
  };
}

/** Decodes a DER Ticket ([APPLICATION 1]). */
export function decodeTicket(bytes: Buffer): Ticket {
  const f = new Fields(unwrapApplication(readOnly(bytes), 1, "Ticket"), "Ticket");
  const vno = readInteger(f.required(0, "tkt-vno"), "Ticket tkt-vno");
  if (vno !== 5) throw new KerberosFormatError("Ticket", `tkt-vno ${vno} (5 expected)`);
  return {
    realm: readKerberosString(f.required(1, "realm"), "Ticket realm"),
    sname: readPrincipalName(f.required(2, "sname"), "Ticket sname"),
    encPart: readEncryptedData(f.required(3, "enc-part"), "Ticket enc-part"),
  };
}

/** Decodes a decrypted EncTicketPart ([APPLICATION 3]). Ciphers with padding (not AES-CTS) may
 * leave octets after the element, so only the first element is read. */
export function decodeEncTicketPart(plain: Buffer): EncTicketPart {
  const { element } = readElement(plain, 0);
  const f = new Fields(unwrapApplication(element, 3, "EncTicketPart"), "EncTicketPart");
  const flagBytes = readBitString(f.required(0, "flags"), "EncTicketPart flags");
  const flags = Buffer.concat([flagBytes, Buffer.alloc(4)]).readUInt32BE(0);
  const key = new Fields(f.required(1, "key"), "EncTicketPart key");
  const optionalTime = (tag: number, name: string): Date | undefined => {
    const el = f.optional(tag);
    return el ? readKerberosTime(el, `EncTicketPart ${name}`) : undefined;
  };
  return {
    flags,
    sessionKeyEtype: readInteger(key.required(0, "keytype"), "EncTicketPart keytype"),
    crealm: readKerberosString(f.required(2, "crealm"), "EncTicketPart crealm"),
    cname: readPrincipalName(f.required(3, "cname"), "EncTicketPart cname"),
    authTime: readKerberosTime(f.required(5, "authtime"), "EncTicketPart authtime"),
    startTime: optionalTime(6, "starttime"),
    endTime: readKerberosTime(f.required(7, "endtime"), "EncTicketPart endtime"),
    renewTill: optionalTime(8, "renew-till"),
  };
}

export type TicketDecryption =
  | { kind: "decrypted"; ticket: Ticket; part: EncTicketPart }
  /** The integrity check failed: the service key is not the one the KDC used (KRB_AP_ERR_MODIFIED). */
  | { kind: "wrong-key"; ticket: Ticket }
  /** RC4 (23) or another etype not implemented here; nothing was tried. */
  | { kind: "unsupported-etype"; ticket: Ticket; etype: number }
  /** The caller's key is of another AES type than the ticket. */
  | { kind: "etype-mismatch"; ticket: Ticket; etype: number; keyEtype: number };

/** Decrypts the ticket's enc-part with `key` for key usage 2 and decodes it. */
export function decryptTicket(ticket: Ticket, key: EncryptionKey): TicketDecryption {
  const etype = ticket.encPart.etype;
  if (!isAesSha1(etype)) return { kind: "unsupported-etype", ticket, etype };
  if (key.etype !== etype) return { kind: "etype-mismatch", ticket, etype, keyEtype: key.etype };
  let plain: Buffer;
  try {
    plain = decrypt(key, KEY_USAGE_TICKET, ticket.encPart.cipher);
  } catch (e) {
    if (e instanceof IntegrityError) return { kind: "wrong-key", ticket };
    throw e;
  }
  return { kind: "decrypted", ticket, part: decodeEncTicketPart(plain) };
}
