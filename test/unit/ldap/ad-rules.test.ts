// The pure halves of Windows AD's rules the lab's single Samba DC hides: access checks over a
// DACL, the DNS partitions a DC holds, SPN aliases, the GC's SRV record, and when a difference is
// replication still under way.
import { strict as assert } from "node:assert";
import { Entry } from "ldapts";
import { DS_CONTROL_ACCESS, DS_DELETE_CHILD, DS_WRITE_PROPERTY, grants, guidToString, inheritedAces, parseDacl, RESET_PASSWORD_RIGHT } from "../../../provider/ldap/access-check";
import { LdapConnection } from "../../../provider/ldap/connection";
import { findZone, zoneBases } from "../../../provider/ldap/dns-zone";
import { spnAliasTarget } from "../../../provider/ldap/domain";
import { pickSrv } from "../../../provider/ldap/global-catalog";
import { parseSrvAnswer, srvQuery } from "../../../provider/ldap/srv-lookup";
import { sidFromString } from "../../../provider/ldap/sid";
import { classify } from "../../../provider/doctor/pending";

const COMPUTER = "bf967a86-0de6-11d0-a285-00aa003049e2";
const SPN_ATTR = "f3a64788-5306-11d1-a9c5-0000f80367c1";
const USER = "S-1-5-21-1-2-3-1112";
const OTHER = "S-1-5-21-1-2-3-1113";

function guidBytes(g: string): Buffer {
  const h = g.replace(/-/g, "");
  const le = (s: string) => Buffer.from(s, "hex").reverse();
  return Buffer.concat([le(h.slice(0, 8)), le(h.slice(8, 12)), le(h.slice(12, 16)), Buffer.from(h.slice(16), "hex")]);
}

