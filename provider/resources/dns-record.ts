// DnsRecord: the A, AAAA or CNAME records of one name in an AD-integrated zone, written as a
// dnsNode over LDAP. `values` is authoritative (round robin over every address declared; any other
// value of that type is removed); records of other types on the node are never touched.
import * as pulumi from "@pulumi/pulumi";
import { AlreadyExistsError, ConflictError, InvalidInputError, warn } from "../errors";
import { LdapOverride, ldapSettings } from "../settings";
import { settingDefault } from "../setting-keys";
import { bool, dnsLabel, fqdn, ipv4, ipv6, oneOf } from "../validate";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs } from "./dynamic";
import { directoryFor, LdapConnection } from "../ldap/connection";
import { canonicalAddress, DnsType, encodeA, encodeAAAA, encodeCountName, recordText, typeName } from "../ldap/dns-record-codec";
import { findZone, liveRecords, nodeDn, readNode, setRecords } from "../ldap/dns-zone";
import { parentDn } from "../ldap/dn";
import { askDirectory, lowerValues } from "./preflight";
import { OWNER_ATTRIBUTE, deleteFirst, dynamicResourceUrn, ownerInput, ownerMark, stackInput } from "../owner";
import { ldapOverrideInput } from "../overrides";
import { keptOrigin, noteLegacyOrigin, OnDestroy, onDestroyInput, Origin, originOf, refuseIfHeld, releasedOnDestroy } from "./lifecycle";

export type DnsRecordType = "A" | "AAAA" | "CNAME";
const TYPES: readonly DnsRecordType[] = ["A", "AAAA", "CNAME"];
/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
export const MAX_TTL = 2147483647;
export const DEFAULT_TTL: number = settingDefault("dnsTtl");

export interface DnsRecordArgs {
  /** The AD-integrated zone, such as corp.example. */
  zone: pulumi.Input<string>;
  /** The name relative to the zone (outlook), or @ for the apex. */
  name: pulumi.Input<string>;
  type: pulumi.Input<DnsRecordType>;
  /** Every address (round robin), or the one CNAME target. Authoritative. */
  values: pulumi.Input<pulumi.Input<string>[]>;
  /** Seconds; default 3600. */
  ttl?: pulumi.Input<number>;
  /** Take over records of this type that already exist on the name. */
  adopt?: pulumi.Input<boolean>;
  /** What destroy does with records that existed before (adopted): `release` (the default) leaves
   * them as they are; `delete` removes them. Records the stack wrote are always removed. */
  onDestroy?: pulumi.Input<OnDestroy>;
  ldap?: pulumi.Input<LdapOverride>;
}

interface Inputs {
  zone: string;
  name: string;
  type: DnsRecordType;
  values: string[];
  ttl: number;
  adopt: boolean;
  onDestroy?: OnDestroy;
  ldap?: LdapOverride;
  /** This resource's mark (owner.ts), written with the records. */
  owner?: string;
}

export interface DnsRecordOutputs extends Inputs {
  fqdn: string;
  nodeDn: string;
  /** Types of the other records on the node (left alone). */
  otherTypes: string[];
  drift: string[];
  /** Whether create wrote the records or found them (adopt, lifecycle.ts); absent in older state. */
  origin?: Origin;
  /** The node's adminDescription before our mark, for an adopted record: put back on release. */
  markFound?: string | null;
}

export function validateDnsInputs(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("zone", () => (out.zone = fqdn("zone", news.zone)));
  f.guard("name", () => {
    const name = dnsLabel("name", news.name);
    if (out.zone && (name === out.zone || name.endsWith(`.${out.zone}`))) {
      throw new InvalidInputError("name", `${JSON.stringify(news.name)} includes the zone ${out.zone}`, `give the name relative to the zone: ${name === out.zone ? "@" : name.slice(0, -out.zone.length - 1)}`, { code: "NAME_INCLUDES_ZONE" });
    }
    out.name = name;
  });
  f.guard("type", () => (out.type = oneOf("type", news.type, TYPES)));
  f.guard("values", () => {
    const v = news.values;
    if (!Array.isArray(v) || v.length === 0) {
      throw new InvalidInputError("values", "is empty", "give at least one value; to remove the records, delete the resource", { code: "VALUE_EMPTY" });
    }
    const t = out.type ?? oneOf("type", news.type, TYPES);
    const vals = v.map((x, i) => {
      const field = `values[${i}]`;
      if (t === "A") return canonicalAddress("A", ipv4(field, x));
      if (t === "AAAA") return canonicalAddress("AAAA", ipv6(field, x));
      return fqdn(field, x);
    });
    if (t === "CNAME" && vals.length !== 1) {
      throw new InvalidInputError("values", `a CNAME has exactly one target, got ${vals.length}`, "give one target name, or use A records for round robin", { code: "CNAME_MULTIPLE_TARGETS" });
    }
    const dup = vals.find((x, i) => vals.indexOf(x) !== i);
    if (dup !== undefined) throw new InvalidInputError("values", `${dup} is listed twice`, "list each value once", { code: "DUPLICATE_VALUE" });
    out.values = vals;
  });
  f.guard("ttl", () => {
    const ttl = news.ttl ?? DEFAULT_TTL;
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
      throw new InvalidInputError("ttl", `${JSON.stringify(ttl)} is not a TTL`, `give whole seconds from 0 to ${MAX_TTL} (default ${DEFAULT_TTL})`, { code: "NOT_A_TTL" });
    }
    out.ttl = ttl;
  });
  f.guard("adopt", () => (out.adopt = bool("adopt", news.adopt, false)));
  f.guard("onDestroy", () => (out.onDestroy = onDestroyInput("onDestroy", news.onDestroy)));
  f.guard("ldap", () => (out.ldap = ldapOverrideInput("ldap", news.ldap)));
  out.owner = ownerInput(news.owner);
  if (out.type === "CNAME" && out.name === "@") f.add("name", "CNAME_AT_APEX", "a CNAME cannot be at the zone apex (@), which holds the SOA and NS records (RFC 1034 §3.6.2)", "use an A record at the apex");
  if (!failures) f.throwFirst();
  return out as Inputs;
}

