// What the doctor reads from Active Directory: the ASA account (with the per-attribute replication
// metadata that says when AES was enabled) and every holder of an SPN in the forest (Global
// Catalog). Read-only; through the shared connections of ldap/connection.ts.
import { Entry } from "ldapts";
import { LdapConnection, bufs, str } from "../ldap/connection";
import { escapeFilterValue } from "../ldap/escape";
import { dateFromFiletime, parseFiletime } from "../ldap/filetime";
import { UAC_ACCOUNTDISABLE } from "../ldap/account-bits";
import { findSpnHolders, heldAs, spnAliasTarget, spnMappings } from "../ldap/domain";

/** ATTRTYP of msDS-SupportedEncryptionTypes (1.2.840.113556.1.4.1963): prefix index 9 of the
 * fixed prefix table ("1.2.840.113556.1.4."), low word 1963 ([MS-DRSR] §5.16.4 MakeAttid). */
export const ATTID_SUPPORTED_ENCRYPTION_TYPES = 0x000907ab;
/** ATTRTYP of pwdLastSet (1.2.840.113556.1.4.96). */
export const ATTID_PWD_LAST_SET = 0x00090060;

/** Seconds between 1601-01-01 and 1970-01-01 (DSTIME counts seconds since 1601). */
const DSTIME_EPOCH_DIFF = 11644473600;

export interface AttributeChange {
  attid: number;
  version: number;
  /** When the attribute was last changed (originating write), to the second. */
  changed: Date;
  /** The local USN of that change on the DC that answered: orders writes within one second. */
  usn: bigint;
}

/**
 * Parses replPropertyMetaData ([MS-DRSR] §5.136 PROPERTY_META_DATA_EXT_VECTOR as stored:
 * dwVersion 1, dwReserved, cNumProps, dwReserved, then 48-octet entries { attrtyp u32, dwVersion
 * u32, timeChanged DSTIME u64, uuidDsaOriginating 16, usnOriginating i64, usnProperty i64 },
 * little-endian). Windows and Samba both store and return it; Samba (4.17) does not construct
 * msDS-ReplAttributeMetaData, so this binary form is the one both DCs answer.
 */
export function parseReplPropertyMetaData(blob: Buffer): AttributeChange[] {
  if (blob.length < 16 || blob.readUInt32LE(0) !== 1) throw new Error("replPropertyMetaData: not a version 1 vector");
  const count = blob.readUInt32LE(8);
  if (blob.length < 16 + count * 48) throw new Error(`replPropertyMetaData: ${count} entries do not fit in ${blob.length} octets`);
  const out: AttributeChange[] = [];
  for (let i = 0; i < count; i++) {
    const o = 16 + i * 48;
    const seconds = Number(blob.readBigUInt64LE(o + 8));
    out.push({
      attid: blob.readUInt32LE(o),
      version: blob.readUInt32LE(o + 4),
      changed: new Date((seconds - DSTIME_EPOCH_DIFF) * 1000),
      usn: blob.readBigInt64LE(o + 40),
    });
  }
  return out;
}

export interface AsaAccountFacts {
  dn: string;
  samAccountName: string;
  enabled: boolean;
  /** msDS-SupportedEncryptionTypes; undefined when the attribute is absent. */
  supportedEncryptionTypes?: number;
  /** When msDS-SupportedEncryptionTypes was last written (replication metadata), if it ever was. */
  encryptionTypesChanged?: Date;
  /** The password was last set before msDS-SupportedEncryptionTypes was last written: by the
   * metadata's times when they differ by a second or more, else by the DC's USNs of the two writes
   * (one LDAP add writes both with the same USN). Undefined without metadata. */
  passwordPredatesEncryptionTypes?: boolean;
  /** pwdLastSet; undefined when the password was never set (0). */
  passwordLastSet?: Date;
  keyVersion?: number;
}

export async function readAsaAccount(c: LdapConnection, baseDn: string, samAccountName: string): Promise<AsaAccountFacts | undefined> {
  const [e]: Entry[] = await c.search(baseDn, {
    scope: "sub",
    filter: `(sAMAccountName=${escapeFilterValue(samAccountName)})`,
    attributes: ["distinguishedName", "sAMAccountName", "userAccountControl", "msDS-SupportedEncryptionTypes", "pwdLastSet", "msDS-KeyVersionNumber", "replPropertyMetaData"],
    binary: ["replPropertyMetaData"],
  });
  if (!e) return undefined;
  const enc = str(e, "msDS-SupportedEncryptionTypes");
  const pwd = str(e, "pwdLastSet");
  const kvno = str(e, "msDS-KeyVersionNumber");
  const meta = bufs(e, "replPropertyMetaData")[0];
  const changes = meta ? parseReplPropertyMetaData(meta) : [];
  const encMeta = changes.find((m) => m.attid === ATTID_SUPPORTED_ENCRYPTION_TYPES);
  const pwdMeta = changes.find((m) => m.attid === ATTID_PWD_LAST_SET);
  let predates: boolean | undefined;
  if (encMeta && pwdMeta) {
    predates = pwdMeta.changed.getTime() !== encMeta.changed.getTime() ? pwdMeta.changed < encMeta.changed : pwdMeta.usn < encMeta.usn;
  }
  return {
    dn: e.dn,
    samAccountName: str(e, "sAMAccountName") ?? samAccountName,
    enabled: (Number(str(e, "userAccountControl") ?? "0") & UAC_ACCOUNTDISABLE) === 0,
    supportedEncryptionTypes: enc === undefined ? undefined : Number(enc),
    encryptionTypesChanged: encMeta?.changed,
    passwordPredatesEncryptionTypes: predates,
    passwordLastSet: pwd ? dateFromFiletime(parseFiletime(pwd)) : undefined,
    keyVersion: kvno === undefined ? undefined : Number(kvno),
  };
}

export interface SpnHolder {
  dn: string;
  samAccountName?: string;
  /** Set when the account holds not `spn` but this value, which `spn` is an alias of (HOST/<name>). */
  aliasOf?: string;
}

/** Every object in the forest whose servicePrincipalName holds `spn` (case-insensitive), or the value it is an alias of. */
export async function spnHolders(gc: LdapConnection, spn: string): Promise<SpnHolder[]> {
  const alias = spnAliasTarget(spn, await spnMappings(gc));
  return (await findSpnHolders(gc, spn, ["sAMAccountName"])).map((e) => {
    const held = heldAs(e, spn, alias);
    return { dn: e.dn, samAccountName: str(e, "sAMAccountName"), ...(held !== spn && held !== undefined ? { aliasOf: held } : {}) };
  });
}
