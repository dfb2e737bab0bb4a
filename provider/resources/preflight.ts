// The read-only questions `check` asks the directory at preview, for AsaComputerAccount, Spn and
// DnsRecord: whatever `up` would otherwise find only after DNS, URLs and bindings had changed.
// Each answer becomes a check failure on the field it is about; nothing here writes.
import { InvalidInputError, KerberosRolloutError, NotFoundError } from "../errors";
import { CONFIG_NAMESPACE } from "../settings";
import { CheckFailures } from "./dynamic";
import { LdapConnection, str, strs } from "../ldap/connection";
import { dnKey } from "../ldap/dn";
import { domainInfo, findBySamAccountName } from "../ldap/domain";
import { bindToken, DELETE, DS_CONTROL_ACCESS, DS_DELETE_CHILD, DS_WRITE_PROPERTY, grants, inheritedAces, readDacl, RESET_PASSWORD_RIGHT, schemaGuids } from "../ldap/access-check";
import { UAC_ACCOUNTDISABLE } from "../ldap/account-bits";
import { ErrorCode } from "../error-codes";
import { Entry } from "ldapts";

/**
 * Runs one directory question for `check`. A bad connection setting (a plain-text URL, a timeout
 * that is no number) fails naming its config key; any other refusal of the directory fails on
 * `field`, saying what could not be checked.
 */
export async function askDirectory(f: CheckFailures, field: string, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof InvalidInputError && e.field.startsWith(`${CONFIG_NAMESPACE}:`)) f.addError("", e);
    else if (e instanceof KerberosRolloutError) f.addError(field, e, `cannot check ${what}`);
    else throw e;
  }
}

/** `dn` is `nc` or lies under it. */
export function within(dn: string, nc: string): boolean {
  const a = dnKey(dn);
  const b = dnKey(nc);
  return a === b || a.endsWith(`,${b}`);
}

/** The lowercase values of a multi-valued attribute (objectClass, allowed…Effective). */
export function lowerValues(e: Entry, name: string): string[] {
  return strs(e, name).map((v) => v.toLowerCase());
}

/** The object at `dn` with `attributes`, or undefined when there is none. */
export async function baseEntry(c: LdapConnection, dn: string, attributes: string[]): Promise<Entry | undefined> {
  try {
    const [e] = await c.search(dn, { scope: "base", attributes });
    return e;
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/** What the ASA's rights check needs to know about the declared account. */
export interface AsaRightsQuestion {
  ou: string;
  name: string;
  /** Set: the component writes a description (create, adopt, namespace change). */
  description?: string;
  /** Set: the stack's owner mark goes to adminDescription (owner.ts). */
  owner?: string;
}

/**
 * For `check`: every right `up`, a rotation and `destroy` need on the ASA, checked before anything
 * changes (docs/guides/delegate-the-bind-account.md lists them with their dsacls lines). On an existing account
 * the directory's own answer (allowedAttributesEffective) decides the attribute writes; the rights
 * AD reports nowhere (delete, Reset Password), and every right on an account not created yet, are
 * read from the DACLs (ldap/access-check.ts). Each missing right is one failure with its own code.
 */
export async function checkAsaRights(c: LdapConnection, f: CheckFailures, q: AsaRightsQuestion): Promise<void> {
  const info = await domainInfo(c);
  const [schema, token] = await Promise.all([
    schemaGuids(c, ["computer", "servicePrincipalName", "msDS-SupportedEncryptionTypes", "adminDescription", "description", "userAccountControl"]),
    bindToken(c),
  ]);
  const computer = schema.get("computer")?.id ?? "";
  const user = c.settings.bindUser;
  const [existing] = await findBySamAccountName(c, info.defaultNamingContext, `${q.name}$`, ["allowedAttributesEffective", "userAccountControl", "objectClass"]);
  const asa = existing && strs(existing, "objectClass").some((x) => x.toLowerCase() === "computer") ? existing : undefined;
  const ouDacl = await readDacl(c, q.ou);
  const asaDacl = asa ? await readDacl(c, asa.dn) : inheritedAces(ouDacl, computer);
  const where = asa ? asa.dn : `a new computer object in ${q.ou}`;
  const dsacls = (perm: string, inherit = true) => `dsacls "${q.ou}" ${inherit ? "/I:S" : "/I:T"} /G "${user}:${perm}"`;
  const missing = (code: ErrorCode, what: string, perm: string, inherit = true) =>
    f.add("ou", code, `the bind user ${user} may not ${what} (${where})`, `delegate it on the OU: ${dsacls(perm, inherit)}, or bind as an account that has it (docs/guides/delegate-the-bind-account.md)`);

  const canDelete = grants(ouDacl, token, DS_DELETE_CHILD, [computer]) || (asa !== undefined && grants(asaDacl, token, DELETE, []));
  if (!canDelete) missing("NO_RIGHT_TO_DELETE_COMPUTERS", "delete computer objects, which destroy and a rename need", "CCDC;computer", false);

  const writable = (attr: string): boolean => {
    if (asa) return strs(asa, "allowedAttributesEffective").some((a) => a.toLowerCase() === attr.toLowerCase());
    const g = schema.get(attr.toLowerCase());
    return g !== undefined && grants(asaDacl, token, DS_WRITE_PROPERTY, [g.id, ...(g.propertySet ? [g.propertySet] : [])]);
  };
  // The general right: the validated write (Validated-SPN) allows only the account's own host names ([MS-ADTS] §3.1.1.5.3.1.1.4).
  if (!writable("servicePrincipalName")) missing("NO_RIGHT_TO_WRITE_SPN", "write servicePrincipalName (the general Write right: the validated write allows only the account's own host names, never HTTP/<namespace>)", "WP;servicePrincipalName;computer");
  if (!writable("msDS-SupportedEncryptionTypes")) missing("NO_RIGHT_TO_WRITE_ENCRYPTION_TYPES", "write msDS-SupportedEncryptionTypes (the default descriptor lets only the account itself write it)", "WP;msDS-SupportedEncryptionTypes;computer");
  if (q.owner !== undefined && !writable("adminDescription")) missing("NO_RIGHT_TO_WRITE_OWNER_MARK", "write adminDescription, where the stack marks what it owns", "WP;adminDescription;computer");
  if (q.description !== undefined && !writable("description")) missing("NO_RIGHT_TO_WRITE_DESCRIPTION", "write description", "WP;description;computer");
  if (!grants(asaDacl, token, DS_CONTROL_ACCESS, [RESET_PASSWORD_RIGHT])) missing("NO_RIGHT_TO_RESET_PASSWORD", "reset the ASA's password (the extended right Reset Password, which every rotation uses)", "CA;Reset Password;computer");
  if (asa && Number(str(asa, "userAccountControl") ?? "0") & UAC_ACCOUNTDISABLE && !writable("userAccountControl")) {
    missing("NO_RIGHT_TO_ENABLE_ACCOUNT", "write userAccountControl to enable the disabled account", "WP;userAccountControl;computer");
  }
}
