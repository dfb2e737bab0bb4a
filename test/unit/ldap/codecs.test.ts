import { strict as assert } from "node:assert";
import { encodeUnicodePwd, generatePassword, GENERATED_PASSWORD_LENGTH } from "../../../provider/ldap/unicode-pwd";
import { decodeUnicodePwd } from "../../fixtures/ldap-readers";
import { sidFromString, sidToString } from "../../../provider/ldap/sid";
import { dateFromFiletime, filetimeFromBytes, filetimeFromDate, filetimeToBytes, FILETIME_NEVER, parseFiletime } from "../../../provider/ldap/filetime";

describe("ldap/unicode-pwd", () => {
  it("wraps the password in double quotes and encodes UTF-16LE", () => {
    assert.deepEqual(encodeUnicodePwd("Ab1!"), Buffer.from([0x22, 0, 0x41, 0, 0x62, 0, 0x31, 0, 0x21, 0, 0x22, 0]));
    assert.equal(decodeUnicodePwd(encodeUnicodePwd('pa"ss€')), 'pa"ss€');
  });

  it("generates 73-character passwords, like RollAlternateServiceAccountPassword.ps1, with every character class", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = generatePassword(undefined, "EXCH-ASA");
      assert.equal(p.length, GENERATED_PASSWORD_LENGTH);
      assert.equal(GENERATED_PASSWORD_LENGTH, 73);
      assert.match(p, /[a-z]/);
      assert.match(p, /[A-Z]/);
      assert.match(p, /[0-9]/);
      assert.match(p, /[^A-Za-z0-9]/);
      assert.ok(!/["'`$\\\s]/.test(p), "no quotes, backslash, $ or whitespace");
      assert.ok(!p.toLowerCase().includes("exch-asa"));
      seen.add(p);
    }
    assert.equal(seen.size, 50);
  });
});

describe("ldap/sid", () => {
  it("round-trips a domain SID ([MS-DTYP] §2.4.2.2)", () => {
    const s = "S-1-5-21-3623811015-3361044348-30300820-1013";
    const b = sidFromString(s);
    assert.equal(b.length, 8 + 4 * 5);
    assert.equal(b[0], 1);
    assert.equal(b[1], 5);
    assert.deepEqual([...b.subarray(2, 8)], [0, 0, 0, 0, 0, 5]);
    assert.equal(b.readUInt32LE(8), 21);
    assert.equal(sidToString(b), s);
  });

  it("decodes a well-known SID and refuses garbage", () => {
    assert.equal(sidToString(Buffer.from([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0])), "S-1-5-18");
    assert.throws(() => sidToString(Buffer.from([1, 2, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0])));
    assert.throws(() => sidFromString("S-1-5-*"));
  });
});

describe("ldap/filetime", () => {
  it("converts between FILETIME and Date ([MS-DTYP] §2.3.3)", () => {
    assert.equal(filetimeFromDate(new Date("1970-01-01T00:00:00Z")), 116444736000000000n);
    assert.equal(dateFromFiletime(133500000000000000n)?.toISOString(), "2024-01-17T21:20:00.000Z");
    assert.equal(dateFromFiletime(0n), undefined, "0 = must change password");
    assert.equal(dateFromFiletime(FILETIME_NEVER), undefined);
    assert.equal(parseFiletime(" 133500000000000000 "), 133500000000000000n);
  });

  it("encodes the 8-byte little-endian form used by DNS tombstones", () => {
    const b = filetimeToBytes(0x01d8a2b3c4d5e6f7n);
    assert.deepEqual([...b], [0xf7, 0xe6, 0xd5, 0xc4, 0xb3, 0xa2, 0xd8, 0x01]);
    assert.equal(filetimeFromBytes(b), 0x01d8a2b3c4d5e6f7n);
  });
});
