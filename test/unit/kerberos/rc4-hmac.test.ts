// rc4-hmac (RFC 4757) for the client's own exchanges: MD4 and RC4 written here (Node's OpenSSL 3
// keeps both in its legacy provider), checked against their published vectors; the NT hash;
// Windows' key usage numbers; a wrong key caught by the checksum. Interoperation with a real KDC:
// test/integration/kdc-client.test.ts (RC4 end to end with Samba).
import assert from "node:assert/strict";
import { IntegrityError } from "../../../provider/kerberos/errors";
import { md4, rc4, rc4Checksum, rc4Decrypt, rc4Encrypt, rc4StringToKey } from "../../../provider/kerberos/rc4-hmac";

describe("kerberos: rc4-hmac (RFC 4757)", () => {
  it("MD4 gives RFC 1320's test suite (§A.5)", () => {
    const suite: [string, string][] = [
      ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
      ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
      ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
      ["message digest", "d9130a8164549fe818874806e1c7014b"],
      ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
      ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
      ["1234567890".repeat(8), "e33b4ddc9c38f2199c3e7b164fcc0536"],
    ];
    for (const [m, digest] of suite) assert.equal(md4(Buffer.from(m, "latin1")).toString("hex"), digest, m);
  });

  it("RC4 gives the classic keystream vectors", () => {
    assert.equal(rc4(Buffer.from("Key"), Buffer.from("Plaintext")).toString("hex"), "bbf316e8d940af0ad3");
    assert.equal(rc4(Buffer.from("Wiki"), Buffer.from("pedia")).toString("hex"), "1021bf0420");
    assert.equal(rc4(Buffer.from("Secret"), Buffer.from("Attack at dawn")).toString("hex"), "45a01f645fc35b383552544b9bf5");
  });

  it("string-to-key is the NT hash: MD4 of the UTF-16LE password, no salt", () => {
    assert.equal(rc4StringToKey("password").toString("hex"), "8846f7eaee8fb117ad06bdd830b7586c");
  });

  it("decrypts what it encrypts; the AS-REP's usage 3 is Windows' 8; a wrong key or usage fails the checksum", () => {
    const key = rc4StringToKey("Passw0rd!");
    const plain = Buffer.from("an EncASRepPart");
    const c = rc4Encrypt(key, 3, plain, Buffer.alloc(8, 7));
    assert.deepEqual(rc4Decrypt(key, 3, c), plain);
    assert.deepEqual(rc4Decrypt(key, 8, c), plain, "usage 3 is sent as 8");
    assert.equal(c.length, 16 + 8 + plain.length);
    assert.throws(() => rc4Decrypt(key, 7, c), IntegrityError);
    assert.throws(() => rc4Decrypt(rc4StringToKey("other"), 3, c), IntegrityError);
    assert.notDeepEqual(rc4Checksum(key, 6, plain), rc4Checksum(key, 7, plain));
    assert.equal(rc4Checksum(key, 6, plain).length, 16);
  });
});
