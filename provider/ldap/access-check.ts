// What the bind account may do, for the rights AD's constructed attributes do not report. The
// server answers allowedChildClassesEffective and allowedAttributesEffective itself ([MS-ADTS]
// §3.1.1.4.5.3, §3.1.1.4.5.4), but only for objects that exist, and for neither "Delete child" nor
// control access rights (Reset Password). Those are read here from the security descriptor and
// checked against the account's token:
//
// - the descriptor ([MS-DTYP] §2.4.6 SECURITY_DESCRIPTOR, self-relative; §2.4.5 ACL; §2.4.4.2
//   ACCESS_ALLOWED_ACE, §2.4.4.3 ACCESS_ALLOWED_OBJECT_ACE and their DENIED forms), read with the
//   SD flags control asking for the DACL only, which any reader with READ_CONTROL gets;
// - the token: the RootDSE's tokenGroups (the connection's own token), the account's objectSid
//   and the SIDs every network logon carries (Everyone, Authenticated Users, This Organization,
//   NETWORK);
// - the check ([MS-DTYP] §2.5.3.2 for one access bit, [MS-ADTS] §5.1.3.3.3 for object ACEs): the
//   first ACE of the token's SIDs that names the bit decides; an object ACE counts only when its
//   ObjectType is absent or is the attribute, its property set, the class or the right asked for.
//
// For an object not created yet (the ASA before the first up), the DACL it would have is taken
// from the parent's inheritable ACEs for its class ([MS-DTYP] §2.5.3.4.2, ComputeACL). What the
// class's defaultSecurityDescriptor grants the creator (CREATOR OWNER) is not counted: the
// delegation this project documents grants every right on the OU, which is what is checked.
import { Entry } from "ldapts";
import { bufs, LdapConnection, str } from "./connection";
import { domainInfo } from "./domain";
import { escapeFilterValue } from "./escape";
import { sidToString } from "./sid";

/** [MS-ADTS] §5.1.3.2 access rights of directory objects. */
export const DS_CREATE_CHILD = 0x1;
export const DS_DELETE_CHILD = 0x2;
export const DS_WRITE_PROPERTY = 0x20;
export const DS_CONTROL_ACCESS = 0x100;
export const DELETE = 0x10000;

/** The rightsGuid of User-Force-Change-Password, "Reset Password" ([MS-ADTS] §5.1.3.2.1). */
export const RESET_PASSWORD_RIGHT = "00299570-246d-11d0-a768-00aa006e0529";

const ACE_ALLOWED = 0x00;
const ACE_DENIED = 0x01;
const ACE_ALLOWED_OBJECT = 0x05;
const ACE_DENIED_OBJECT = 0x06;
const CONTAINER_INHERIT = 0x02;
const INHERIT_ONLY = 0x08;
const OBJECT_TYPE_PRESENT = 0x1;
const INHERITED_OBJECT_TYPE_PRESENT = 0x2;

export interface Ace {
  allow: boolean;
  flags: number;
  mask: number;
  sid: string;
  /** Lowercase GUID, or undefined for "any". */
  objectType?: string;
  inheritedObjectType?: string;
}

