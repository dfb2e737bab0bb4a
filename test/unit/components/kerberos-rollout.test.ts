// The checks KerberosRollout makes itself, before any child exists: what an admin gets from
// `pulumi preview` when the site's namespace, zone or server list is wrong, and the children's
// names, which must never collide and must stay those of stacks made by earlier releases.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { childNames, KerberosRolloutArgs, recordName, rolloutArgProblems, validateRolloutArgs } from "../../../provider/components/kerberos-rollout";
import { InvalidProgramInputError } from "../../../provider/program-error";

const good: KerberosRolloutArgs = {
  namespace: "outlook.corp.example",
  servers: ["EX1", "EX2"],
  dns: { zone: "corp.example", addresses: ["192.0.2.11"] },
  asa: { name: "EXCH-ASA", ou: "OU=Service Accounts,DC=corp,DC=example" },
  extraSpnNames: ["autodiscover.corp.example"],
};

/** Exactly one problem, on `field`, whose message matches `text` and carries a fix. */
function refused(args: unknown, field: string, text: RegExp): void {
  const problems = rolloutArgProblems(args as KerberosRolloutArgs);
  assert.deepStrictEqual(problems.map((p) => p.field), [field], problems.map((p) => p.message).join("\n"));
  assert.match(problems[0].message, text);
  assert.match(problems[0].message, /\. Fix: \S/);
}

describe("KerberosRollout: what it refuses before declaring anything", () => {
  it("accepts a well-formed site", () => {
    assert.doesNotThrow(() => validateRolloutArgs(good));
    assert.deepStrictEqual(rolloutArgProblems({ ...good, asa: { ...good.asa, name: pulumi.output("x") as unknown as string } }), [], "an Output is left to the child's check");
  });

  it("derives the record name from the namespace and the zone", () => {
    assert.strictEqual(recordName("outlook.corp.example", "corp.example"), "outlook");
    assert.strictEqual(recordName("Mail.Ber.Corp.Example.", "corp.example"), "mail.ber");
    assert.strictEqual(recordName("corp.example", "corp.example"), "@");
  });

  it("refuses a malformed namespace, naming the field", () => {
    refused({ ...good, namespace: "outlook..corp.example" }, "namespace", /not a fully qualified DNS name/);
    refused({ ...good, namespace: "outlook" }, "namespace", /not a fully qualified DNS name/);
    refused({ ...good, namespace: "outlook.corp.example." }, "namespace", /ends with a dot/);
    refused({ ...good, namespace: "ou\u0308tlook.corp.example" }, "namespace", /outside ASCII/);
    refused({ ...good, namespace: `${"a".repeat(60)}.`.repeat(5) + "corp.example" }, "namespace", /at most 253/);
    refused({ ...good, namespace: "" }, "namespace", /is empty/);
    refused({ ...good, namespace: 42 }, "namespace", /42 is not a string/);
  });

  it("refuses a namespace outside the declared zone", () => {
    refused({ ...good, dns: { zone: "other.example", addresses: ["192.0.2.11"] } }, "dns.zone", /not in the zone other\.example/);
  });

  it("refuses a malformed extra SPN name, naming its position", () => {
    refused({ ...good, extraSpnNames: ["autodiscover.corp.example", "bad name"] }, "extraSpnNames[1]", /not a fully qualified DNS name/);
    refused({ ...good, extraSpnNames: { a: "b" } }, "extraSpnNames", /is not a list/);
  });

  it("refuses an empty server list, a server listed twice, and what is not a server name", () => {
    refused({ ...good, servers: [] }, "servers", /is empty/);
    refused({ ...good, servers: ["EX1", "ex1"] }, "servers[1]", /a second time/);
    refused({ ...good, servers: [123] }, "servers[0]", /123 is not a string/);
    refused({ ...good, servers: [null] }, "servers[0]", /null is not a string/);
    refused({ ...good, servers: [""] }, "servers[0]", /is empty/);
    refused({ ...good, servers: "EX1" }, "servers", /is not a list/);
    refused({ ...good, servers: ["EX 1"] }, "servers[0]", /not an Exchange server name/);
  });

  it("refuses the ASA's name, OU and encryption types, and the DNS addresses, when given as plain values", () => {
    refused({ ...good, asa: { ...good.asa, name: "EXCH-ASA$" } }, "asa.name", /ends with \$/);
    refused({ ...good, asa: { ...good.asa, ou: "OU=x" } }, "asa.ou", /DC=/);
    refused({ ...good, asa: { ...good.asa, supportedEncryptionTypes: 4 } }, "asa.supportedEncryptionTypes", /RC4/);
    refused({ ...good, dns: { zone: "corp.example", addresses: ["300.1.1.1"] } }, "dns.addresses[0]", /not an IPv4 address/);
    refused({ ...good, dns: { zone: "corp.example", addresses: [] } }, "dns.addresses", /is empty/);
  });

  it("throws every problem at once as a program error whose lines name the component and the field", () => {
    assert.throws(() => validateRolloutArgs({ ...good, namespace: "x", servers: [] }, "KerberosRollout berlin"), (e: unknown) => {
      assert.ok(e instanceof InvalidProgramInputError);
      assert.ok(pulumi.RunError.isInstance(e), "Pulumi prints a RunError without a stack trace");
      const lines = e.message.split("\n");
      assert.strictEqual(lines.length, 2, e.message);
      assert.match(lines[0], /^KerberosRollout berlin: namespace: .*\. Fix: /);
      assert.match(lines[1], /^KerberosRollout berlin: servers: is empty\. Fix: /);
      return true;
    });
  });
});

describe("KerberosRollout: children's names", () => {
  it("are lossless: two host names never share a resource name", () => {
    const names = childNames("s-spn-", ["outlook.corp.example", "outlook-corp.example"]).map((c) => c.name);
    assert.deepStrictEqual(names, ["s-spn-outlook.corp.example", "s-spn-outlook-corp.example"]);
  });

  it("alias the names earlier releases gave (dots as hyphens), once per legacy name", () => {
    const [a, b] = childNames("s-spn-", ["outlook.corp.example", "outlook-corp.example"]);
    assert.deepStrictEqual(a.aliases, [{ name: "s-spn-outlook-corp-example" }]);
    assert.deepStrictEqual(b.aliases, [], "the legacy name is already claimed by the first");
    assert.deepStrictEqual(childNames("s-urls-", ["EX1"]), [{ host: "EX1", name: "s-urls-ex1", aliases: [] }], "an unchanged name needs no alias");
  });
});
