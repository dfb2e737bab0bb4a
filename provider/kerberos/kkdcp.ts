// MS-KKDCP (the Kerberos KDC Proxy Protocol, as Windows' KDC Proxy Server service and FreeIPA's
// kdcproxy serve it): the message a client POSTs to https://<proxy>/KdcProxy as
// `application/kerberos`, and the small AS-REQ the doctor sends through it to learn whether a KDC
// answers behind the proxy. The tickets themselves come from MIT kinit/kvno through the proxy
// (tickets.ts, with the krb5-k5tls plugin); this file only lets the doctor name what is wrong when
// the proxy path fails, which MIT reports as "Cannot contact any KDC" whatever the cause.
//
//   KDC-PROXY-MESSAGE ::= SEQUENCE {
//     kerb-message   [0] OCTET STRING,   -- the Kerberos message with its 4-octet length prefix
//                                        -- (RFC 4120 §7.2.2, network byte order)
//     target-domain  [1] KERB-REALM OPTIONAL,  -- the realm; required in client messages
//     dclocator-hint [2] INTEGER OPTIONAL }
import { randomBytes } from "node:crypto";
import { children, der, Fields, readElement, readInteger, readKerberosString, readOctetString, TagClass } from "./der";
import { KerberosFormatError } from "./errors";
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
  const principal = (type: number, components: string[]): Buffer =>
    der.sequence(der.context(0, der.integer(type)), der.context(1, der.sequence(...components.map((c) => der.generalString(c)))));
  const body = der.sequence(
    der.context(0, der.bitString(Buffer.alloc(4))),
    der.context(1, principal(user.enterprise ? NAME_TYPE.ENTERPRISE : NAME_TYPE.PRINCIPAL, [user.name])),
    der.context(2, der.generalString(realm)),
    der.context(3, principal(NAME_TYPE.SRV_INST, ["krbtgt", realm])),
    der.context(5, der.generalizedTime(new Date(now.getTime() + 10 * 3600_000))),
    der.context(7, der.integer(randomBytes(4).readUInt32BE(0) & 0x7fffffff)),
    der.context(8, der.sequence(der.integer(18), der.integer(17))),
  );
  return der.application(10, der.sequence(der.context(1, der.integer(5)), der.context(2, der.integer(10)), der.context(4, body)));
}

/** RFC 4120 §7.5.9 codes the doctor names when it sees them. */
const KRB_ERRORS: Record<number, string> = {
  6: "KDC_ERR_C_PRINCIPAL_UNKNOWN",
  14: "KDC_ERR_ETYPE_NOSUPP",
  24: "KDC_ERR_PREAUTH_FAILED",
  25: "KDC_ERR_PREAUTH_REQUIRED",
  37: "KRB_AP_ERR_SKEW",
  68: "KDC_ERR_WRONG_REALM",
};

export type KdcAnswer = { kind: "as-rep" } | { kind: "krb-error"; code: number; name: string; realm?: string };

/** What kind of KDC answer a message is: an AS-REP or a KRB-ERROR (with its code). */
export function classifyKdcAnswer(message: Buffer): KdcAnswer {
  const { element } = readElement(message);
  if (element.cls === TagClass.Application && element.tag === 11) return { kind: "as-rep" };
  if (element.cls === TagClass.Application && element.tag === 30) {
    const [seq] = children(element);
    const f = new Fields(seq, "KRB-ERROR");
    const code = readInteger(f.required(6, "error-code"), "error-code");
    const realmEl = f.optional(9);
    return { kind: "krb-error", code, name: KRB_ERRORS[code] ?? `error ${code}`, ...(realmEl ? { realm: readKerberosString(realmEl, "realm") } : {}) };
  }
  throw new KerberosFormatError("KDC answer", `expected an AS-REP or KRB-ERROR, got tag ${element.tag} of class ${element.cls}`);
}