/** A GUID as AD writes it in text (the first three fields little-endian). */
export function guidToString(b: Buffer): string {
  const h = (x: Buffer) => x.toString("hex");
  const le = (o: number, n: number) => h(Buffer.from(b.subarray(o, o + n)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`;
}

function sidAt(b: Buffer, o: number): string {
  const n = b.readUInt8(o + 1);
  return sidToString(b.subarray(o, o + 8 + 4 * n));
}

/** The DACL of a self-relative security descriptor; [] when it has none. */
export function parseDacl(sd: Buffer): Ace[] {
  if (sd.length < 20) throw new Error(`a security descriptor is at least 20 bytes, got ${sd.length}`);
  const daclAt = sd.readUInt32LE(16);
  if (daclAt === 0) return [];
  const count = sd.readUInt16LE(daclAt + 4);
  const aces: Ace[] = [];
  let o = daclAt + 8;
  for (let i = 0; i < count; i++) {
    const type = sd.readUInt8(o);
    const flags = sd.readUInt8(o + 1);
    const size = sd.readUInt16LE(o + 2);
    const mask = sd.readUInt32LE(o + 4);
    if (type === ACE_ALLOWED || type === ACE_DENIED) {
      aces.push({ allow: type === ACE_ALLOWED, flags, mask, sid: sidAt(sd, o + 8) });
    } else if (type === ACE_ALLOWED_OBJECT || type === ACE_DENIED_OBJECT) {
      const present = sd.readUInt32LE(o + 8);
      let p = o + 12;
      const ace: Ace = { allow: type === ACE_ALLOWED_OBJECT, flags, mask, sid: "" };
      if (present & OBJECT_TYPE_PRESENT) (ace.objectType = guidToString(sd.subarray(p, p + 16))), (p += 16);
      if (present & INHERITED_OBJECT_TYPE_PRESENT) (ace.inheritedObjectType = guidToString(sd.subarray(p, p + 16))), (p += 16);
      ace.sid = sidAt(sd, p);
      aces.push(ace);
    } // other types (audit, callback) grant nothing here
    o += size;
  }
  return aces;
}

/** The ACEs a new child of class `childClass` gets from its parent's DACL (inheritable ones, made effective). */
export function inheritedAces(parent: Ace[], childClass: string): Ace[] {
  return parent
    .filter((a) => a.flags & CONTAINER_INHERIT && (a.inheritedObjectType === undefined || a.inheritedObjectType === childClass))
    .map((a) => ({ ...a, flags: a.flags & ~INHERIT_ONLY, inheritedObjectType: undefined }));
}

/**
 * Whether the DACL grants the token `right`; `objectTypes` are the GUIDs an object ACE may name for
 * it (an attribute and its property set, a class, an extended right). The first ACE that names
 * the bit for one of the token's SIDs decides.
 */
export function grants(aces: Ace[], token: Set<string>, right: number, objectTypes: string[]): boolean {
  for (const a of aces) {
    if (a.flags & INHERIT_ONLY || !(a.mask & right) || !token.has(a.sid)) continue;
    if (a.objectType !== undefined && !objectTypes.includes(a.objectType)) continue;
    return a.allow;
  }
  return false;
}

/** The SIDs of the bound account's token: its own, its groups, and those of every network logon. */
export async function bindToken(c: LdapConnection): Promise<Set<string>> {
  const key = "bindToken";
  let p = c.cache.get(key) as Promise<Set<string>> | undefined;
  if (!p) {
    p = readToken(c);
    c.cache.set(key, p);
    p.catch(() => c.cache.delete(key));
  }
  return p;
}

async function readToken(c: LdapConnection): Promise<Set<string>> {
  // The RootDSE's tokenGroups is the token of this very connection ([MS-ADTS] §3.1.1.3.2, "rootDSE Attributes", lists
  // it among the RootDSE's attributes; Samba answers it the same way, with the
  // account's own SID and the well-known SIDs of a network logon in it).
  const [root] = await c.search("", { scope: "base", attributes: ["tokenGroups"], binary: ["tokenGroups"] });
  const sids = new Set<string>(["S-1-1-0", "S-1-5-11", "S-1-5-15", "S-1-5-2"]);
  for (const b of root ? bufs(root, "tokenGroups") : []) sids.add(sidToString(b));
  // The account's own SID, where the RootDSE leaves it out.
  const info = await domainInfo(c);
  const who = c.settings.bindUser;
  const sam = who.includes("\\") ? who.slice(who.indexOf("\\") + 1) : who.replace(/@.*$/, "");
  const [account]: Entry[] = who.includes("=")
    ? await c.search(who, { scope: "base", attributes: ["objectSid"], binary: ["objectSid"] }).catch(() => [])
    : await c.search(info.defaultNamingContext, { scope: "sub", filter: `(|(userPrincipalName=${escapeFilterValue(who)})(sAMAccountName=${escapeFilterValue(sam)}))`, attributes: ["objectSid"], binary: ["objectSid"] });
  for (const b of account ? bufs(account, "objectSid") : []) sids.add(sidToString(b));
  return sids;
}

/** The DACL of `dn` (DACL_SECURITY_INFORMATION only). */
export async function readDacl(c: LdapConnection, dn: string): Promise<Ace[]> {
  const [e] = await c.search(dn, { scope: "base", attributes: ["nTSecurityDescriptor"], binary: ["nTSecurityDescriptor"], sdFlags: 0x4 });
  const sd = e && bufs(e, "nTSecurityDescriptor")[0];
  return sd ? parseDacl(sd) : [];
}

export interface SchemaGuids {
  /** schemaIDGUID of the class or attribute. */
  id: string;
  /** attributeSecurityGUID: the property set the attribute belongs to, if any. */
  propertySet?: string;
}

/** schemaIDGUID (and the property set) of classes and attributes by lDAPDisplayName, read once per connection. */
export async function schemaGuids(c: LdapConnection, names: string[]): Promise<Map<string, SchemaGuids>> {
  const info = await domainInfo(c);
  const out = new Map<string, SchemaGuids>();
  const missing: string[] = [];
  for (const n of names) {
    const hit = c.cache.get(`schema:${n.toLowerCase()}`) as Promise<SchemaGuids> | undefined;
    if (hit) out.set(n.toLowerCase(), await hit);
    else missing.push(n);
  }
  if (missing.length === 0) return out;
  const found = await c.search(`CN=Schema,${info.configurationNamingContext}`, {
    scope: "one",
    filter: `(|${missing.map((n) => `(lDAPDisplayName=${escapeFilterValue(n)})`).join("")})`,
    attributes: ["lDAPDisplayName", "schemaIDGUID", "attributeSecurityGUID"],
    binary: ["schemaIDGUID", "attributeSecurityGUID"],
  });
  for (const e of found) {
    const name = (str(e, "lDAPDisplayName") ?? "").toLowerCase();
    const id = bufs(e, "schemaIDGUID")[0];
    if (!id) continue;
    const set = bufs(e, "attributeSecurityGUID")[0];
    const g: SchemaGuids = { id: guidToString(id), ...(set && set.length === 16 ? { propertySet: guidToString(set) } : {}) };
    c.cache.set(`schema:${name}`, Promise.resolve(g));
    out.set(name, g);
  }
  return out;
}