function sameSet(a: string[] = [], b: string[] = []): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export function dnsDiff(olds: Partial<DnsRecordOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces: string[] = [];
  if (olds.zone !== news.zone) replaces.push("zone");
  if (olds.name !== news.name) replaces.push("name");
  if (olds.type !== news.type) replaces.push("type");
  const changes = replaces.length > 0 || !sameSet(olds.values, news.values) || olds.ttl !== news.ttl || (olds.onDestroy ?? undefined) !== news.onDestroy;
  // Same name, new type (A → CNAME): the old records must go first, a CNAME cannot sit beside them.
  return { changes, replaces, deleteBeforeReplace: replaces.length > 0 && olds.zone === news.zone && olds.name === news.name };
}

function typeCode(t: DnsRecordType): number {
  return DnsType[t];
}

function encode(t: DnsRecordType, v: string): Buffer {
  return t === "A" ? encodeA(v) : t === "AAAA" ? encodeAAAA(v) : encodeCountName(v);
}

function display(i: Inputs): string {
  return `${i.name === "@" ? i.zone : `${i.name}.${i.zone}`}`;
}

/** The node and its records; `dnHint` (the node DN state recorded) spares locating the zone. */
async function state(c: LdapConnection, i: Pick<Inputs, "zone" | "name" | "type" | "owner">, dnHint?: string) {
  const zoneDn = dnHint ? parentDn(dnHint) : await findZone(c, i.zone);
  const dn = dnHint ?? nodeDn(zoneDn, i.name);
  const node = await readNode(c, dn);
  const live = liveRecords(node);
  const ours = live.filter((r) => r.type === typeCode(i.type));
  const others = live.filter((r) => r.type !== typeCode(i.type));
  return { zoneDn, dn, node, ours, others, marked: i.owner !== undefined && node.mark === i.owner };
}

function outputs(i: Inputs, dn: string, others: number[], drift: string[] = [], kept: Record<string, unknown> = {}): DnsRecordOutputs {
  return { ...i, fqdn: display(i), nodeDn: dn, otherTypes: [...new Set(others.map(typeName))].sort(), drift, ...kept };
}

/** CNAME exclusivity (RFC 1034 §3.6.2): no CNAME beside other data, no data beside a CNAME. */
function checkCoexistence(i: Inputs, others: { type: number }[]): void {
  if (i.type === "CNAME" && others.length > 0) {
    throw new ConflictError(`${display(i)} already has ${[...new Set(others.map((r) => typeName(r.type)))].join(", ")} records; a CNAME cannot coexist with other records`, "remove those records (samba-tool dns delete, or DNS Manager), or pick another name for the CNAME; records this stack adopted and released on a type change stay until removed by hand", { code: "CNAME_BESIDE_RECORDS" });
  }
  if (i.type !== "CNAME" && others.some((r) => r.type === DnsType.CNAME)) {
    throw new ConflictError(`${display(i)} is a CNAME; ${i.type} records cannot be added beside it`, "delete the CNAME first, or manage it with a DnsRecord of type CNAME", { code: "RECORDS_BESIDE_CNAME" });
  }
}

/** Records of the declared type already on the name, not ours: refused at check and at create. */
function recordsExist(i: Inputs, ours: Parameters<typeof recordText>[0][]): AlreadyExistsError {
  return new AlreadyExistsError(
    `${display(i)} already has ${i.type} records (${ours.map((r) => recordText(r)).join(", ")})`,
    "set adopt: true on this DnsRecord to take them over (the declared values then replace them), or choose another name",
    { code: "DNS_RECORDS_EXIST" },
  );
}

