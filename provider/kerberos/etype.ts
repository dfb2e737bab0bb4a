// Kerberos encryption type numbers (RFC 3961 §8, RFC 3962 §7, RFC 4757, RFC 8009 §7) and what
// each means for an Exchange ASA. Only the two AES-SHA1 types are implemented here; RC4 tickets
// are detected and reported, never decrypted (node's OpenSSL 3 has no MD4 by default, and RC4 is
// being retired from AD: KB 5073381).

export const ETYPE = {
  DES_CBC_CRC: 1,
  DES_CBC_MD5: 3,
  DES3_CBC_SHA1: 16,
  AES128_CTS_HMAC_SHA1_96: 17,
  AES256_CTS_HMAC_SHA1_96: 18,
  AES128_CTS_HMAC_SHA256_128: 19,
  AES256_CTS_HMAC_SHA384_192: 20,
  RC4_HMAC: 23,
} as const;

export type AesSha1Etype = typeof ETYPE.AES128_CTS_HMAC_SHA1_96 | typeof ETYPE.AES256_CTS_HMAC_SHA1_96;

const NAMES: Record<number, string> = {
  1: "des-cbc-crc",
  3: "des-cbc-md5",
  16: "des3-cbc-sha1",
  17: "aes128-cts-hmac-sha1-96",
  18: "aes256-cts-hmac-sha1-96",
  19: "aes128-cts-hmac-sha256-128",
  20: "aes256-cts-hmac-sha384-192",
  23: "rc4-hmac",
  24: "rc4-hmac-exp",
};

/** The MIT name of an etype ("aes256-cts-hmac-sha1-96"), or "etype N". */
export function etypeName(etype: number): string {
  return NAMES[etype] ?? `etype ${etype}`;
}

export function isAesSha1(etype: number): etype is AesSha1Etype {
  return etype === ETYPE.AES128_CTS_HMAC_SHA1_96 || etype === ETYPE.AES256_CTS_HMAC_SHA1_96;
}

/** Key length in octets of the AES-SHA1 types (RFC 3962 §6). */
export function aesKeyLength(etype: AesSha1Etype): 16 | 32 {
  return etype === ETYPE.AES128_CTS_HMAC_SHA1_96 ? 16 : 32;
}
