import { strict as assert } from "node:assert";
import { InvalidInputError } from "../../../provider/errors";
import { childDn, containerDn, dnEquals, dnKey, dnToDomain, domainNc, objectDn, parentDn, parseDn, rdnValue } from "../../../provider/ldap/dn";

describe("ldap/dn", () => {
  it("parses a DN into RDNs, unescaping values", () => {
    assert.deepEqual(parseDn("ou", "OU=Service Accounts,DC=corp,DC=example"), [
      [{ type: "OU", value: "Service Accounts" }],
      [{ type: "DC", value: "corp" }],
      [{ type: "DC", value: "example" }],
    ]);
    assert.equal(rdnValue("CN=Smith\\, John,OU=x,DC=a"), "Smith, John");
    assert.equal(rdnValue("CN=caf\\c3\\a9,DC=a"), "café");
  });

  it("accepts the spaces after commas that AD tools write", () => {
    assert.ok(dnEquals("OU=A, DC=corp, DC=example", "ou=a,dc=CORP,dc=example"));
  });

  it("compares case-insensitively, as AD does", () => {
    assert.ok(dnEquals("CN=EXCH-ASA,OU=Service Accounts,DC=corp,DC=example", "cn=exch-asa,ou=service accounts,dc=corp,dc=example"));
    assert.ok(!dnEquals("CN=A,DC=x", "CN=B,DC=x"));
    assert.equal(dnKey("CN=A+OU=B,DC=x"), dnKey("OU=B+CN=A,DC=x"));
  });

  it("refuses malformed DNs with the field and the fix", () => {
    for (const bad of ["", "corp.example", "OU=,DC=x", "OU=A,,DC=x", "OU=A,", "=A,DC=x", "OU=a\"b,DC=x", "OU=a;b", "OU=a<b", "OU=#0400", "OU=a\\zz", "OU=a\0b,DC=x", "1x=a"]) {
      assert.throws(() => parseDn("ou", bad), (e: unknown) => e instanceof InvalidInputError && e.field === "ou" && /Fix:/.test(e.message), JSON.stringify(bad));
    }
  });

  it("builds child DNs with escaping and walks up", () => {
    const dn = childDn("CN", "a,b", "OU=x,DC=corp");
    assert.equal(dn, "CN=a\\,b,OU=x,DC=corp");
    assert.equal(parentDn(dn), "OU=x,DC=corp");
  });

  it("containerDn takes OU/CN/DC paths ending in DC= and refuses the rest", () => {
    assert.equal(containerDn("ou", "OU=Service Accounts, DC=corp,DC=example"), "OU=Service Accounts,DC=corp,DC=example");
    assert.equal(containerDn("ou", "CN=Computers,DC=corp,DC=example"), "CN=Computers,DC=corp,DC=example");
    assert.throws(() => containerDn("ou", "OU=x"), /DC= components/);
    assert.throws(() => containerDn("ou", "UID=x,DC=corp"), /not a container/);
    assert.throws(() => containerDn("ou", "OU=a+CN=b,DC=corp"), /multi-valued/);
  });

  it("objectDn takes an object's DN inside the domain and refuses the rest", () => {
    assert.equal(objectDn("account", "CN=EXCH-ASA, OU=Service Accounts,DC=corp,DC=example"), "CN=EXCH-ASA,OU=Service Accounts,DC=corp,DC=example");
    assert.throws(() => objectDn("account", "DC=corp"), /names no object/);
    assert.throws(() => objectDn("account", "CN=x,DC=corp)(uid=*"), /not a DNS label/);
  });

  it("turns a domain NC into its DNS name", () => {
    assert.equal(dnToDomain("DC=Corp,DC=Example"), "corp.example");
  });
});

describe("domainNc", () => {
  it("is the DN's trailing DC= components: the domain a read can search without asking the RootDSE", () => {
    assert.equal(domainNc("CN=EXCH-ASA,OU=Service Accounts,DC=corp,DC=example"), "DC=corp,DC=example");
    // A DNS node lies in the DomainDnsZones partition, whose NC also ends in DC= components.
    assert.equal(domainNc("DC=outlook,DC=corp.example,CN=MicrosoftDNS,DC=DomainDnsZones,DC=corp,DC=example"), "DC=DomainDnsZones,DC=corp,DC=example");
  });

  it("refuses a DN outside any domain", () => {
    assert.throws(() => domainNc("CN=Schema,CN=Configuration"), /no DC= components/);
  });
});