async function write(c: LdapConnection, zoneDn: string, i: Inputs): Promise<void> {
  await setRecords(c, zoneDn, i.name, typeCode(i.type), i.values.map((v) => encode(i.type, v)), i.ttl, i.owner);
}

async function create(raw: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const i = validateDnsInputs(raw);
  const c = directoryFor(i.ldap);
  const s = await state(c, i);
  checkCoexistence(i, s.others);
  // Records on a node carrying our mark are ours: an earlier create wrote them and its answer was lost.
  if (s.ours.length > 0 && !i.adopt && !s.marked) {
    throw recordsExist(i, s.ours);
  }
  // As the ASA's (asa-computer-account.ts): under our mark without adopt, a lost answer of ours;
  // with adopt, records there before this create are adopted, whoever wrote them.
  const adopted = s.ours.length > 0 && (i.adopt || !s.marked);
  if (s.ours.length > 0) refuseIfHeld(raw, "DnsRecord", `the ${i.type} records of ${display(i)}`, (o) => o.zone === i.zone && o.name === i.name && o.type === i.type);
  await write(c, s.zoneDn, i);
  const kept = { origin: originOf(adopted), ...(adopted ? { markFound: s.node.mark ?? null } : {}) };
  return { id: `${i.zone}/${i.name}/${i.type}`, outs: outputs(i, s.dn, s.others.map((r) => r.type), [], kept) };
}

async function read(id: string, props: Partial<DnsRecordOutputs>): Promise<pulumi.dynamic.ReadResult> {
  const i = props as Inputs;
  const c = directoryFor(i.ldap);
  // One read per refresh: the node where create wrote it (a zone never moves partition silently).
  const s = await state(c, i, props.nodeDn);
  if (s.ours.length === 0) return { id: "", props: {} };
  const values = s.ours.map((r) => recordText(r) ?? "");
  const ttls = [...new Set(s.ours.map((r) => r.ttl))];
  const drift: string[] = [];
  if (!sameSet(values, props.values)) drift.push(`values are ${values.join(", ")}; declared ${(props.values ?? []).join(", ")}`);
  if (ttls.length !== 1 || ttls[0] !== props.ttl) drift.push(`TTL is ${ttls.join("/")}; declared ${props.ttl}`);
  // A mixed TTL reads as the first record's TTL unless one of them differs from ours: then report
  // that one, so the diff shows a change.
  const ttl = ttls.find((t) => t !== props.ttl) ?? ttls[0];
  return { id, props: { ...outputs({ ...i, values, ttl }, s.dn, s.others.map((r) => r.type), drift, keptOrigin(props as Record<string, unknown>)) } };
}

async function update(_id: string, olds: Partial<DnsRecordOutputs>, raw: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const i = validateDnsInputs(raw);
  const c = directoryFor(i.ldap);
  const s = await state(c, i);
  checkCoexistence(i, s.others);
  await write(c, s.zoneDn, i);
  return { outs: outputs(i, s.dn, s.others.map((r) => r.type), [], keptOrigin(olds as Record<string, unknown>)) };
}

async function del(_id: string, props: Partial<DnsRecordOutputs>): Promise<void> {
  const i = props as Inputs;
  const c = directoryFor(i.ldap);
  const zoneDn = await findZone(c, i.zone);
  if (releasedOnDestroy(props)) {
    // They existed before the stack: left as they are, the node's adminDescription as it was.
    const n = await readNode(c, nodeDn(zoneDn, i.name));
    const found = props.markFound ?? null;
    if (n.exists && (n.mark ?? null) !== found) await c.modify(n.dn, [{ operation: "replace", type: OWNER_ATTRIBUTE, values: found === null ? [] : [found] }]);
    warn(`the ${i.type} records of ${display(i)} existed before this stack: released, not deleted`);
    return;
  }
  await setRecords(c, zoneDn, i.name, typeCode(i.type), [], i.ttl ?? DEFAULT_TTL, i.owner === undefined ? undefined : null);
}

/**
 * For `check`, read-only: the zone is in the directory; records of the declared type on the name
 * are ours (state recorded this record) or adopted; a CNAME does not meet other records; and the
 * bind user may write there (allowedChildClassesEffective on the zone for a new name,
 * allowedAttributesEffective on an existing node).
 */
