// The messages of the AS and TGS exchanges (RFC 4120 §5.4, §5.5.1, §5.9.1), DER both ways:
//
//   AS-REQ ::= [APPLICATION 10] KDC-REQ          TGS-REQ ::= [APPLICATION 12] KDC-REQ
//   KDC-REQ ::= SEQUENCE { pvno [1] 5, msg-type [2] INTEGER, padata [3] SEQUENCE OF PA-DATA OPTIONAL,
//                 req-body [4] KDC-REQ-BODY }
//   KDC-REQ-BODY ::= SEQUENCE { kdc-options [0] KDCOptions, cname [1] PrincipalName OPTIONAL,
//                 realm [2] Realm, sname [3] PrincipalName OPTIONAL, from [4] OPTIONAL, till [5]
//                 KerberosTime, rtime [6] OPTIONAL, nonce [7] UInt32, etype [8] SEQUENCE OF Int32, … }
//   AS-REP ::= [APPLICATION 11] KDC-REP          TGS-REP ::= [APPLICATION 13] KDC-REP
//   KDC-REP ::= SEQUENCE { pvno [0], msg-type [1], padata [2] OPTIONAL, crealm [3], cname [4],
//                 ticket [5] Ticket, enc-part [6] EncryptedData }
//   EncASRepPart ::= [APPLICATION 25] EncKDCRepPart   EncTGSRepPart ::= [APPLICATION 26] EncKDCRepPart
//   EncKDCRepPart ::= SEQUENCE { key [0] EncryptionKey, last-req [1], nonce [2] UInt32,
//                 key-expiration [3] OPTIONAL, flags [4], authtime [5], starttime [6] OPTIONAL,
//                 endtime [7], renew-till [8] OPTIONAL, srealm [9] Realm, sname [10] PrincipalName, … }
//   KRB-ERROR ::= [APPLICATION 30] SEQUENCE { pvno [0], msg-type [1], ctime [2] OPT, cusec [3] OPT,
//                 stime [4] KerberosTime, susec [5] Microseconds, error-code [6] Int32, crealm [7] OPT,
//                 cname [8] OPT, realm [9] Realm, sname [10] PrincipalName, e-text [11] OPT,
//                 e-data [12] OCTET STRING OPTIONAL }
//   PA-DATA ::= SEQUENCE { padata-type [1] Int32, padata-value [2] OCTET STRING }
//   PA-ENC-TS-ENC ::= SEQUENCE { patimestamp [0] KerberosTime, pausec [1] Microseconds OPTIONAL }
//   ETYPE-INFO2-ENTRY ::= SEQUENCE { etype [0] Int32, salt [1] KerberosString OPTIONAL,
//                 s2kparams [2] OCTET STRING OPTIONAL }                         -- §5.2.7.5
//   ETYPE-INFO-ENTRY ::= SEQUENCE { etype [0] Int32, salt [1] OCTET STRING OPTIONAL } -- §5.2.7.4
//   Authenticator ::= [APPLICATION 2] SEQUENCE { authenticator-vno [0] 5, crealm [1], cname [2],
//                 cksum [3] Checksum OPTIONAL, cusec [4], ctime [5], subkey [6] OPT, seq-number [7] OPT }
//   AP-REQ ::= [APPLICATION 14] SEQUENCE { pvno [0] 5, msg-type [1] 14, ap-options [2], ticket [3],
//                 authenticator [4] EncryptedData }                            -- §5.5.1
import { Checksum } from "./cipher";
import { EncryptionKey } from "./crypto";
import {
  DerElement,
  Fields,
  TagClass,
  UniversalTag,
  children,
  der,
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
import { KerberosFormatError } from "./errors";
import { encodePrincipalName, Principal, PrincipalName } from "./principal";
import { EncryptedData, readEncryptedData, readPrincipalName } from "./ticket";

export const MSG_TYPE = { AS_REQ: 10, AS_REP: 11, TGS_REQ: 12, TGS_REP: 13, AP_REQ: 14, KRB_ERROR: 30 } as const;

/** RFC 4120 §7.5.2 padata types (and RFC 6113's names for them). */
export const PA_TYPE = { TGS_REQ: 1, ENC_TIMESTAMP: 2, PW_SALT: 3, ETYPE_INFO: 11, ETYPE_INFO2: 19 } as const;

/** KDCOptions (RFC 4120 §5.4.1) as the 32-bit big-endian value of the BIT STRING; canonicalize is
 * bit 15 (RFC 6806 §11), which an enterprise name requires. */
export const KDC_OPTIONS = { FORWARDABLE: 0x40000000, CANONICALIZE: 0x00010000 } as const;

/** RFC 4120 §7.5.1 key usages of the exchanges. */
export const KEY_USAGE = {
  PA_ENC_TIMESTAMP: 1,
  AS_REP_ENC_PART: 3,
  TGS_REQ_AUTH_CKSUM: 6,
  TGS_REQ_AUTHENTICATOR: 7,
  TGS_REP_ENC_PART_SESSION_KEY: 8,
  AP_REQ_AUTHENTICATOR: 11,
} as const;

/** RFC 4120 §7.5.9 error codes the client acts on or names. */
export const KRB_ERROR_NAMES: Record<number, string> = {
  6: "KDC_ERR_C_PRINCIPAL_UNKNOWN",
  7: "KDC_ERR_S_PRINCIPAL_UNKNOWN",
  8: "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
  12: "KDC_ERR_POLICY",
  14: "KDC_ERR_ETYPE_NOSUPP",
  16: "KDC_ERR_PADATA_TYPE_NOSUPP",
  18: "KDC_ERR_CLIENT_REVOKED",
  23: "KDC_ERR_KEY_EXPIRED",
  24: "KDC_ERR_PREAUTH_FAILED",
  25: "KDC_ERR_PREAUTH_REQUIRED",
  31: "KRB_AP_ERR_BAD_INTEGRITY",
  32: "KRB_AP_ERR_TKT_EXPIRED",
  37: "KRB_AP_ERR_SKEW",
  41: "KRB_AP_ERR_MODIFIED",
  52: "KRB_ERR_RESPONSE_TOO_BIG",
  60: "KRB_ERR_GENERIC",
  68: "KDC_ERR_WRONG_REALM",
};

export function krbErrorName(code: number): string {
  return KRB_ERROR_NAMES[code] ?? `error ${code}`;
}

export interface PaData {
  type: number;
  value: Buffer;
}

export interface KdcReqBody {
  options: number;
  cname?: PrincipalName;
  realm: string;
  sname: PrincipalName;
  till: Date;
  nonce: number;
  etypes: number[];
}

function flags32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function encodePaData(p: PaData): Buffer {
  return der.sequence(der.context(1, der.integer(p.type)), der.context(2, der.octetString(p.value)));
}

/** KDC-REQ-BODY; a TGS-REQ's authenticator checksums exactly these octets. */
export function encodeKdcReqBody(b: KdcReqBody): Buffer {
  return der.sequence(
    der.context(0, der.bitString(flags32(b.options))),
    ...(b.cname ? [der.context(1, encodePrincipalName(b.cname))] : []),
    der.context(2, der.generalString(b.realm)),
    der.context(3, encodePrincipalName(b.sname)),
    der.context(5, der.generalizedTime(b.till)),
    der.context(7, der.integer(b.nonce)),
    der.context(8, der.sequence(...b.etypes.map((e) => der.integer(e)))),
  );
}

/** AS-REQ (10) or TGS-REQ (12) around an encoded body. */
export function encodeKdcReq(msgType: 10 | 12, padata: PaData[], body: Buffer): Buffer {
  return der.application(
    msgType,
    der.sequence(
      der.context(1, der.integer(5)),
      der.context(2, der.integer(msgType)),
      ...(padata.length ? [der.context(3, der.sequence(...padata.map(encodePaData)))] : []),
      der.context(4, body),
    ),
  );
}

function encodeEncryptedData(etype: number, cipher: Buffer, kvno?: number): Buffer {
  return der.sequence(der.context(0, der.integer(etype)), ...(kvno === undefined ? [] : [der.context(1, der.integer(kvno))]), der.context(2, der.octetString(cipher)));
}

/** PA-ENC-TS-ENC, plain: the client's time (corrected by the KDC's offset), to be encrypted with
 * the reply key for key usage 1 (§5.2.7.2). */
export function encodePaEncTsEnc(now: Date, usec: number): Buffer {
  return der.sequence(der.context(0, der.generalizedTime(now)), der.context(1, der.integer(usec)));
}

export function paEncTimestamp(etype: number, cipher: Buffer): PaData {
  return { type: PA_TYPE.ENC_TIMESTAMP, value: encodeEncryptedData(etype, cipher) };
}

export interface AuthenticatorSpec {
  client: Principal;
  cksum?: Checksum;
  ctime: Date;
  cusec: number;
  seqNumber?: number;
}

/** The Authenticator (§5.5.1), plain; the caller encrypts it with the session key. */
export function encodeAuthenticator(a: AuthenticatorSpec): Buffer {
  return der.application(
    2,
    der.sequence(
      der.context(0, der.integer(5)),
      der.context(1, der.generalString(a.client.realm)),
      der.context(2, encodePrincipalName(a.client)),
      ...(a.cksum ? [der.context(3, der.sequence(der.context(0, der.integer(a.cksum.type)), der.context(1, der.octetString(a.cksum.value))))] : []),
      der.context(4, der.integer(a.cusec)),
      der.context(5, der.generalizedTime(a.ctime)),
      ...(a.seqNumber === undefined ? [] : [der.context(7, der.integer(a.seqNumber))]),
    ),
  );
}

/** KRB_AP_REQ for `ticket` (DER) with an authenticator already encrypted with the session key. */
export function encodeApReq(ticket: Buffer, sessionKey: EncryptionKey, authenticatorCipher: Buffer, apOptions = 0): Buffer {
  return der.application(
    14,
    der.sequence(
      der.context(0, der.integer(5)),
      der.context(1, der.integer(14)),
      der.context(2, der.bitString(flags32(apOptions))),
      der.context(3, ticket),
      der.context(4, encodeEncryptedData(sessionKey.etype, authenticatorCipher)),
    ),
  );
}

function readPaDataList(el: DerElement, what: string): PaData[] {
  expectTag(el, TagClass.Universal, UniversalTag.Sequence, what);
  return children(el).map((p) => {
    const f = new Fields(p, what);
    return { type: readInteger(f.required(1, "padata-type"), `${what} padata-type`), value: readOctetString(f.required(2, "padata-value"), `${what} padata-value`) };
  });
}

/** METHOD-DATA (the e-data of KDC_ERR_PREAUTH_REQUIRED, §5.2.7): a SEQUENCE OF PA-DATA. */
export function decodeMethodData(bytes: Buffer): PaData[] {
  return readPaDataList(readOnly(bytes), "METHOD-DATA");
}

export interface EtypeInfo {
  etype: number;
  salt?: string;
  s2kparams?: Buffer;
}

/** ETYPE-INFO2 (§5.2.7.5) or, from older KDCs, ETYPE-INFO (§5.2.7.4), in the KDC's order. */
export function decodeEtypeInfo(pa: PaData): EtypeInfo[] {
  const two = pa.type === PA_TYPE.ETYPE_INFO2;
  const what = two ? "ETYPE-INFO2" : "ETYPE-INFO";
  return children(expectTag(readOnly(pa.value), TagClass.Universal, UniversalTag.Sequence, what)).map((entry) => {
    const f = new Fields(entry, what);
    const salt = f.optional(1);
    const params = two ? f.optional(2) : undefined;
    return {
      etype: readInteger(f.required(0, "etype"), `${what} etype`),
      ...(salt ? { salt: two ? readKerberosString(salt, `${what} salt`) : readOctetString(salt, `${what} salt`).toString("utf8") } : {}),
      ...(params ? { s2kparams: readOctetString(params, `${what} s2kparams`) } : {}),
    };
  });
}

export interface KrbError {
  code: number;
  name: string;
  /** The KDC's time: what the client's clock is corrected by (MIT's kdc_timesync). */
  stime?: Date;
  susec?: number;
  crealm?: string;
  cname?: PrincipalName;
  realm?: string;
  eText?: string;
  eData?: Buffer;
}

export interface KdcRep {
  msgType: 11 | 13;
  padata: PaData[];
  crealm: string;
  cname: PrincipalName;
  /** The Ticket, DER, as the KDC sent it. */
  ticket: Buffer;
  encPart: EncryptedData;
}

export type KdcReply = { kind: "rep"; rep: KdcRep } | { kind: "error"; error: KrbError };

function decodeKrbErrorElement(el: DerElement): KrbError {
  const f = new Fields(unwrapApplication(el, MSG_TYPE.KRB_ERROR, "KRB-ERROR"), "KRB-ERROR");
  const code = readInteger(f.required(6, "error-code"), "KRB-ERROR error-code");
  const opt = <T>(tag: number, read: (e: DerElement) => T): T | undefined => {
    const e = f.optional(tag);
    return e ? read(e) : undefined;
  };
  const out: KrbError = { code, name: krbErrorName(code) };
  const set = <K extends keyof KrbError>(k: K, v: KrbError[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set("stime", opt(4, (e) => readKerberosTime(e, "KRB-ERROR stime")));
  set("susec", opt(5, (e) => readInteger(e, "KRB-ERROR susec")));
  set("crealm", opt(7, (e) => readKerberosString(e, "KRB-ERROR crealm")));
  set("cname", opt(8, (e) => readPrincipalName(e, "KRB-ERROR cname")));
  set("realm", opt(9, (e) => readKerberosString(e, "KRB-ERROR realm")));
  set("eText", opt(11, (e) => readKerberosString(e, "KRB-ERROR e-text")));
  set("eData", opt(12, (e) => readOctetString(e, "KRB-ERROR e-data")));
  return out;
}

/** What a KDC answered: a KDC-REP (AS-REP or TGS-REP) or a KRB-ERROR. */
export function decodeKdcReply(bytes: Buffer): KdcReply {
  const el = readOnly(bytes);
  if (el.cls === TagClass.Application && el.tag === MSG_TYPE.KRB_ERROR) return { kind: "error", error: decodeKrbErrorElement(el) };
  if (el.cls !== TagClass.Application || (el.tag !== MSG_TYPE.AS_REP && el.tag !== MSG_TYPE.TGS_REP)) {
    throw new KerberosFormatError("KDC reply", `expected an AS-REP, TGS-REP or KRB-ERROR, got tag ${el.tag} of class ${el.cls}`);
  }
  const msgType = el.tag as 11 | 13;
  const what = msgType === MSG_TYPE.AS_REP ? "AS-REP" : "TGS-REP";
  const f = new Fields(unwrapApplication(el, msgType, what), what);
  const padata = f.optional(2);
  return {
    kind: "rep",
    rep: {
      msgType,
      padata: padata ? readPaDataList(padata, `${what} padata`) : [],
      crealm: readKerberosString(f.required(3, "crealm"), `${what} crealm`),
      cname: readPrincipalName(f.required(4, "cname"), `${what} cname`),
      ticket: f.required(5, "ticket").raw,
      encPart: readEncryptedData(f.required(6, "enc-part"), `${what} enc-part`),
    },
  };
}

export interface EncKdcRepPart {
  key: EncryptionKey;
  nonce: number;
  flags: number;
  authTime: Date;
  startTime?: Date;
  endTime: Date;
  renewTill?: Date;
  srealm: string;
  sname: PrincipalName;
}

/** EncASRepPart or EncTGSRepPart, decrypted. Either tag is accepted for either reply: some KDCs
 * send 26 in an AS-REP, and MIT accepts it (RFC 4120 §5.4.2 notes the same). */
export function decodeEncKdcRepPart(plain: Buffer): EncKdcRepPart {
  const { element } = readElement(plain, 0);
  if (element.cls !== TagClass.Application || (element.tag !== 25 && element.tag !== 26)) {
    throw new KerberosFormatError("EncKDCRepPart", `expected [APPLICATION 25] or [APPLICATION 26], got tag ${element.tag}`);
  }
  const f = new Fields(unwrapApplication(element, element.tag, "EncKDCRepPart"), "EncKDCRepPart");
  const key = new Fields(f.required(0, "key"), "EncKDCRepPart key");
  const time = (tag: number, name: string): Date | undefined => {
    const e = f.optional(tag);
    return e ? readKerberosTime(e, `EncKDCRepPart ${name}`) : undefined;
  };
  const flagBits = readBitString(f.required(4, "flags"), "EncKDCRepPart flags");
  return {
    key: { etype: readInteger(key.required(0, "keytype"), "EncKDCRepPart keytype"), value: Buffer.from(readOctetString(key.required(1, "keyvalue"), "EncKDCRepPart keyvalue")) },
    nonce: readInteger(f.required(2, "nonce"), "EncKDCRepPart nonce"),
    flags: Buffer.concat([flagBits, Buffer.alloc(4)]).readUInt32BE(0),
    authTime: readKerberosTime(f.required(5, "authtime"), "EncKDCRepPart authtime"),
    startTime: time(6, "starttime"),
    endTime: readKerberosTime(f.required(7, "endtime"), "EncKDCRepPart endtime"),
    renewTill: time(8, "renew-till"),
    srealm: readKerberosString(f.required(9, "srealm"), "EncKDCRepPart srealm"),
    sname: readPrincipalName(f.required(10, "sname"), "EncKDCRepPart sname"),
  };
}
