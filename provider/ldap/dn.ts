// Distinguished names (RFC 4514): parsing for validation and comparison, and building from parts
// with every value escaped by escapeDnValue. Active Directory compares DNs case-insensitively, so
// do we (dnKey, dnEquals).
import { InvalidInputError } from "../errors";
import { escapeDnValue } from "./escape";

export interface Ava {
  type: string;
  value: string;
}
/** One RDN: usually one attribute=value pair; several when joined with `+`. */
export type Rdn = Ava[];

const TYPE = /^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)$/;
const SPECIAL = '"+,;<>\\=# ';

/** Parses a DN string; throws InvalidInputError naming `field` on anything malformed. */
export function parseDn(field: string, dn: unknown): Rdn[] {
  if (typeof dn !== "string" || dn.trim() === "") {
    throw new InvalidInputError(field, "is empty", "give a distinguished name such as OU=Service Accounts,DC=corp,DC=example", { code: "VALUE_EMPTY" });
  }
  const bad = (why: string): never => {
    throw new InvalidInputError(field, `${JSON.stringify(dn)} is not a valid distinguished name: ${why}`, "write it as TYPE=value pairs separated by commas, such as OU=Service Accounts,DC=corp,DC=example, with \\ before any , + \" \\ < > ; = in a value", { code: "INVALID_DN" });
  };
  const rdns: Rdn[] = [];
  let rdn: Rdn = [];
  let i = 0;
  const n = dn.length;
  while (i <= n) {
    while (i < n && dn[i] === " ") i++;
    let type = "";
    while (i < n && dn[i] !== "=") type += dn[i++];
    type = type.trim();
    if (i >= n) bad(type ? `"${type}" has no =value` : "a component is empty");
    if (!TYPE.test(type)) bad(`"${type}" is not an attribute type`);
    i++; // '='
    while (i < n && dn[i] === " ") i++;
    if (dn[i] === "#") bad("hex-encoded (#) values are not supported");
    const bytes: number[] = [];
    let lastSignificant = 0; // bytes up to here are kept: unescaped trailing spaces are dropped
    while (i < n && dn[i] !== "," && dn[i] !== "+") {
      const c = dn[i];
      if (c === "\\") {
        const h = dn.slice(i + 1, i + 3);
        if (/^[0-9a-fA-F]{2}$/.test(h)) {
          bytes.push(parseInt(h, 16));
          i += 3;
        } else if (i + 1 < n && SPECIAL.includes(dn[i + 1])) {
          bytes.push(dn.charCodeAt(i + 1));
          i += 2;
        } else {
          bad(`a backslash at position ${i} escapes nothing`);
        }
        lastSignificant = bytes.length;
        continue;
      }
      if (c === '"' || c === ";" || c === "<" || c === ">" || c === "\0") bad(`${JSON.stringify(c)} must be escaped in a value`);
      for (const b of Buffer.from(c, "utf8")) bytes.push(b);
      if (c !== " ") lastSignificant = bytes.length;
      i++;
    }
    let value: string;
    try {
      value = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(bytes.slice(0, lastSignificant)));
    } catch {
      return bad("a value is not valid UTF-8");
    }
    if (value === "") bad(`${type}= has an empty value`);
    rdn.push({ type, value });
    if (i >= n || dn[i] === ",") {
      rdns.push(rdn);
      rdn = [];
      if (i === n - 1) bad("it ends with a comma");
    }
    i++;
  }
  return rdns;
}

/** Builds a DN string from parts, escaping every value. */
export function formatDn(rdns: Rdn[]): string {
  return rdns.map((r) => r.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join("+")).join(",");
}

/** A child DN: `type=value` (escaped) under `parent` (already a DN). */
export function childDn(type: string, value: string, parent: string): string {
  return `${type}=${escapeDnValue(value)},${parent}`;
}

/** A canonical form for comparison: types and values lowercased, values re-escaped. */
export function dnKey(dn: string): string {
  return parseDn("dn", dn)
    .map((r) => r.map((a) => `${a.type.toLowerCase()}=${escapeDnValue(a.value.toLowerCase())}`).sort().join("+"))
    .join(",");
}

