// The client side of HTTP Negotiate (RFC 4559) with Kerberos, built from what the doctor already
// holds: a service ticket and its session key (from the private ccache of tickets.ts). No GSS-API
// library, no native module: the messages are DER of RFC 4120, wrapped as RFC 4121 and RFC 4178
// say, encrypted with the AES-CTS profile of crypto.ts.
//
//   KRB_AP_REQ    ::= [APPLICATION 14] SEQUENCE { pvno [0] 5, msg-type [1] 14, ap-options [2]
//                     APOptions, ticket [3] Ticket, authenticator [4] EncryptedData }  -- RFC 4120 §5.5.1
//   Authenticator ::= [APPLICATION 2] SEQUENCE { authenticator-vno [0] 5, crealm [1], cname [2],
//                     cksum [3] Checksum OPTIONAL, cusec [4], ctime [5], subkey [6] OPTIONAL,
//                     seq-number [7] OPTIONAL }                      -- key usage 11
//   KRB_AP_REP    ::= [APPLICATION 15] SEQUENCE { pvno [0], msg-type [1] 15, enc-part [2] }
//   EncAPRepPart  ::= [APPLICATION 27] SEQUENCE { ctime [0], cusec [1], subkey [2] OPTIONAL,
//                     seq-number [3] OPTIONAL }                      -- key usage 12
//   GSS token     ::= [APPLICATION 0] IMPLICIT SEQUENCE { thisMech OID, TOK_ID (2 octets),
//                     inner }                                        -- RFC 2743 §3.1, RFC 4121 §4.1
//   NegTokenInit  ::= [APPLICATION 0] { OID spnego, [0] SEQUENCE { mechTypes [0], mechToken [2] } }
//   NegTokenResp  ::= [1] SEQUENCE { negState [0] ENUMERATED, supportedMech [1] OID,
//                     responseToken [2] OCTET STRING, mechListMIC [3] }        -- RFC 4178 §4.2
import { randomBytes, randomInt } from "node:crypto";
import { decrypt, encrypt, EncryptionKey } from "./crypto";
import { Checksum } from "./cipher";
import { encodeApReq, encodeAuthenticator } from "./kdc-messages";
import { Fields, TagClass, UniversalTag, children, der, encodeElement, expectTag, readElement, readInteger, readKerberosTime, readOnly, unwrapApplication } from "./der";
import { KerberosFormatError, IntegrityError } from "./errors";
import { causeOf } from "../errors";
import { Principal } from "./principal";

/** RFC 4120 §7.5.1 key usages. */
const KEY_USAGE_AP_REQ_AUTHENTICATOR = 11;
const KEY_USAGE_AP_REP_ENCPART = 12;
/** 1.2.840.113554.1.2.2 (Kerberos V5, RFC 1964) and 1.3.6.1.5.5.2 (SPNEGO), as DER OIDs. */
const OID_KRB5 = Buffer.from("06092a864886f712010202", "hex");
const OID_SPNEGO = Buffer.from("06062b0601050502", "hex");
/** RFC 4121 §4.1.1: the GSS checksum type, and the context flags it carries. */
const CKSUM_GSS = 0x8003;
const GSS_C_MUTUAL_FLAG = 2;
const GSS_C_SEQUENCE_FLAG = 8;
/** APOptions bit 2, mutual-required (RFC 4120 §5.5.1), in the 32-bit big-endian form. */
const AP_OPTION_MUTUAL_REQUIRED = 0x20000000;

export interface ApRequestContext {
  /** What the server must echo in its AP-REP (mutual authentication). */
  ctime: Date;
  cusec: number;
  sessionKey: EncryptionKey;
}

/** The GSS checksum of RFC 4121 §4.1.1: no channel bindings, mutual authentication asked. */
function gssChecksum(): Checksum {
  const v = Buffer.alloc(24);
  v.writeUInt32LE(16, 0); // Lgth of Bnd
  v.writeUInt32LE(GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG, 20);
  return { type: CKSUM_GSS, value: v };
}

/** A KRB_AP_REQ for `ticket` (DER, as the KDC sent it) with a fresh authenticator from `client`;
 * `now` is the KDC's time as the client knows it (its clock corrected by the offset the KDC's
 * replies showed, as MIT's kdc_timesync does): a server compares the authenticator with its own. */
export function buildApReq(ticket: Buffer, sessionKey: EncryptionKey, client: Principal, now = new Date()): { apReq: Buffer; context: ApRequestContext } {
  const ctime = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const cusec = randomInt(0, 1_000_000);
  const authenticator = encodeAuthenticator({ client, cksum: gssChecksum(), ctime, cusec, seqNumber: randomBytes(4).readUInt32BE(0) & 0x3fffffff });
  const cipher = encrypt(sessionKey, KEY_USAGE_AP_REQ_AUTHENTICATOR, authenticator);
  const apReq = encodeApReq(ticket, sessionKey, cipher, AP_OPTION_MUTUAL_REQUIRED);
  return { apReq, context: { ctime, cusec, sessionKey } };
}

