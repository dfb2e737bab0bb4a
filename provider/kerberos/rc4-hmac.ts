// rc4-hmac (etype 23, RFC 4757), for the client's own AS and TGS exchanges only, and only where the
// KDC offers nothing else for the account (kdc-client.ts asks for AES first): never to derive the
// ASA's key (check 5 reports an RC4 ticket, it does not decrypt one: crypto.ts stays AES-only).
// Node's OpenSSL 3 keeps MD4 and RC4 in its legacy provider, which Node does not load, so both are
// written here (RFC 1320, and the RC4 keystream); HMAC-MD5 and MD5 come from node:crypto.
//
//   string-to-key  K  = MD4(UTF-16LE(password))                      -- RFC 4757 §3 (no salt)
//   encryption     K1 = HMAC-MD5(K, T), T = the usage, 4 octets little-endian, translated (below)
//                  checksum = HMAC-MD5(K1, confounder(8) | plaintext)
//                  K3 = HMAC-MD5(K1, checksum); output = checksum | RC4(K3, confounder | plaintext)
//   hmac-md5 cksum Ksign = HMAC-MD5(K, "signaturekey\0"); HMAC-MD5(Ksign, MD5(T | data)) -- §4, type -138
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { IntegrityError } from "./errors";

/** The checksum type of hmac-md5 (RFC 4757 §4; "KERB_CHECKSUM_HMAC_MD5"). */
export const CKSUMTYPE_HMAC_MD5 = -138;
const CONFOUNDER = 8;
const MAC = 16;

function rotl(x: number, s: number): number {
  return ((x << s) | (x >>> (32 - s))) >>> 0;
}

/** MD4 (RFC 1320). */
export function md4(message: Uint8Array): Buffer {
  const bitLength = message.length * 8;
  const padded = Buffer.alloc(Math.ceil((message.length + 9) / 64) * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  padded.writeUInt32LE(bitLength >>> 0, padded.length - 8);
  padded.writeUInt32LE(Math.floor(bitLength / 0x100000000), padded.length - 4);
  let [a, b, c, d] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const x = new Array<number>(16);
  const f = (p: number, q: number, r: number): number => (p & q) | (~p & r);
  const g = (p: number, q: number, r: number): number => (p & q) | (p & r) | (q & r);
  const h = (p: number, q: number, r: number): number => p ^ q ^ r;
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = padded.readUInt32LE(off + i * 4);
    const [aa, bb, cc, dd] = [a, b, c, d];
    // §3.4: three rounds of sixteen operations, each [abcd k s] on the rotated registers.
    const rounds: [typeof f, number, number[], number[]][] = [
      [f, 0, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [3, 7, 11, 19]],
      [g, 0x5a827999, [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15], [3, 5, 9, 13]],
      [h, 0x6ed9eba1, [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15], [3, 9, 11, 15]],
    ];
    for (const [fn, k, order, shifts] of rounds) {
      for (let i = 0; i < 16; i++) {
        const t = rotl((a + fn(b, c, d) + x[order[i]] + k) >>> 0, shifts[i % 4]);
        [a, b, c, d] = [d, t, b, c];
      }
    }
    a = (a + aa) >>> 0;
    b = (b + bb) >>> 0;
    c = (c + cc) >>> 0;
    d = (d + dd) >>> 0;
  }
  const out = Buffer.alloc(16);
  [a, b, c, d].forEach((v, i) => out.writeUInt32LE(v, i * 4));
  return out;
}

/** The RC4 keystream XORed over `data` (encryption and decryption are the same). */
export function rc4(key: Uint8Array, data: Uint8Array): Buffer {
  const s = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i] + key[i % key.length]) & 0xff;
    [s[i], s[j]] = [s[j], s[i]];
  }
  const out = Buffer.alloc(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + s[i]) & 0xff;
    [s[i], s[j]] = [s[j], s[i]];
    out[n] = data[n] ^ s[(s[i] + s[j]) & 0xff];
  }
  return out;
}

/** RFC 4757 §3: the NT hash of the password. There is no salt. */
export function rc4StringToKey(password: string): Buffer {
  return md4(Buffer.from(password, "utf16le"));
}

/** Windows' key usage numbers for RC4 where they differ from RFC 4120's (MIT's
 * krb5int_arcfour_translate_usage): the AS-REP's enc-part is 8, a wrap token's signature 13. */
function msUsage(usage: number): Buffer {
  const t = Buffer.alloc(4);
  t.writeUInt32LE(usage === 3 ? 8 : usage === 23 ? 13 : usage, 0);
  return t;
}

const hmacMd5 = (key: Uint8Array, data: Uint8Array): Buffer => createHmac("md5", key).update(data).digest();

export function rc4Encrypt(key: Uint8Array, usage: number, plaintext: Uint8Array, confounder: Uint8Array = randomBytes(CONFOUNDER)): Buffer {
  const k1 = hmacMd5(key, msUsage(usage));
  const inner = Buffer.concat([confounder, plaintext]);
  const checksum = hmacMd5(k1, inner);
  return Buffer.concat([checksum, rc4(hmacMd5(k1, checksum), inner)]);
}

export function rc4Decrypt(key: Uint8Array, usage: number, ciphertext: Uint8Array): Buffer {
  if (ciphertext.length < MAC + CONFOUNDER) throw new IntegrityError(`rc4-hmac ciphertext of ${ciphertext.length} octets is shorter than checksum and confounder`);
  const k1 = hmacMd5(key, msUsage(usage));
  const checksum = ciphertext.subarray(0, MAC);
  const inner = rc4(hmacMd5(k1, checksum), ciphertext.subarray(MAC));
  if (!timingSafeEqual(hmacMd5(k1, inner), checksum)) {
    throw new IntegrityError(`rc4-hmac integrity check failed for key usage ${usage}: the key is not the one the message was encrypted with`);
  }
  return inner.subarray(CONFOUNDER);
}

/** The hmac-md5 checksum (type -138) of `data` for a key usage. */
export function rc4Checksum(key: Uint8Array, usage: number, data: Uint8Array): Buffer {
  const ksign = hmacMd5(key, Buffer.from("signaturekey\0", "latin1"));
  return hmacMd5(ksign, createHash("md5").update(msUsage(usage)).update(data).digest());
}