export function dnEquals(a: string, b: string): boolean {
  try {
    return dnKey(a) === dnKey(b);
  } catch {
    return false;
  }
}

/** The DN one level up, or "" for a single-RDN DN. */
export function parentDn(dn: string): string {
  return formatDn(parseDn("dn", dn).slice(1));
}

/** The value of the first attribute of the first RDN (`CN=ASA-OUTLOOK,...` → `ASA-OUTLOOK`). */
export function rdnValue(dn: string): string {
  return parseDn("dn", dn)[0][0].value;
}

/** A container DN for an object (OU=…/CN=…, ending in DC= components), validated for `check`. */
export function containerDn(field: string, value: unknown): string {
  const rdns = parseDn(field, value);
  for (const r of rdns) {
    if (r.length !== 1) {
      throw new InvalidInputError(field, `${JSON.stringify(value)} has a multi-valued RDN`, "name a container with one OU=, CN= or DC= per component", { code: "DN_MULTI_VALUED_RDN" });
    }
    if (!/^(ou|cn|dc|o)$/i.test(r[0].type)) {
      throw new InvalidInputError(field, `${JSON.stringify(value)} contains ${r[0].type}=, which is not a container`, "use OU=, CN= and DC= components, such as OU=Service Accounts,DC=corp,DC=example", { code: "DN_NOT_A_CONTAINER" });
    }
  }
  requireDomainSuffix(field, value, rdns);
  return formatDn(rdns);
}

/** The DN ends in the domain's DC= components, each a DNS label. */
function requireDomainSuffix(field: string, value: unknown, rdns: Rdn[]): void {
  if (!/^dc$/i.test(rdns[rdns.length - 1][0].type)) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} does not end in the domain's DC= components`, "give the full DN, such as OU=Service Accounts,DC=corp,DC=example", { code: "DN_NOT_IN_DOMAIN" });
  }
  for (const r of rdns) {
    if (r.length === 1 && /^dc$/i.test(r[0].type) && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(r[0].value)) {
      throw new InvalidInputError(field, `${JSON.stringify(value)} has DC=${r[0].value}, which is not a DNS label`, "the DC= components spell the domain's DNS name, such as DC=corp,DC=example", { code: "DN_BAD_DC_LABEL" });
    }
  }
}

/** The DN of an object in the domain (an account), validated for `check` and re-escaped. */
export function objectDn(field: string, value: unknown): string {
  const rdns = parseDn(field, value);
  if (rdns.length < 2) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} names no object inside a domain`, "give the full DN, such as CN=EXCH-ASA,OU=Service Accounts,DC=corp,DC=example", { code: "DN_NAMES_NO_OBJECT" });
  }
  requireDomainSuffix(field, value, rdns);
  return formatDn(rdns);
}

/** `DC=corp,DC=example` → `corp.example` (the DNS name of a domain naming context). */
export function dnToDomain(dn: string): string {
  return parseDn("dn", dn)
    .filter((r) => /^dc$/i.test(r[0].type))
    .map((r) => r[0].value)
    .join(".")
    .toLowerCase();
}

/**
 * The domain naming context an object's DN lies in: its trailing DC= components
 * (`CN=EXCH-ASA,OU=Service Accounts,DC=corp,DC=example` → `DC=corp,DC=example`). Lets a read start
 * from the DN its state recorded instead of asking the RootDSE.
 */
export function domainNc(dn: string): string {
  const rdns = parseDn("dn", dn);
  let i = rdns.length;
  while (i > 0 && /^dc$/i.test(rdns[i - 1][0].type)) i--;
  if (i === rdns.length) throw new InvalidInputError("dn", `${JSON.stringify(dn)} has no DC= components`, "give a DN inside a domain, such as CN=x,DC=corp,DC=example", { code: "DN_NO_DOMAIN_COMPONENTS" });
  return formatDn(rdns.slice(i));
}