/** An ACE as [MS-DTYP] §2.4.4.2/§2.4.4.3 lay it out. */
function ace(o: { allow: boolean; flags: number; mask: number; sid: string; objectType?: string; inherited?: string }): Buffer {
  const sid = sidFromString(o.sid);
  const object = o.objectType !== undefined || o.inherited !== undefined;
  const body = object
    ? Buffer.concat([
        u32((o.objectType ? 1 : 0) | (o.inherited ? 2 : 0)),
        o.objectType ? guidBytes(o.objectType) : Buffer.alloc(0),
        o.inherited ? guidBytes(o.inherited) : Buffer.alloc(0),
        sid,
      ])
    : sid;
  const type = (o.allow ? 0 : 1) + (object ? 5 : 0);
  const head = Buffer.alloc(8);
  head.writeUInt8(type, 0);
  head.writeUInt8(o.flags, 1);
  head.writeUInt16LE(8 + body.length, 2);
  head.writeUInt32LE(o.mask, 4);
  return Buffer.concat([head, body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** A self-relative security descriptor holding only this DACL ([MS-DTYP] §2.4.6). */
function sd(aces: Buffer[]): Buffer {
  const body = Buffer.concat(aces);
  const acl = Buffer.alloc(8);
  acl.writeUInt8(4, 0);
  acl.writeUInt16LE(8 + body.length, 2);
  acl.writeUInt16LE(aces.length, 4);
  const head = Buffer.alloc(20);
  head.writeUInt8(1, 0);
  head.writeUInt16LE(0x8004, 2);
  head.writeUInt32LE(20, 16);
  return Buffer.concat([head, acl, body]);
}

describe("AD rules (offline)", () => {
  it("reads GUIDs as AD writes them", () => {
    assert.equal(guidToString(guidBytes(COMPUTER)), COMPUTER);
  });

  it("an inherit-only grant on the OU reaches a new computer object, and only for that attribute, class and trustee", () => {
    const ou = parseDacl(
      sd([
        ace({ allow: true, flags: 0x0a, mask: DS_WRITE_PROPERTY, sid: USER, objectType: SPN_ATTR, inherited: COMPUTER }), // CI|IO
        ace({ allow: true, flags: 0x00, mask: DS_DELETE_CHILD, sid: USER, objectType: COMPUTER }),
      ]),
    );
    const token = new Set([USER, "S-1-1-0"]);
    assert.equal(grants(ou, token, DS_WRITE_PROPERTY, [SPN_ATTR]), false, "inherit-only: not on the OU itself");
    const child = inheritedAces(ou, COMPUTER);
    assert.equal(grants(child, token, DS_WRITE_PROPERTY, [SPN_ATTR]), true);
    assert.equal(grants(child, token, DS_WRITE_PROPERTY, ["bf967950-0de6-11d0-a285-00aa003049e2"]), false, "another attribute");
    assert.equal(grants(inheritedAces(ou, "bf967aba-0de6-11d0-a285-00aa003049e2"), token, DS_WRITE_PROPERTY, [SPN_ATTR]), false, "a user object");
    assert.equal(grants(child, new Set([OTHER]), DS_WRITE_PROPERTY, [SPN_ATTR]), false, "another trustee");
    assert.equal(grants(ou, token, DS_DELETE_CHILD, [COMPUTER]), true);
    assert.equal(grants(child, token, DS_CONTROL_ACCESS, [RESET_PASSWORD_RIGHT]), false, "no Reset Password");
  });

  it("a deny before the grant wins; a grant of the property set covers its attributes", () => {
    const publicInformation = "e48d0154-bcf8-11d1-8702-00c04fb96050";
    const dacl = parseDacl(
      sd([
        ace({ allow: false, flags: 0, mask: DS_WRITE_PROPERTY, sid: USER, objectType: SPN_ATTR }),
        ace({ allow: true, flags: 0, mask: DS_WRITE_PROPERTY, sid: USER, objectType: publicInformation }),
      ]),
    );
    assert.equal(grants(dacl, new Set([USER]), DS_WRITE_PROPERTY, [SPN_ATTR, publicInformation]), false);
    assert.equal(grants(dacl.slice(1), new Set([USER]), DS_WRITE_PROPERTY, [SPN_ATTR, publicInformation]), true);
  });

  it("HTTP/ maps to HOST/ by the default sPNMappings; other classes do not", () => {
    const mappings = new Map([["http", "host"], ["www", "host"]]);
    assert.equal(spnAliasTarget("HTTP/outlook.corp.example", mappings), "HOST/outlook.corp.example");
    assert.equal(spnAliasTarget("http/outlook.corp.example:8443", mappings), "HOST/outlook.corp.example:8443");
    assert.equal(spnAliasTarget("MSSQLSvc/db.corp.example", mappings), undefined);
  });

  it("picks the GC with the lowest priority, then the highest weight", () => {
    assert.equal(pickSrv([
      { name: "dc1.corp.example", port: 3268, priority: 10, weight: 100 },
      { name: "dc2.corp.example", port: 3268, priority: 0, weight: 50 },
      { name: "dc3.corp.example", port: 3268, priority: 0, weight: 100 },
    ])?.name, "dc3.corp.example");
  });

  it("reads Samba's SRV answer, whose target is a compressed name (Node 22's resolver refuses it: EBADRESP)", () => {
    // Captured from the lab DC: _gc._tcp.corp.example SRV → 0 100 3268 dc2.corp.example, target "dc2" + pointer.
    const answer = Buffer.from("123485000001000100010000035f6763045f74637004636f7270076578616d706c650000210001c00c0021000100000384000c000000640cc403646332c015c0150006000100000e10002703646331c0150a686f73746d6173746572c0150000000600000384000002580001518000000e10", "hex");
    assert.deepEqual(parseSrvAnswer(answer, 0x1234), [{ priority: 0, weight: 100, port: 3268, name: "dc2.corp.example" }]);
    assert.throws(() => parseSrvAnswer(answer, 0x4321), /not the answer/);
    assert.equal(srvQuery("_gc._tcp.corp.example", 0x1234).toString("hex"), "123401000001000000000000" + "035f6763045f74637004636f7270076578616d706c6500" + "00210001");
  });

  it("a difference is pending within the window after the write, stuck after it, unexplained when the DC lacks it", () => {
    const now = new Date("2026-12-07T12:00:00Z");
    assert.deepEqual(classify({ holds: true, at: new Date("2026-12-07T11:59:00Z") }, now, 195), { verdict: "pending", retryInSeconds: 135 });
    assert.deepEqual(classify({ holds: true, at: new Date("2026-12-07T11:50:00Z") }, now, 195), { verdict: "stuck", ageSeconds: 600 });
    assert.deepEqual(classify({ holds: false, at: new Date("2026-12-07T11:59:00Z") }, now, 195), { verdict: "unexplained" });
  });

  describe("DNS zones through CN=Partitions", () => {
    const base = "DC=corp,DC=example";
    const domainDns = { nc: `DC=DomainDnsZones,${base}`, replicas: ["DC1", "DC2"] };
    const forestDns = { nc: `DC=ForestDnsZones,${base}`, replicas: ["DC1", "DC2"] };

    it("searches the DNS partitions the DC holds, and names those it does not", () => {
      const all = zoneBases([base, `CN=Configuration,${base}`, `DC=DomainDnsZones,${base}`, `DC=ForestDnsZones,${base}`], base, [forestDns, domainDns]);
      assert.deepEqual(all.bases, [`CN=MicrosoftDNS,DC=DomainDnsZones,${base}`, `CN=MicrosoftDNS,DC=ForestDnsZones,${base}`, `CN=MicrosoftDNS,CN=System,${base}`]);
      assert.deepEqual(all.notHeld, []);
      const none = zoneBases([base, `CN=Configuration,${base}`], base, [domainDns, forestDns]);
      assert.deepEqual(none.bases, [`CN=MicrosoftDNS,CN=System,${base}`]);
      assert.deepEqual(none.notHeld.map((p) => p.nc), [domainDns.nc, forestDns.nc]);
    });

    it("on a DC without the DNS role, says which DCs hold the partition instead of 'create the zone'", async () => {
      // A DC without the DNS role: namingContexts without DomainDnsZones/ForestDnsZones, while
      // CN=Partitions lists both, held by DC1 (the shape a Windows forest gives).
      const entries: Record<string, Entry[]> = {
        "": [{ dn: "", defaultNamingContext: base, configurationNamingContext: `CN=Configuration,${base}`, rootDomainNamingContext: base, namingContexts: [base, `CN=Configuration,${base}`] }],
        [`CN=Partitions,CN=Configuration,${base}`]: [
          { dn: `CN=CORP,CN=Partitions,CN=Configuration,${base}`, nCName: base, systemFlags: "3", nETBIOSName: "CORP", dnsRoot: "corp.example" },
          ...[domainDns, forestDns].map((p) => ({ dn: `CN=x,CN=Partitions,CN=Configuration,${base}`, nCName: p.nc, systemFlags: "5", "msDS-NC-Replica-Locations": [`CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,${base}`] })),
        ],
      };
      const fake = {
        url: "ldaps://dc9.corp.example",
        cache: new Map<string, Promise<unknown>>(),
        async search(b: string, args: { filter?: string }): Promise<Entry[]> {
          if (b === `CN=Partitions,CN=Configuration,${base}` && args.filter?.includes("nCName=")) return entries[b].slice(0, 1);
          return entries[b] ?? [];
        },
      } as unknown as LdapConnection;
      const e = await findZone(fake, "corp.example").then(() => undefined, (err: { code?: string; message: string }) => err);
      assert.equal(e?.code, "DNS_PARTITION_NOT_HELD", e?.message);
      assert.match(e!.message, /held by DC1/);
      assert.doesNotMatch(e!.message, /create it/);
    });
  });
});
