// The encryption types the client's own exchanges (kdc-client.ts) speak, behind one interface:
// aes256/aes128-cts-hmac-sha1-96 (RFC 3962, crypto.ts) and rc4-hmac (RFC 4757, rc4-hmac.ts), each
// with its string-to-key, authenticated encryption and keyed checksum. The checksum is what a
// TGS-REQ's authenticator carries over the request body (RFC 4120 §7.5.1 usage 6).
import { createHmac } from "node:crypto";
import { DEFAULT_ITERATIONS, decrypt, encrypt, EncryptionKey, stringToKey, usageKeys } from "./crypto";
import { ETYPE, etypeName } from "./etype";
import { UnsupportedEtypeError } from "./errors";
import { CKSUMTYPE_HMAC_MD5, rc4Checksum, rc4Decrypt, rc4Encrypt, rc4StringToKey } from "./rc4-hmac";

export interface Checksum {
  type: number;
  value: Buffer;
}

export interface Cipher {
  etype: number;
  /** s2kparams as the KDC sends them in ETYPE-INFO2 (RFC 3962 §4: the iteration count, 4 octets
   * big-endian; RC4 has none). */
  stringToKey(password: string, salt: string, s2kparams?: Buffer): EncryptionKey;
  encrypt(key: EncryptionKey, usage: number, plaintext: Uint8Array): Buffer;
  decrypt(key: EncryptionKey, usage: number, ciphertext: Uint8Array): Buffer;
  checksum(key: EncryptionKey, usage: number, data: Uint8Array): Checksum;
}

/** RFC 3962 §7: hmac-sha1-96-aes128 (15) and hmac-sha1-96-aes256 (16). */
const AES_CKSUMTYPE: Record<number, number> = { [ETYPE.AES128_CTS_HMAC_SHA1_96]: 15, [ETYPE.AES256_CTS_HMAC_SHA1_96]: 16 };

function aes(etype: number): Cipher {
  return {
    etype,
    stringToKey(password, salt, s2kparams) {
      const iterations = s2kparams && s2kparams.length === 4 ? s2kparams.readUInt32BE(0) : DEFAULT_ITERATIONS;
      return { etype, value: stringToKey(etype, password, salt, iterations) };
    },
    encrypt: (key, usage, plaintext) => encrypt(key, usage, plaintext),
    decrypt: (key, usage, ciphertext) => decrypt(key, usage, ciphertext),
    // RFC 3961 §5.4 simplified profile: HMAC-SHA1 with Kc, truncated to 96 bits.
    checksum: (key, usage, data) => ({ type: AES_CKSUMTYPE[etype], value: createHmac("sha1", usageKeys(key.value, usage).kc).update(data).digest().subarray(0, 12) }),
  };
}

const rc4: Cipher = {
  etype: ETYPE.RC4_HMAC,
  stringToKey: (password) => ({ etype: ETYPE.RC4_HMAC, value: rc4StringToKey(password) }),
  encrypt: (key, usage, plaintext) => rc4Encrypt(key.value, usage, plaintext),
  decrypt: (key, usage, ciphertext) => rc4Decrypt(key.value, usage, ciphertext),
  checksum: (key, usage, data) => ({ type: CKSUMTYPE_HMAC_MD5, value: rc4Checksum(key.value, usage, data) }),
};

/** The etypes the client can use, in the order it asks for them: AES256, AES128, then RC4 (which
 * the KDC picks only for an account with no AES key, RFC 4120 §3.1.3: the first of the client's
 * list that it holds a key for). */
export const CLIENT_ETYPES = [ETYPE.AES256_CTS_HMAC_SHA1_96, ETYPE.AES128_CTS_HMAC_SHA1_96, ETYPE.RC4_HMAC];

export function cipherFor(etype: number): Cipher {
  if (etype === ETYPE.AES256_CTS_HMAC_SHA1_96 || etype === ETYPE.AES128_CTS_HMAC_SHA1_96) return aes(etype);
  if (etype === ETYPE.RC4_HMAC) return rc4;
  throw new UnsupportedEtypeError(etype, `${etypeName(etype)} (etype ${etype}) is not implemented by the client; only aes256/aes128-cts-hmac-sha1-96 and rc4-hmac are`);
}
