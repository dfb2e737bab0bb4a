// The read-only questions `check` asks the directory at preview, for AsaComputerAccount, Spn and
// DnsRecord: whatever `up` would otherwise find only after DNS, URLs and bindings had changed.
// Each answer becomes a check failure on the field it is about; nothing here writes.
import { InvalidInputError, KerberosRolloutError, NotFoundError } from "../errors";
import { CONFIG_NAMESPACE } from "../settings";
import { CheckFailures } from "./dynamic";
import { LdapConnection, strs } from "../ldap/connection";
import { dnKey } from "../ldap/dn";
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
