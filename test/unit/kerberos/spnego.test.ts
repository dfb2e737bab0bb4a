// The Negotiate client of doctor check 8: the AP-REQ it builds is read back here as an acceptor
// would (SPNEGO → GSS framing → AP-REQ → authenticator decrypted with the session key, usage 11),
// and the AP-REP it accepts must decrypt with the session key (usage 12) and echo the
// authenticator's time. Against real Apache mod_auth_gssapi: test/e2e/truth-table.test.ts.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { decrypt, encrypt, EncryptionKey } from "../../../provider/kerberos/crypto";
import { Fields, TagClass, children, der, encodeElement, readElement, readInteger, readKerberosTime, readOnly, unwrapApplication } from "../../../provider/kerberos/der";
import { parsePrincipal } from "../../../provider/kerberos/principal";
import { buildApReq, negotiateToken, verifyMutual } from "../../../provider/kerberos/spnego";

const KRB5_OID = Buffer.from("06092a864886f712010202", "hex");
const session: EncryptionKey = { etype: 18, value: randomBytes(32) };
const client = parsePrincipal("Administrator@CORP.EXAMPLE");
const fakeTicket = der.application(1, der.sequence(der.context(0, der.integer(5))));

/** The AP-REQ inside a Negotiate token, as an acceptor unwraps it. */
function unwrap(token: Buffer): Buffer {
  const outer = readOnly(token);
  assert.equal(outer.cls, TagClass.Application);
  const oid = readElement(outer.content, 0);
  assert.equal(oid.element.raw.toString("hex"), "06062b0601050502", "SPNEGO OID");
  const init = new Fields(children(readElement(outer.content, oid.next).element)[0], "NegTokenInit");
  assert.deepEqual(children(init.required(0, "mechTypes")).map((m) => m.raw.toString("hex")), [KRB5_OID.toString("hex")]);
  const gss = readOnly(init.required(2, "mechToken").content);
  assert.ok(gss.content.subarray(0, KRB5_OID.length).equals(KRB5_OID));
  assert.equal(gss.content.readUInt16BE(KRB5_OID.length), 0x0100, "TOK_ID AP-REQ");
  return gss.content.subarray(KRB5_OID.length + 2);
}

function apRep(key: EncryptionKey, ctime: Date, cusec: number): Buffer {
  const part = der.application(27, der.sequence(der.context(0, der.generalizedTime(ctime)), der.context(1, der.integer(cusec))));
  const rep = der.application(15, der.sequence(der.context(0, der.integer(5)), der.context(1, der.integer(15)), der.context(2, der.sequence(der.context(0, der.integer(key.etype)), der.context(2, der.octetString(encrypt(key, 12, part)))))));
  const gss = encodeElement(TagClass.Application, true, 0, Buffer.concat([KRB5_OID, Buffer.from([2, 0]), rep]));
  const enumerated = encodeElement(TagClass.Universal, false, 10, Buffer.from([0]));
  return der.context(1, der.sequence(der.context(0, enumerated), der.context(1, KRB5_OID), der.context(2, der.octetString(gss))));
}

describe("kerberos SPNEGO / AP-REQ (doctor check 8)", () => {
  it("builds an AP-REQ with mutual-required whose authenticator decrypts with the session key and names the client", () => {
    const now = new Date("2026-11-30T12:00:00.750Z");
    const { apReq, context } = buildApReq(fakeTicket, session, client, now);
    const f = new Fields(unwrapApplication(readOnly(unwrap(negotiateToken(apReq))), 14, "AP-REQ"), "AP-REQ");
    assert.equal(readInteger(f.required(1, "msg-type"), "msg-type"), 14);
    assert.equal(f.required(2, "ap-options").content[1] & 0x20, 0x20, "mutual-required");
    assert.ok(f.required(3, "ticket").raw.equals(fakeTicket));
    const enc = new Fields(f.required(4, "authenticator"), "EncryptedData");
    assert.equal(readInteger(enc.required(0, "etype"), "etype"), 18);
    const plain = decrypt(session, 11, enc.required(2, "cipher").content);
    const auth = new Fields(unwrapApplication(readElement(plain, 0).element, 2, "Authenticator"), "Authenticator");
    assert.equal(auth.required(1, "crealm").content.toString(), "CORP.EXAMPLE");
    assert.equal(readKerberosTime(auth.required(5, "ctime"), "ctime").toISOString(), "2026-11-30T12:00:00.000Z");
    assert.equal(readInteger(auth.required(4, "cusec"), "cusec"), context.cusec);
    const cksum = new Fields(auth.required(3, "cksum"), "Checksum");
    assert.equal(readInteger(cksum.required(0, "cksumtype"), "cksumtype"), 0x8003);
    assert.equal(cksum.required(1, "checksum").content.readUInt32LE(20) & 2, 2, "GSS_C_MUTUAL_FLAG");
  });

  it("verifies an AP-REP that echoes the authenticator, and refuses one that does not or that another key made", () => {
    const { context } = buildApReq(fakeTicket, session, client);
    assert.deepEqual(verifyMutual(apRep(session, context.ctime, context.cusec), context), { ok: true, negState: 0 });
    const other = verifyMutual(apRep(session, context.ctime, (context.cusec + 1) % 1_000_000), context);
    assert.equal(other.ok, false);
    const forged = verifyMutual(apRep({ etype: 18, value: randomBytes(32) }, context.ctime, context.cusec), context);
    assert.equal(forged.ok, false);
    assert.match((forged as { reason: string }).reason, /does not decrypt with the session key/);
    assert.equal(verifyMutual(Buffer.from("not a token"), context).ok, false);
  });
});
