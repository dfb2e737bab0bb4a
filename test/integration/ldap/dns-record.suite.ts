// DnsRecord against the lab DC's AD-integrated zone, checked with dig: exactly the declared
// round-robin addresses, other record types on the node left alone, the node tombstoned as Windows
// does when our records go, revived on the next create, and hand edits reported by read.
import { strict as assert } from "node:assert";
import { AlreadyExistsError } from "../../../provider/errors";
import { directoryFor } from "../../../provider/ldap/connection";
import { DnsType } from "../../../provider/ldap/dns-record-codec";
import { tombstoneTime } from "../../fixtures/ldap-readers";
import { findZone, readNode } from "../../../provider/ldap/dns-zone";
import { dnsRecordImpl as dns, DnsRecordOutputs } from "../../../provider/resources/dns-record";
import { Lab, sambaTool } from "../../fixtures/lab";
import { dig } from "../../fixtures/admin-tools";
import { ldapLab } from "./lab";

describe("DnsRecord (lab DC, AD-integrated DNS, dig)", function () {
  this.timeout(120000);
  let lab: Lab;

  async function apply(olds: DnsRecordOutputs | undefined, inputs: Record<string, unknown>): Promise<DnsRecordOutputs> {
    const checked = await dns.check(olds ?? {}, { zone: lab.domain, ...inputs });
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    if (!olds) return (await dns.create(checked.inputs)).outs as DnsRecordOutputs;
    return (await dns.update(`${olds.zone}/${olds.name}/${olds.type}`, olds, checked.inputs)).outs as DnsRecordOutputs;
  }

  const id = (o: DnsRecordOutputs): string => `${o.zone}/${o.name}/${o.type}`;

  before(async () => {
    lab = await ldapLab();
    // What an interrupted earlier run may have left on the names these tests use.
    for (const name of ["outlook", "rr", "edited", "v6", "webmail"]) {
      for (const type of ["A", "AAAA", "CNAME"]) await dns.delete(`${lab.domain}/${name}/${type}`, { zone: lab.domain, name, type, ttl: 3600 });
    }
    await sambaTool(lab, ["dns", "delete", lab.addr, lab.domain, "outlook", "TXT", "kept-by-hand"]).catch(() => undefined);
  });

  it("finds the zone in DomainDnsZones by itself", async () => {
    assert.equal(await findZone(directoryFor(undefined), lab.domain), `DC=${lab.domain},CN=MicrosoftDNS,DC=DomainDnsZones,${lab.baseDn}`);
  });

  it("serves exactly the declared round robin after create and update, keeps a hand-made TXT, NXDOMAIN after delete", async () => {
    const fqdn = `outlook.${lab.domain}`;
    let outs = await apply(undefined, { name: "outlook", type: "A", values: ["10.0.0.11", "10.0.0.12", "10.0.0.13"], ttl: 600 });
    assert.deepEqual(dig(lab, fqdn, "A"), { status: "NOERROR", answers: ["10.0.0.11", "10.0.0.12", "10.0.0.13"] });

    await sambaTool(lab, ["dns", "add", lab.addr, lab.domain, "outlook", "TXT", "kept-by-hand"]);
    outs = await apply(outs, { name: "outlook", type: "A", values: ["10.0.0.12", "10.0.0.14"], ttl: 600 });
    assert.deepEqual((dig(lab, fqdn, "A")).answers, ["10.0.0.12", "10.0.0.14"], "stray addresses removed, new ones added");
    assert.deepEqual((dig(lab, fqdn, "TXT")).answers, ['"kept-by-hand"']);
    assert.deepEqual(outs.otherTypes, ["TXT"]);

    await dns.delete(id(outs), outs);
    assert.deepEqual((dig(lab, fqdn, "A")).answers, []);
    assert.deepEqual((dig(lab, fqdn, "TXT")).answers, ['"kept-by-hand"'], "the TXT record survives our delete");

    await sambaTool(lab, ["dns", "delete", lab.addr, lab.domain, "outlook", "TXT", "kept-by-hand"]);
    assert.equal((dig(lab, fqdn, "A")).status, "NXDOMAIN");
  });

  it("tombstones the node when the last record goes, as Windows does, and revives it on the next create", async () => {
    const fqdn = `rr.${lab.domain}`;
    const c = directoryFor(undefined);
    const zoneDn = await findZone(c, lab.domain);
    const outs = await apply(undefined, { name: "rr", type: "A", values: ["10.0.1.1"] });
    await dns.delete(id(outs), outs);
    assert.equal((dig(lab, fqdn, "A")).status, "NXDOMAIN");

    const node = await readNode(c, `DC=rr,${zoneDn}`);
    assert.equal(node.exists, true, "the node stays, for replication");
    assert.equal(node.tombstoned, true, "dNSTombstoned TRUE");
    assert.equal(node.values.length, 1);
    assert.equal(node.values[0].rec.type, DnsType.ZERO);
    const when = tombstoneTime(node.values[0].rec);
    assert.ok(when !== undefined && when > 0n, "a Type-0 record holding the time of death");

    const revived = await apply(undefined, { name: "rr", type: "A", values: ["10.0.1.2"] });
    assert.deepEqual(dig(lab, fqdn, "A"), { status: "NOERROR", answers: ["10.0.1.2"] });
    const after = await readNode(c, `DC=rr,${zoneDn}`);
    assert.equal(after.tombstoned, false);
    assert.deepEqual(after.values.map((v) => v.rec.type), [DnsType.A], "the tombstone record is gone");
    await dns.delete(id(revived), revived);
  });

  it("reads records edited by hand as drift, and update puts the declared values back", async () => {
    const fqdn = `edited.${lab.domain}`;
    const outs = await apply(undefined, { name: "edited", type: "A", values: ["10.0.2.1", "10.0.2.2"] });
    await sambaTool(lab, ["dns", "update", lab.addr, lab.domain, "edited", "A", "10.0.2.2", "10.0.2.99"]);
    assert.deepEqual((dig(lab, fqdn, "A")).answers, ["10.0.2.1", "10.0.2.99"]);

    const read = await dns.read(id(outs), outs);
    const props = read.props as DnsRecordOutputs;
    assert.deepEqual([...props.values].sort(), ["10.0.2.1", "10.0.2.99"]);
    assert.match(props.drift.join("\n"), /values are 10\.0\.2\.1, 10\.0\.2\.99; declared 10\.0\.2\.1, 10\.0\.2\.2/);
    const diff = await dns.diff(id(outs), props, { zone: lab.domain, name: "edited", type: "A", values: ["10.0.2.1", "10.0.2.2"] });
    assert.equal(diff.changes, true);

    const fixed = await apply(props, { name: "edited", type: "A", values: ["10.0.2.1", "10.0.2.2"] });
    assert.deepEqual((dig(lab, fqdn, "A")).answers, ["10.0.2.1", "10.0.2.2"]);
    await sambaTool(lab, ["dns", "delete", lab.addr, lab.domain, "edited", "A", "10.0.2.1"]);
    await sambaTool(lab, ["dns", "delete", lab.addr, lab.domain, "edited", "A", "10.0.2.2"]);
    assert.equal((await dns.read(id(fixed), fixed)).id, "", "records deleted by hand read as gone");
  });

  it("refuses records that already exist without adopt, saying how; adopts them with adopt", async () => {
    const fqdn = `legacy.${lab.domain}`;
    const before = (dig(lab, fqdn, "A")).answers;
    assert.equal(before.length, 1, "the lab has legacy.<domain>");
    // Preview refuses it on the name; create refuses it too (it could appear after preview).
    const checked = await dns.check({}, { zone: lab.domain, name: "legacy", type: "A", values: ["10.0.3.1"] });
    assert.deepEqual(checked.failures?.map((f) => f.property), ["name"]);
    assert.match(checked.failures![0].reason, /already has A records.*Fix: set adopt: true/);
    await assert.rejects(dns.create({ zone: lab.domain, name: "legacy", type: "A", values: ["10.0.3.1"] }), (e: unknown) => e instanceof AlreadyExistsError && /already has A records/.test(e.message) && /set adopt: true/.test(e.message));
    assert.deepEqual((dig(lab, fqdn, "A")).answers, before, "nothing changed");
    const outs = await apply(undefined, { name: "legacy", type: "A", values: ["10.0.3.1", before[0]], adopt: true });
    assert.deepEqual((dig(lab, fqdn, "A")).answers, ["10.0.3.1", before[0]].sort());
    await apply(outs, { name: "legacy", type: "A", values: before, adopt: true });
  });

  it("writes AAAA and CNAME records that dig answers", async () => {
    const v6 = await apply(undefined, { name: "v6", type: "AAAA", values: ["2001:db8::25", "2001:DB8:0:0:0:0:0:26"] });
    assert.deepEqual((dig(lab, `v6.${lab.domain}`, "AAAA")).answers, ["2001:db8::25", "2001:db8::26"]);
    const cname = await apply(undefined, { name: "webmail", type: "CNAME", values: [`outlook.${lab.domain}`] });
    assert.deepEqual((dig(lab, `webmail.${lab.domain}`, "CNAME")).answers, [`outlook.${lab.domain}.`]);
    await dns.delete(id(v6), v6);
    await dns.delete(id(cname), cname);
    assert.equal((dig(lab, `webmail.${lab.domain}`, "CNAME")).status, "NXDOMAIN");
  });

  it("decodes records Samba wrote itself (big-endian TTL): legacyweb has TTL 900", async () => {
    const c = directoryFor(undefined);
    const node = await readNode(c, `DC=legacyweb,${await findZone(c, lab.domain)}`);
    assert.deepEqual(node.values.map((v) => [v.rec.type, v.rec.ttl, v.rec.version, v.rec.rank]), [[DnsType.A, 900, 5, 0xf0]]);
  });
});
