import { strict as assert } from "node:assert";
import { escapeDnValue, escapeFilterValue } from "../../../provider/ldap/escape";
import { parseDn } from "../../../provider/ldap/dn";

describe("ldap/escape: RFC 4515 filter values", () => {
  it("escapes the five characters RFC 4515 requires", () => {
    assert.equal(escapeFilterValue("*"), "\\2a");
    assert.equal(escapeFilterValue("("), "\\28");
    assert.equal(escapeFilterValue(")"), "\\29");
    assert.equal(escapeFilterValue("\\"), "\\5c");
    assert.equal(escapeFilterValue("\0"), "\\00");
  });

  it("cannot widen a search: *)(objectClass=* stays one literal value", () => {
    const v = escapeFilterValue("*)(objectClass=*");
    assert.equal(v, "\\2a\\29\\28objectClass=\\2a");
    assert.ok(!/[()*]/.test(v));
  });

  it("leaves DN-special characters alone (they mean nothing in a filter)", () => {
    assert.equal(escapeFilterValue(',+="<>#; '), ',+="<>#; ');
  });

  it("hex-escapes the UTF-8 bytes of non-ASCII and control characters", () => {
    assert.equal(escapeFilterValue("é"), "\\c3\\a9");
    assert.equal(escapeFilterValue("a\nb"), "a\\0ab");
    assert.equal(escapeFilterValue("€"), "\\e2\\82\\ac");
  });

  it("escapes a binary value (a SID) byte by byte", () => {
    assert.equal(escapeFilterValue(Buffer.from([0x01, 0x05, 0x2a, 0x41])), "\\01\\05\\2a\\41");
  });
});

describe("ldap/escape: RFC 4514 DN values", () => {
  it("backslash-escapes , + \" \\ < > ; and =", () => {
    assert.equal(escapeDnValue('a,b+c"d\\e<f>g;h=i'), 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i');
  });

  it("escapes a leading # or space and a trailing space, not inner ones", () => {
    assert.equal(escapeDnValue("#x"), "\\#x");
    assert.equal(escapeDnValue(" x y "), "\\ x y\\ ");
    assert.equal(escapeDnValue("a#b"), "a#b");
  });

  it("escapes NUL and control characters as hex pairs", () => {
    assert.equal(escapeDnValue("a\0b"), "a\\00b");
    assert.equal(escapeDnValue("a\nb"), "a\\0ab");
  });

  it("keeps non-ASCII as UTF-8, as AD stores it", () => {
    assert.equal(escapeDnValue("Zürich"), "Zürich");
  });

  it("cannot address another object: the value round-trips through the parser as one RDN", () => {
    for (const hostile of ["x,DC=evil", "a+CN=b", " lead", "trail ", "#hash", 'q"uote', "semi;colon", "<>", "back\\slash", "nul\0", "Straße", "*", "(", ")", "="]) {
      const rdns = parseDn("t", `CN=${escapeDnValue(hostile)},DC=corp,DC=example`);
      assert.equal(rdns.length, 3, hostile);
      assert.deepEqual(rdns[0], [{ type: "CN", value: hostile }], JSON.stringify(hostile));
    }
  });
});