async function preflight(i: Inputs, f: CheckFailures, olds: Record<string, unknown>): Promise<void> {
  if (i.zone === undefined || i.name === undefined || i.type === undefined) return;
  let found: { c: LdapConnection; zoneDn: string } | undefined;
  await askDirectory(f, "zone", `the zone ${i.zone}`, async () => {
    const dc = directoryFor(i.ldap);
    found = { c: dc, zoneDn: await findZone(dc, i.zone) };
  });
  if (!found) return;
  const { c, zoneDn: zone } = found;
  await askDirectory(f, "name", display(i), async () => {
    const node = await readNode(c, nodeDn(zone, i.name));
    const live = liveRecords(node);
    const ours = live.filter((r) => r.type === typeCode(i.type));
    // Records of the type state recorded on this name are the old resource's: a type change
    // (A ↔ CNAME) replaces it delete-first, so they are gone before the new type is written.
    const replacedType = olds.zone === i.zone && olds.name === i.name && typeof olds.type === "string" && olds.type !== i.type ? typeCode(olds.type as DnsRecordType) : undefined;
    const others = live.filter((r) => r.type !== typeCode(i.type) && r.type !== replacedType);
    try {
      checkCoexistence(i, others);
    } catch (e) {
      if (e instanceof ConflictError) f.addError("type", e);
      else throw e;
    }
    const recorded = olds.zone === i.zone && olds.name === i.name && olds.type === i.type;
    // Records under this resource's own mark were written by an earlier create whose answer was
    // lost: create carries on with them (owner.ts), so preview must not refuse them.
    const marked = i.owner !== undefined && node.mark === i.owner;
    if (ours.length > 0 && !i.adopt && !recorded && !marked) {
      f.addError("name", recordsExist(i, ours));
    }
    const user = ldapSettings(i.ldap ?? {}).bindUser;
    if (node.exists) {
      const [e] = await c.search(node.dn, { scope: "base", attributes: ["allowedAttributesEffective"] });
      const writable = e ? lowerValues(e, "allowedAttributesEffective") : [];
      // dnsRecord, and dNSTombstoned for a delete (Windows tombstones a node: [MS-DNSP] §2.3.2.2).
      const lacking = ["dnsRecord", "dNSTombstoned"].filter((a) => !writable.includes(a.toLowerCase()));
      if (e && lacking.length) {
        f.add("name", "NO_RIGHT_TO_WRITE_RECORDS", `the bind user ${user} may not write the records of ${node.dn} (allowedAttributesEffective lacks ${lacking.join(", ")})`, `add the bind user to DnsAdmins, or delegate write access on the zone ${i.zone} (docs/guides/delegate-the-bind-account.md)`);
      }
      if (e && i.owner !== undefined && !writable.includes("admindescription")) {
        f.add("name", "NO_RIGHT_TO_WRITE_OWNER_MARK", `the bind user ${user} may not write adminDescription on ${node.dn}, where the stack marks the records it owns`, `delegate "Write adminDescription" on dnsNode objects of the zone ${i.zone} (docs/guides/delegate-the-bind-account.md)`);
      }
    } else {
      const [z] = await c.search(zone, { scope: "base", attributes: ["allowedChildClassesEffective"] });
      if (z && !lowerValues(z, "allowedChildClassesEffective").includes("dnsnode")) {
        f.add("zone", "NO_RIGHT_TO_CREATE_NAMES", `the bind user ${user} may not create names in the zone ${i.zone} (allowedChildClassesEffective of ${zone} lacks dnsNode)`, `add the bind user to DnsAdmins, or delegate "Create dnsNode objects" on the zone`);
      }
    }
  });
}

export const dnsRecordImpl: ResourceImpl = {
  replaceKeys: ["zone", "name", "type"],
  async check(olds, news) {
    return checkInputs(news, validateDnsInputs, preflight, olds);
  },
  async diff(_id, olds, news) {
    noteLegacyOrigin(olds);
    return dnsDiff(olds, validateDnsInputs(news));
  },
  create,
  read,
  update,
  delete: del,
};

export class DnsRecord extends pulumi.dynamic.Resource {
  declare readonly zone: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly type: pulumi.Output<DnsRecordType>;
  declare readonly values: pulumi.Output<string[]>;
  declare readonly ttl: pulumi.Output<number>;
  declare readonly fqdn: pulumi.Output<string>;
  declare readonly nodeDn: pulumi.Output<string>;
  declare readonly otherTypes: pulumi.Output<string[]>;
  declare readonly drift: pulumi.Output<string[]>;
  /** `created` or `adopted` (lifecycle.ts): whether destroy deletes the records or releases them. */
  declare readonly origin: pulumi.Output<string>;

  constructor(name: string, args: DnsRecordArgs, opts?: pulumi.CustomResourceOptions) {
    super(thinProvider("exchange-kerberos:DnsRecord"), name, { ...args,
        resourceUrn: dynamicResourceUrn("DnsRecord", name, opts?.parent), pulumiStack: stackInput(), owner: ownerMark("DnsRecord", name), fqdn: undefined, nodeDn: undefined, otherTypes: undefined, drift: undefined, origin: undefined }, deleteFirst(opts), "exchange-kerberos", "DnsRecord");
  }
}
