// MS-KKDCP framing (KDC-PROXY-MESSAGE, MS-KKDCP §2.2.2) and the doctor's probe AS-REQ.
import assert from "node:assert/strict";
import { children, der, Fields, readElement, readInteger, readKerberosString, TagClass } from "../../../provider/kerberos/der";
import { buildProbeAsReq, classifyKdcAnswer, decodeKdcProxyMessage, encodeKdcProxyMessage } from "../../../provider/kerberos/kkdcp";

describe("kerberos: MS-KKDCP framing", () => {
  it("wraps a KDC message with its 4-octet big-endian length in kerb-message [0] and the realm in target-domain [1]", () => {
    const msg = Buffer.from("6a0a300802010502010a", "hex");
    const wire = encodeKdcProxyMessage(msg, "CORP.EXAMPLE");
    const f = new Fields(readElement(wire).element, "KDC-PROXY-MESSAGE");
    const framed = f.required(0, "kerb-message").content;
    assert.equal(framed.readUInt32BE(0), msg.length);
    assert.deepEqual(framed.subarray(4), msg);
    assert.equal(readKerberosString(f.required(1, "target-domain"), "realm"), "CORP.EXAMPLE");
    assert.equal(f.optional(2), undefined);
    assert.deepEqual(decodeKdcProxyMessage(wire), { kdcMessage: msg, realm: "CORP.EXAMPLE" });
  });

  it("refuses a reply whose length prefix does not match, or that has trailing octets", () => {
    const bad = der.sequence(der.context(0, der.octetString(Buffer.from([0, 0, 0, 9, 1, 2]))));
    assert.throws(() => decodeKdcProxyMessage(bad), /says 9 octets but holds 2/);
    const ok = encodeKdcProxyMessage(Buffer.from([1]), "R");
    assert.throws(() => decodeKdcProxyMessage(Buffer.concat([ok, Buffer.from([0])])), /octets after the message/);
    assert.throws(() => decodeKdcProxyMessage(der.sequence(der.context(0, der.octetString(Buffer.from([0, 0]))))), /shorter than its length prefix/);
  });

  it("the probe is an AS-REQ (pvno 5, msg-type 10) for krbtgt/REALM without pre-authentication", () => {
    const req = buildProbeAsReq({ name: "svc-kerberos", enterprise: false }, "CORP.EXAMPLE", new Date("2026-11-30T00:00:00Z"));
    const app = readElement(req).element;
    assert.equal(app.cls, TagClass.Application);
    assert.equal(app.tag, 10);
    const f = new Fields(children(app)[0], "AS-REQ");
    assert.equal(readInteger(f.required(1, "pvno"), "pvno"), 5);
    assert.equal(readInteger(f.required(2, "msg-type"), "msg-type"), 10);
    assert.equal(f.optional(3), undefined, "no padata: nothing derived from a password");
    const body = new Fields(f.required(4, "req-body"), "KDC-REQ-BODY");
    assert.equal(readKerberosString(body.required(2, "realm"), "realm"), "CORP.EXAMPLE");
    const sname = new Fields(body.required(3, "sname"), "sname");
    assert.deepEqual(children(sname.required(1, "name-string")).map((c) => readKerberosString(c, "c")), ["krbtgt", "CORP.EXAMPLE"]);
    const cname = new Fields(body.required(1, "cname"), "cname");
    assert.equal(readInteger(cname.required(0, "name-type"), "t"), 1);
  });

  it("tells an AS-REP from a KRB-ERROR and reads the error code", () => {
    assert.deepEqual(classifyKdcAnswer(der.application(11, der.sequence(der.context(0, der.integer(5))))), { kind: "as-rep" });
    const err = der.application(30, der.sequence(der.context(0, der.integer(5)), der.context(1, der.integer(30)), der.context(6, der.integer(25)), der.context(9, der.generalString("CORP.EXAMPLE"))));
    assert.deepEqual(classifyKdcAnswer(err), { kind: "krb-error", code: 25, name: "KDC_ERR_PREAUTH_REQUIRED", realm: "CORP.EXAMPLE" });
    assert.throws(() => classifyKdcAnswer(der.sequence()), /expected an AS-REP or KRB-ERROR/);
  });
});
