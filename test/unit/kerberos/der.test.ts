// DER reader/writer (X.690 §8/§10) on the shapes RFC 4120 §5 uses.
import assert from "node:assert/strict";
import {
  Fields,
  TagClass,
  children,
  der,
  readBitString,
  readElement,
  readInteger,
  readKerberosString,
  readKerberosTime,
  readOctetString,
  readOnly,
  unwrapApplication,
} from "../../../provider/kerberos/der";
import { KerberosFormatError } from "../../../provider/kerberos/errors";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("kerberos DER", () => {
  it("encodes INTEGERs minimally in two's complement and reads them back (X.690 §8.3)", () => {
    const cases: [number, string][] = [
      [0, "020100"],
      [5, "020105"],
      [127, "02017f"],
      [128, "02020080"],
      [256, "02020100"],
      [-1, "0201ff"],
      [-128, "020180"],
      [-129, "0202ff7f"],
      [0x7fffffff, "02047fffffff"],
      [0xffffffff, "020500ffffffff"],
    ];
    for (const [n, enc] of cases) {
      assert.equal(der.integer(n).toString("hex"), enc, `encode ${n}`);
      assert.equal(readInteger(readOnly(hex(enc)), "n"), n, `decode ${enc}`);
    }
  });

  it("reads short and long form lengths (X.690 §8.1.3)", () => {
    const long = der.octetString(Buffer.alloc(300, 1));
    assert.equal(long.subarray(0, 4).toString("hex"), "0482012c");
    assert.equal(readOctetString(readOnly(long), "o").length, 300);
    assert.equal(readOctetString(readOnly(hex("0403010203")), "o").toString("hex"), "010203");
  });

  it("refuses indefinite lengths, truncation and trailing octets", () => {
    assert.throws(() => readOnly(hex("3080 0000")), KerberosFormatError);
    assert.throws(() => readOnly(hex("0405 0102")), KerberosFormatError);
    assert.throws(() => readOnly(hex("0401 01 00")), /1 octets after the element/);
    assert.throws(() => readElement(hex("04"), 0), KerberosFormatError);
  });

  it("unwraps [APPLICATION n] SEQUENCE and explicit context tags into fields", () => {
    const bytes = der.application(1, der.sequence(der.context(0, der.integer(5)), der.context(1, der.generalString("CORP.EXAMPLE")), der.context(7, der.octetString(hex("abcd")))));
    const f = new Fields(unwrapApplication(readOnly(bytes), 1, "Ticket"), "Ticket");
    assert.equal(readInteger(f.required(0, "tkt-vno"), "vno"), 5);
    assert.equal(readKerberosString(f.required(1, "realm"), "realm"), "CORP.EXAMPLE");
    assert.equal(readOctetString(f.required(7, "x"), "x").toString("hex"), "abcd");
    assert.equal(f.optional(2), undefined);
    assert.throws(() => f.required(3, "enc-part"), /required field enc-part \[3\] is missing/);
  });

  it("names the expected and the actual tag when they differ", () => {
    const bytes = der.application(3, der.sequence());
    assert.throws(() => unwrapApplication(readOnly(bytes), 1, "Ticket"), /Ticket: expected \[APPLICATION 1\], got \[APPLICATION 3\]/);
    assert.throws(() => readInteger(readOnly(der.octetString(Buffer.alloc(1))), "etype"), /etype: expected Integer, got OctetString/);
  });

  it("refuses a field that appears twice and a member without a context tag", () => {
    const dup = der.sequence(der.context(0, der.integer(1)), der.context(0, der.integer(2)));
    assert.throws(() => new Fields(readOnly(dup), "X"), /field \[0\] appears twice/);
    const bare = der.sequence(der.integer(1));
    assert.throws(() => new Fields(readOnly(bare), "X"), /is not context-tagged/);
  });

  it("round-trips KerberosTime (RFC 4120 §5.2.3) and refuses fractional seconds", () => {
    const t = new Date(Date.UTC(2026, 10, 25, 12, 34, 56));
    const enc = der.generalizedTime(t);
    assert.equal(enc.subarray(2).toString("latin1"), "20261125123456Z");
    assert.equal(readKerberosTime(readOnly(enc), "authtime").getTime(), t.getTime());
    const frac = Buffer.concat([Buffer.from([0x18, 17]), Buffer.from("20261125123456.5Z")]);
    assert.throws(() => readKerberosTime(readOnly(frac), "authtime"), /not a KerberosTime/);
  });

  it("reads BIT STRING contents after the unused-bits octet", () => {
    assert.equal(readBitString(readOnly(der.bitString(hex("40e10000"))), "flags").toString("hex"), "40e10000");
  });

  it("lists the children of a constructed element in order", () => {
    const seq = der.sequence(der.generalString("HTTP"), der.generalString("outlook.corp.example"));
    assert.deepEqual(children(readOnly(seq)).map((c) => readKerberosString(c, "s")), ["HTTP", "outlook.corp.example"]);
    assert.equal(readOnly(seq).cls, TagClass.Universal);
  });
});
