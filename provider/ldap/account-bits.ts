// The bit masks of the account attributes the ASA is judged and written by: one definition for
// the resources and the doctor.

/** msDS-SupportedEncryptionTypes bits ([MS-KILE] §2.2.7). */
export const EncryptionTypes = { DES_CBC_CRC: 0x1, DES_CBC_MD5: 0x2, RC4_HMAC: 0x4, AES128: 0x8, AES256: 0x10, AES_SK: 0x20 } as const;
export const AES_TYPES = EncryptionTypes.AES128 | EncryptionTypes.AES256;
export const DEFAULT_ENCRYPTION_TYPES = AES_TYPES;

/** userAccountControl bits ([MS-ADTS] §2.2.16). */
export const UAC_ACCOUNTDISABLE = 0x2;
export const UAC_WORKSTATION_TRUST_ACCOUNT = 0x1000;
