// RFC 3961 / RFC 3962 known-answer tests: n-fold, AES-CTS, string-to-key, key derivation, and the
// simplified-profile encryption round trip with its integrity check.
import assert from "node:assert/strict";
import { ctsDecrypt, ctsEncrypt } from "../../../provider/kerberos/aes-cts";
import { decrypt, deriveKey, encrypt, stringToKey, usageKeys } from "../../../provider/kerberos/crypto";
import { ETYPE } from "../../../provider/kerberos/etype";
import { IntegrityError, UnsupportedEtypeError } from "../../../provider/kerberos/errors";
import { nfold } from "../../../provider/kerberos/nfold";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const AES128 = ETYPE.AES128_CTS_HMAC_SHA1_96;
const AES256 = ETYPE.AES256_CTS_HMAC_SHA1_96;

describe("kerberos crypto: n-fold (RFC 3961 §5.1, vectors from Appendix A.1)", () => {
  const vectors: [string, number, string][] = [
    ["012345", 64, "be072631276b1955"],
    ["password", 56, "78a07b6caf85fa"],
    ["Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"],
    ["password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"],
    ["MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 192, "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b"],
    ["Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"],
    ["ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"],
    ["kerberos", 64, "6b65726265726f73"],
    ["kerberos", 128, "6b65726265726f737b9b5b2b93132b93"],
    ["kerberos", 168, "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4"],
    ["kerberos", 256, "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4"],
  ];
  for (const [input, bits, expected] of vectors) {
    it(`${bits}-fold("${input}") = ${expected}`, () => {
      assert.equal(nfold(Buffer.from(input, "latin1"), bits / 8).toString("hex"), expected);
    });
  }

  it("refuses an empty input", () => {
    assert.throws(() => nfold(Buffer.alloc(0), 16), RangeError);
  });
});

describe("kerberos crypto: AES-CTS (RFC 3962 §5, vectors from Appendix B)", () => {
  const key = Buffer.from("chicken teriyaki", "latin1");
  const text = Buffer.from("I would like the General Gau's Chicken, please, and wonton soup.", "latin1");
  const vectors: [number, string][] = [
    [17, "c6353568f2bf8cb4d8a580362da7ff7f97"],
    [31, "fc00783e0efdb2c1d445d4c8eff7ed22 97687268d6ecccc0c07b25e25ecfe5"],
    [32, "39312523a78662d5be7fcbcc98ebf5a8 97687268d6ecccc0c07b25e25ecfe584"],
    [47, "97687268d6ecccc0c07b25e25ecfe584 b3fffd940c16a18c1b5549d2f838029e 39312523a78662d5be7fcbcc98ebf5"],
    [48, "97687268d6ecccc0c07b25e25ecfe584 9dad8bbb96c4cdc03bc103e1a194bbd8 39312523a78662d5be7fcbcc98ebf5a8"],
    [64, "97687268d6ecccc0c07b25e25ecfe584 39312523a78662d5be7fcbcc98ebf5a8 4807efe836ee89a526730dbc2f7bc840 9dad8bbb96c4cdc03bc103e1a194bbd8"],
  ];
  for (const [length, cipher] of vectors) {
    it(`encrypts and decrypts the ${length}-octet vector`, () => {
      const plain = text.subarray(0, length);
      assert.equal(ctsEncrypt(key, plain).toString("hex"), hex(cipher).toString("hex"));
      assert.equal(ctsDecrypt(key, hex(cipher)).toString("latin1"), plain.toString("latin1"));
    });
  }

  it("is plain AES for exactly one block", () => {
    const block = text.subarray(0, 16);
    assert.equal(ctsDecrypt(key, ctsEncrypt(key, block)).toString("latin1"), block.toString("latin1"));
    assert.equal(ctsEncrypt(key, block).length, 16);
  });

  it("refuses input shorter than a block", () => {
    assert.throws(() => ctsEncrypt(key, Buffer.alloc(15)), RangeError);
    assert.throws(() => ctsDecrypt(key, Buffer.alloc(15)), RangeError);
  });
});

describe("kerberos crypto: string-to-key (RFC 3962 §4, vectors from Appendix B)", () => {
  const gclef = hex("f09d849e");
  const cases: { iterations: number; password: Buffer; salt: Buffer; aes128: string; aes256: string }[] = [
    { iterations: 1, password: Buffer.from("password"), salt: Buffer.from("ATHENA.MIT.EDUraeburn"), aes128: "42263c6e89f4fc28b8df68ee09799f15", aes256: "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161" },
    { iterations: 2, password: Buffer.from("password"), salt: Buffer.from("ATHENA.MIT.EDUraeburn"), aes128: "c651bf29e2300ac27fa469d693bdda13", aes256: "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff" },
    { iterations: 1200, password: Buffer.from("password"), salt: Buffer.from("ATHENA.MIT.EDUraeburn"), aes128: "4c01cd46d632d01e6dbe230a01ed642a", aes256: "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a" },
    { iterations: 5, password: Buffer.from("password"), salt: hex("1234567878563412"), aes128: "e9b23d52273747dd5c35cb55be619d8e", aes256: "97a4e786be20d81a382d5ebc96d5909cabcdadc87ca48f574504159f16c36e31" },
    { iterations: 1200, password: Buffer.from("X".repeat(64)), salt: Buffer.from("pass phrase equals block size"), aes128: "59d1bb789a828b1aa54ef9c2883f69ed", aes256: "89adee3608db8bc71f1bfbfe459486b05618b70cbae22092534e56c553ba4b34" },
    { iterations: 1200, password: Buffer.from("X".repeat(65)), salt: Buffer.from("pass phrase exceeds block size"), aes128: "cb8005dc5f90179a7f02104c0018751d", aes256: "d78c5c9cb872a8c9dad4697f0bb5b2d21496c82beb2caeda2112fceea057401b" },
    { iterations: 50, password: gclef, salt: Buffer.from("EXAMPLE.COMpianist"), aes128: "f149c1f2e154a73452d43e7fe62a56e5", aes256: "4b6d9839f84406df1f09cc166db4b83c571848b784a3d6bdc346589a3e393f9e" },
  ];
  for (const c of cases) {
    it(`derives the aes128 and aes256 keys for ${c.iterations} iteration(s), salt "${c.salt.toString("latin1").replace(/[^ -~]/g, "?")}"`, () => {
      assert.equal(stringToKey(AES128, c.password, c.salt, c.iterations).toString("hex"), c.aes128);
      assert.equal(stringToKey(AES256, c.password, c.salt, c.iterations).toString("hex"), c.aes256);
    });
  }

  it("takes a string password as UTF-8 (the g-clef case as text)", () => {
    assert.equal(stringToKey(AES128, "\u{1D11E}", "EXAMPLE.COMpianist", 50).toString("hex"), "f149c1f2e154a73452d43e7fe62a56e5");
  });

  it("matches MIT ktutil 1.20 for a computer-account salt at the default 4096 iterations", () => {
    // `ktutil addent -password -p HTTP/ektest.corp.example@CORP.EXAMPLE -k 3 -e <etype>
    //  -s CORP.EXAMPLEhostektest.corp.example` with password Passw0rd!, read back with klist -K.
    const salt = "CORP.EXAMPLEhostektest.corp.example";
    assert.equal(stringToKey(AES256, "Passw0rd!", salt).toString("hex"), "12730940aeef01c781c7344719b474d8deb3c90e7ea20e368ee71aa6958fc3a6");
    assert.equal(stringToKey(AES128, "Passw0rd!", salt).toString("hex"), "b9cd5e594d7c15f2fbc3157b7a076c6b");
  });

  it("refuses RC4 (etype 23): it is reported, never derived", () => {
    assert.throws(() => stringToKey(ETYPE.RC4_HMAC, "pw", "salt"), UnsupportedEtypeError);
  });
});

describe("kerberos crypto: key derivation DK (RFC 3961 §5.1 and §5.3 usage constants)", () => {
  // Usage 2 constants 0000000299 (Kc) and 00000002AA (Ke) on the RFC 3962 B.1 keys; expected
  // values as published with OpenSSL's KRB5KDF tests (evpkdf_krb5.txt).
  it("derives Kc and Ke for usage 2 from the aes128 key", () => {
    const base = hex("42263c6e89f4fc28b8df68ee09799f15");
    assert.equal(deriveKey(base, hex("0000000299")).toString("hex"), "34280a382bc92769b2da2f9ef066854b");
    assert.equal(deriveKey(base, hex("00000002aa")).toString("hex"), "5b14fc4e250e14ddf9dccf1af6674f53");
    const k = usageKeys(base, 2);
    assert.equal(k.kc.toString("hex"), "34280a382bc92769b2da2f9ef066854b");
    assert.equal(k.ke.toString("hex"), "5b14fc4e250e14ddf9dccf1af6674f53");
  });

  it("derives Kc for usage 2 from the aes256 key (two DR blocks)", () => {
    const base = hex("fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161");
    assert.equal(deriveKey(base, hex("0000000299")).toString("hex"), "bfab388bdcb238e9f9c98d6a878304f04d30c82556375ac507a7a852790f4674");
  });
});

describe("kerberos crypto: encryption with integrity (RFC 3961 §5.3)", () => {
  const key128 = { etype: AES128, value: hex("42263c6e89f4fc28b8df68ee09799f15") };
  const key256 = { etype: AES256, value: hex("fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161") };

  for (const key of [key128, key256]) {
    for (const length of [0, 1, 15, 16, 17, 31, 32, 100]) {
      it(`round-trips ${length} octets with etype ${key.etype}`, () => {
        const plain = Buffer.alloc(length, 0x5a);
        const c = encrypt(key, 2, plain);
        assert.equal(c.length, 16 + length + 12, "confounder + plaintext + 96-bit HMAC, no padding");
        assert.deepEqual(decrypt(key, 2, c), plain);
      });
    }
  }

  it("fails the integrity check with another key, another usage, or a flipped bit", () => {
    const c = encrypt(key128, 2, Buffer.from("EncTicketPart stand-in"));
    const other = { etype: AES128, value: Buffer.from(key128.value).fill(1, 0, 1) };
    assert.throws(() => decrypt(other, 2, c), IntegrityError);
    assert.throws(() => decrypt(key128, 3, c), IntegrityError);
    const flipped = Buffer.from(c);
    flipped[20] ^= 1;
    assert.throws(() => decrypt(key128, 2, flipped), IntegrityError);
  });

  it("is deterministic for a pinned confounder and differs for random ones", () => {
    const conf = Buffer.alloc(16, 7);
    const plain = Buffer.from("same plaintext");
    assert.deepEqual(encrypt(key256, 2, plain, conf), encrypt(key256, 2, plain, conf));
    assert.notDeepEqual(encrypt(key256, 2, plain), encrypt(key256, 2, plain));
  });

  it("refuses a key of the wrong length for its etype", () => {
    assert.throws(() => encrypt({ etype: AES256, value: key128.value }, 2, Buffer.alloc(1)), RangeError);
  });
});
