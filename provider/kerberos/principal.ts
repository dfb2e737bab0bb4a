// Kerberos principal names (RFC 4120 §5.2.2 PrincipalName, §6.2 name types) and their string
// form "comp1/comp2@REALM" (RFC 1964 §2.1.1 escaping: \/ \@ \\ inside a component).
import { InvalidInputError } from "../errors";
import { der } from "./der";

/** RFC 4120 §6.2. */
export const NAME_TYPE = {
  UNKNOWN: 0,
  PRINCIPAL: 1,
  SRV_INST: 2,
  SRV_HST: 3,
  ENTERPRISE: 10,
} as const;

export interface PrincipalName {
  nameType: number;
  components: string[];
}

export interface Principal extends PrincipalName {
  realm: string;
}

function escape(s: string): string {
  return s.replace(/[\\/@]/g, (c) => `\\${c}`);
}

/** PrincipalName (§5.2.2) in DER. */
export function encodePrincipalName(p: PrincipalName): Buffer {
  return der.sequence(der.context(0, der.integer(p.nameType)), der.context(1, der.sequence(...p.components.map((c) => der.generalString(c)))));
}

/** "HTTP/outlook.corp.example" (no realm) or "HTTP/outlook.corp.example@CORP.EXAMPLE". */
export function formatPrincipal(p: PrincipalName & { realm?: string }): string {
  const name = p.components.map(escape).join("/");
  return p.realm === undefined ? name : `${name}@${escape(p.realm)}`;
}

/** Parses "a/b@REALM" or "a/b" (realm then `defaultRealm`). Two components means a service
 * (NT-SRV-HST), one a user (NT-PRINCIPAL). */
export function parsePrincipal(text: string, defaultRealm?: string): Principal {
  const components: string[] = [];
  let current = "";
  let realm: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
    } else if (c === "/" && realm === undefined) {
      components.push(current);
      current = "";
    } else if (c === "@" && realm === undefined) {
      components.push(current);
      current = "";
      realm = "";
    } else {
      current += c;
    }
  }
  if (realm === undefined) components.push(current);
  else realm = current;
  realm = realm || defaultRealm;
  if (components.some((c) => c === "") || realm === undefined || realm === "") {
    throw new InvalidInputError("principal", `"${text}" is not a principal name`, "write it as service/host@REALM or user@REALM", { code: "INVALID_PRINCIPAL" });
  }
  return { nameType: components.length > 1 ? NAME_TYPE.SRV_HST : NAME_TYPE.PRINCIPAL, components, realm };
}

/** Same principal? Realms compare exactly (RFC 4120 §6.1 realms are case-sensitive); components
 * case-insensitively, as AD matches servicePrincipalName. Name types are ignored (§6.2). */
export function samePrincipal(a: PrincipalName & { realm?: string }, b: PrincipalName & { realm?: string }): boolean {
  if (a.realm !== undefined && b.realm !== undefined && a.realm !== b.realm) return false;
  return a.components.length === b.components.length && a.components.every((c, i) => c.toLowerCase() === b.components[i].toLowerCase());
}

/**
 * The principal of an AD logon name: `user@<the realm's DNS name>` and `DOMAIN\user` (DOMAIN: the
 * domain's NetBIOS name, or its DNS name) become user@REALM; `user@other.suffix` (another UPN
 * suffix of the forest) an enterprise name (NT-ENTERPRISE) that the KDC canonicalizes (RFC 6806
 * §5); a bare name is taken in the realm. A DN is not a principal: refused, as is a DOMAIN\ of
 * another domain.
 */
export function adUserPrincipal(user: string, realm: string, netbiosName?: string): Principal {
  const upper = realm.toUpperCase();
  const refuse = (why: string, fix = `give user@${realm.toLowerCase()} or ${netbiosName ?? "DOMAIN"}\\user`): never => {
    throw new InvalidInputError("user", `"${user}" ${why}`, fix, { code: "INVALID_USER_NAME" });
  };
  if (/^[A-Za-z][A-Za-z0-9-]*=[^,]*(,|$)/.test(user)) refuse("is a distinguished name, not a Kerberos principal");
  const slash = /^([^\\]+)\\(.+)$/.exec(user);
  const at = user.lastIndexOf("@");
  let principal: Principal;
  if (slash) {
    const domain = slash[1].toUpperCase();
    const known = [upper, upper.split(".")[0], ...(netbiosName ? [netbiosName.toUpperCase()] : [])];
    if (!known.includes(domain)) refuse(`names the domain ${slash[1]}, not ${netbiosName ?? upper} (the realm ${upper})`, `give the user as user@<its domain's DNS name>`);
    principal = { nameType: NAME_TYPE.PRINCIPAL, components: [slash[2]], realm: upper };
  } else if (at < 0) {
    principal = { nameType: NAME_TYPE.PRINCIPAL, components: [user], realm: upper };
  } else if (user.slice(at + 1).toUpperCase() === upper) {
    principal = { nameType: NAME_TYPE.PRINCIPAL, components: [user.slice(0, at)], realm: upper };
  } else {
    principal = { nameType: NAME_TYPE.ENTERPRISE, components: [user], realm: upper };
  }
  const name = principal.components[0];
  if (!name || /[\\/]/.test(name) || name.startsWith("-") || (principal.nameType === NAME_TYPE.ENTERPRISE && !/^[^@]+@[^@]+$/.test(name))) refuse("is not a user name");
  return principal;
}
