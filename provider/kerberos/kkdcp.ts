// MS-KKDCP (the Kerberos KDC Proxy Protocol, as Windows' KDC Proxy Server service and FreeIPA's
// kdcproxy serve it): the message a client POSTs to https://<proxy>/KdcProxy as
// `application/kerberos`, and the small AS-REQ the doctor sends through it to learn whether a KDC
// answers behind the proxy. The tickets themselves come through the proxy from kdc-client.ts
// (kdc-transport.ts posts them); the probe lets the doctor name what is wrong on the proxy path
// before any password-derived message is sent.
//
//   KDC-PROXY-MESSAGE ::= SEQUENCE {
//     kerb-message   [0] OCTET STRING,   -- the Kerberos message with its 4-octet length prefix
//                                        -- (RFC 4120 §7.2.2, network byte order)
//     target-domain  [1] KERB-REALM OPTIONAL,  -- the realm; required in client messages
//     dclocator-hint [2] INTEGER OPTIONAL }
import { randomBytes } from "node:crypto";
import { der, Fields, readElement, readKerberosString, readOctetString, TagClass } from "./der";
import { KerberosFormatError } from "./errors";
import { decodeKdcReply, encodeKdcReq, encodeKdcReqBody, MSG_TYPE } from "./kdc-messages";
import { NAME_TYPE } from "./principal";

/** A KDC-PROXY-MESSAGE carrying `kdcMessage` (bare DER, without the TCP length prefix). */
export function encodeKdcProxyMessage(kdcMessage: Uint8Array, realm: string): Buffer {
  const framed = Buffer.alloc(4 + kdcMessage.length);
  framed.writeUInt32BE(kdcMessage.length, 0);
  Buffer.from(kdcMessage).copy(framed, 4);
  return der.sequence(der.context(0, der.octetString(framed)), der.context(1, der.generalString(realm)));
}

/** The Kerberos message inside a KDC-PROXY-MESSAGE (length prefix checked and removed). */
export function decodeKdcProxyMessage(body: Buffer): { kdcMessage: Buffer; realm?: string } {
  const { element, next } = readElement(body);
  if (next !== body.length) throw new KerberosFormatError("KDC-PROXY-MESSAGE", `${body.length - next} octets after the message`);
  const f = new Fields(element, "KDC-PROXY-MESSAGE");
  const framed = readOctetString(f.required(0, "kerb-message"), "kerb-message");
  if (framed.length < 4) throw new KerberosFormatError("KDC-PROXY-MESSAGE", "kerb-message is shorter than its length prefix");
  const length = framed.readUInt32BE(0);
  if (length !== framed.length - 4) throw new KerberosFormatError("KDC-PROXY-MESSAGE", `kerb-message says ${length} octets but holds ${framed.length - 4}`);
  const realmEl = f.optional(1);
  return { kdcMessage: framed.subarray(4), ...(realmEl ? { realm: readKerberosString(realmEl, "target-domain") } : {}) };
}

/** An AS-REQ without pre-authentication for `user` (a bare name in `realm`, or an enterprise name
 * user@suffix, RFC 6806) asking for krbtgt/REALM: any KDC answers it at once, with KRB-ERROR
 * PREAUTH_REQUIRED (AD's usual answer), C_PRINCIPAL_UNKNOWN, or an AS-REP. Nothing secret is in it. */
export function buildProbeAsReq(user: { name: string; enterprise: boolean }, realm: string, now = new Date()): Buffer {
  const body = encodeKdcReqBody({
    options: 0,
    cname: { nameType: user.enterprise ? NAME_TYPE.ENTERPRISE : NAME_TYPE.PRINCIPAL, components: [user.name] },
    realm,
    sname: { nameType: NAME_TYPE.SRV_INST, components: ["krbtgt", realm] },
    till: new Date(now.getTime() + 10 * 3600_000),
    nonce: randomBytes(4).readUInt32BE(0) & 0x7fffffff,
    etypes: [18, 17],
  });
  return encodeKdcReq(MSG_TYPE.AS_REQ, [], body);
}

export type KdcAnswer = { kind: "as-rep" } | { kind: "krb-error"; code: number; name: string; realm?: string };

/** What kind of KDC answer a message is: an AS-REP or a KRB-ERROR (with its code). */
export function classifyKdcAnswer(message: Buffer): KdcAnswer {
  const { element } = readElement(message);
  if (element.cls === TagClass.Application && element.tag === MSG_TYPE.AS_REP) return { kind: "as-rep" };
  if (element.cls !== TagClass.Application || element.tag !== MSG_TYPE.KRB_ERROR) {
    throw new KerberosFormatError("KDC answer", `expected an AS-REP or KRB-ERROR, got tag ${element.tag} of class ${element.cls}`);
  }
  const reply = decodeKdcReply(message);
  if (reply.kind !== "error") throw new KerberosFormatError("KDC answer", "expected a KRB-ERROR");
  const e = reply.error;
  return { kind: "krb-error", code: e.code, name: e.name, ...(e.realm !== undefined ? { realm: e.realm } : {}) };
}
