// `keytab`: a keytab holding the ASA's keys for every HTTP/<name> SPN of the namespace, derived
// from the stack's ASA password exactly as AD derives them (AES256 and AES128, salt of a computer
// account, AD's current key version), so that a Linux reverse proxy or load balancer in front of
// Exchange (Apache mod_auth_gssapi, nginx spnego, HAProxy…) accepts the same tickets the
// Exchange servers do. The key version and realm come from the directory, never guessed: a keytab
// with another kvno is refused by MIT acceptors ("Key version is not available").
import { chmod, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { InvalidInputError, NotFoundError } from "./errors";
import { readAsaAccount } from "./doctor/directory";
import { stringToKey } from "./kerberos/crypto";
import { ETYPE } from "./kerberos/etype";
import { KeytabEntry, writeKeytab } from "./kerberos/keytab";
import { NAME_TYPE } from "./kerberos/principal";
import { adAccountSalt } from "./kerberos/salt";
import { directory } from "./ldap/connection";
import { domainInfo } from "./ldap/domain";
import { registerSecret } from "./secrets";
import { CONFIG_NAMESPACE, LdapSettings } from "./settings";

export interface AsaKeytabRequest {
  /** Host names served with HTTP/<name>: the namespace and its extra names. */
  names: string[];
  /** The ASA: EXCH-ASA, EXCH-ASA$ or CORP\EXCH-ASA$. */
  asaName: string;
  /** The password AD holds for the ASA (the stack's secret). */
  asaPassword: string;
  realm: string;
  /** AD's msDS-KeyVersionNumber of the ASA. */
  kvno: number;
  timestamp?: Date;
}

function samOf(asaName: string): string {
  const bare = asaName.replace(/^[^\\]*\\/, "");
  return bare.endsWith("$") ? bare : `${bare}$`;
}

/** The keytab's entries: per name, AES256 then AES128 (the order AD prefers them). */
export function asaKeytabEntries(req: AsaKeytabRequest): KeytabEntry[] {
  if (!Number.isInteger(req.kvno) || req.kvno < 1) throw new InvalidInputError("kvno", `${req.kvno} is not a key version`, "read msDS-KeyVersionNumber of the ASA", { code: "INVALID_KVNO" });
  const realm = req.realm.toUpperCase();
  const salt = adAccountSalt(realm, samOf(req.asaName));
  const names = [...new Set(req.names.map((n) => n.toLowerCase().replace(/\.$/, "")))];
  if (names.length === 0) throw new InvalidInputError(`${CONFIG_NAMESPACE}:namespace`, "no host name to write keys for", "set the namespace", { code: "SETTING_MISSING" });
  const keys = [ETYPE.AES256_CTS_HMAC_SHA1_96, ETYPE.AES128_CTS_HMAC_SHA1_96].map((etype) => ({ etype, value: stringToKey(etype, req.asaPassword, salt) }));
  const entries: KeytabEntry[] = [];
  for (const name of names) {
    for (const key of keys) {
      // KRB5_NT_PRINCIPAL, as MIT ktutil and Windows ktpass write them; acceptors match by components.
      entries.push({ principal: { nameType: NAME_TYPE.PRINCIPAL, components: ["HTTP", name], realm }, kvno: req.kvno, key, timestamp: req.timestamp });
    }
  }
  return entries;
}

export interface WrittenKeytab {
  path: string;
  realm: string;
  kvno: number;
  principals: string[];
  etypes: string[];
}

/**
 * Reads the realm and AD's key version of the ASA from the directory, then writes the keytab to
 * `path` (mode 0600, written aside and renamed: a reader never sees half a keytab, and a keytab
 * already there is replaced whole).
 */
export async function writeAsaKeytab(o: { path: string; names: string[]; asaName: string; asaPassword: string | undefined; ldap: LdapSettings }): Promise<WrittenKeytab> {
  if (!o.asaPassword) {
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:asaPassword`, "the ASA password is not known (no stack output asaPassword, no config)", "run it against the stack that rolled out the ASA (--stack), or give --asa-password-stdin", { code: "ASA_PASSWORD_UNKNOWN" });
  }
  registerSecret(o.asaPassword);
  const dc = directory(o.ldap);
  const info = await domainInfo(dc);
  const sam = samOf(o.asaName);
  const asa = await readAsaAccount(dc, info.defaultNamingContext, sam);
  if (!asa) throw new NotFoundError(`the ASA ${info.netbiosName}\\${sam} does not exist in ${info.dnsDomain}`, "pulumi up the stack first (it creates the ASA)", { code: "ASA_NOT_FOUND" });
  if (asa.keyVersion === undefined) throw new NotFoundError(`${asa.dn} has no msDS-KeyVersionNumber`, "set the ASA's password (pulumi up) so that it has keys", { code: "ASA_NO_KEY_VERSION" });
  const entries = asaKeytabEntries({ names: o.names, asaName: sam, asaPassword: o.asaPassword, realm: info.realm, kvno: asa.keyVersion });
  const tmp = join(dirname(o.path), `.${basename(o.path)}.${process.pid}.tmp`);
  try {
    await writeKeytab(tmp, entries);
    await chmod(tmp, 0o600);
    await rename(tmp, o.path);
  } finally {
    await rm(tmp, { force: true });
    for (const e of entries) e.key.value.fill(0);
  }
  return {
    path: o.path,
    realm: info.realm,
    kvno: asa.keyVersion,
    principals: [...new Set(entries.map((e) => `${e.principal.components.join("/")}@${e.principal.realm}`))],
    etypes: ["aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96"],
  };
}