/** RFC 2743 §3.1 framing of a Kerberos token: [APPLICATION 0] { krb5 OID, TOK_ID, message }. */
function gssKrb5Token(tokId: number, message: Buffer): Buffer {
  const id = Buffer.from([tokId >> 8, tokId & 0xff]);
  return encodeElement(TagClass.Application, true, 0, Buffer.concat([OID_KRB5, id, message]));
}

/** The Authorization: Negotiate token: SPNEGO NegTokenInit offering Kerberos, with the AP-REQ. */
export function negotiateToken(apReq: Buffer): Buffer {
  const init = der.sequence(der.context(0, der.sequence(OID_KRB5)), der.context(2, der.octetString(gssKrb5Token(0x0100, apReq))));
  return encodeElement(TagClass.Application, true, 0, Buffer.concat([OID_SPNEGO, der.context(0, init)]));
}

export type MutualResult =
  | { ok: true; negState: number }
  | { ok: false; reason: string };

/** RFC 4178 negState: 0 accept-completed, 1 accept-incomplete, 2 reject, 3 request-mic. */
const NEG_STATES = ["accept-completed", "accept-incomplete", "reject", "request-mic"];

/**
 * Verifies the server's answer token (the Negotiate value of WWW-Authenticate on the 200): a
 * NegTokenResp whose responseToken is the AP-REP, whose enc-part decrypts with the session key
 * and echoes our authenticator's time. That proves the server holds the service key.
 */
export function verifyMutual(token: Buffer, ctx: ApRequestContext): MutualResult {
  try {
    let krbToken: Buffer = token;
    const outer = readOnly(token);
    let negState = 0;
    if (outer.cls === TagClass.Context && outer.tag === 1) {
      const f = new Fields(children(outer)[0], "NegTokenResp");
      const st = f.optional(0);
      if (st) {
        if (st.cls !== TagClass.Universal || st.tag !== 10) throw new KerberosFormatError("NegTokenResp", "negState is not ENUMERATED");
        negState = st.content[0] ?? 0;
      }
      if (negState === 2) return { ok: false, reason: "the server rejected the Kerberos token (SPNEGO negState reject)" };
      const rt = f.optional(2);
      if (!rt) return { ok: false, reason: `the server's answer carries no response token (negState ${NEG_STATES[negState] ?? negState}): no AP-REP, so the server was not authenticated` };
      krbToken = expectTag(rt, TagClass.Universal, UniversalTag.OctetString, "responseToken").content;
    }
    // GSS framing: [APPLICATION 0] { OID, TOK_ID, message }
    const gss = readOnly(krbToken);
    expectTag(gss, TagClass.Application, 0, "GSS token");
    const oid = readElement(gss.content, 0);
    if (!oid.element.raw.equals(OID_KRB5)) throw new KerberosFormatError("GSS token", "not a Kerberos V5 token");
    const tokId = gss.content.readUInt16BE(oid.next);
    const message = gss.content.subarray(oid.next + 2);
    if (tokId === 0x0300) return { ok: false, reason: "the server answered with a KRB-ERROR instead of an AP-REP" };
    if (tokId !== 0x0200) throw new KerberosFormatError("GSS token", `TOK_ID ${tokId.toString(16)} is not an AP-REP`);
    const rep = new Fields(unwrapApplication(readOnly(message), 15, "AP-REP"), "AP-REP");
    if (readInteger(rep.required(1, "msg-type"), "AP-REP msg-type") !== 15) throw new KerberosFormatError("AP-REP", "msg-type is not 15");
    const enc = new Fields(rep.required(2, "enc-part"), "AP-REP enc-part");
    const etype = readInteger(enc.required(0, "etype"), "AP-REP etype");
    if (etype !== ctx.sessionKey.etype) return { ok: false, reason: `the AP-REP is encrypted with etype ${etype}, not the session key's ${ctx.sessionKey.etype}` };
    const plain = decrypt(ctx.sessionKey, KEY_USAGE_AP_REP_ENCPART, expectTag(enc.required(2, "cipher"), TagClass.Universal, UniversalTag.OctetString, "AP-REP cipher").content);
    const part = new Fields(unwrapApplication(readElement(plain, 0).element, 27, "EncAPRepPart"), "EncAPRepPart");
    const ctime = readKerberosTime(part.required(0, "ctime"), "EncAPRepPart ctime");
    const cusec = readInteger(part.required(1, "cusec"), "EncAPRepPart cusec");
    if (ctime.getTime() !== ctx.ctime.getTime() || cusec !== ctx.cusec) {
      return { ok: false, reason: "the AP-REP does not echo our authenticator's time: it answers another request" };
    }
    return { ok: true, negState };
  } catch (e) {
    if (e instanceof IntegrityError) return { ok: false, reason: "the AP-REP does not decrypt with the session key: the answer did not come from the holder of the service key" };
    if (e instanceof KerberosFormatError || e instanceof RangeError) return { ok: false, reason: `the server's answer token does not parse: ${e instanceof KerberosFormatError ? causeOf(e) : e.message}` };
    throw e;
  }
}
