// The checks KerberosRollout makes itself, before any child exists: what an admin gets from
// `pulumi preview` when the site's namespace, zone or server list is wrong.
import * as assert from "assert";
import { InvalidInputError } from "../../../provider/errors";
import { KerberosRolloutArgs, recordName, validateRolloutArgs } from "../../../provider/components/kerberos-rollout";

const good: KerberosRolloutArgs = {
  namespace: "outlook.corp.example",
  servers: ["EX1", "EX2"],
  dns: { zone: "corp.example", addresses: ["192.0.2.11"] },
  asa: { name: "EXCH-ASA", ou: "OU=Service Accounts,DC=corp,DC=example" },
  extraSpnNames: ["autodiscover.corp.example"],
};

function refused(args: KerberosRolloutArgs, field: string, text: RegExp): void {
  assert.throws(() => validateRolloutArgs(args), (e: unknown) => e instanceof InvalidInputError && e.field === field && text.test(e.message) && /Fix: /.test(e.message));
}

describe("KerberosRollout: what it refuses before declaring anything", () => {
  it("accepts a well-formed site", () => {
    assert.doesNotThrow(() => validateRolloutArgs(good));
  });

  it("derives the record name from the namespace and the zone", () => {
    assert.strictEqual(recordName("outlook.corp.example", "corp.example"), "outlook");
    assert.strictEqual(recordName("Mail.Ber.Corp.Example.", "corp.example"), "mail.ber");
    assert.strictEqual(recordName("corp.example", "corp.example"), "@");
  });

  it("refuses a malformed namespace, naming the field", () => {
    refused({ ...good, namespace: "outlook..corp.example" }, "namespace", /not a fully qualified DNS name/);
    refused({ ...good, namespace: "outlook" }, "namespace", /not a fully qualified DNS name/);
  });

  it("refuses a namespace outside the declared zone", () => {
    refused({ ...good, dns: { zone: "other.example", addresses: [] } }, "dns.zone", /not in the zone other\.example/);
  });

  it("refuses a malformed extra SPN name, naming its position", () => {
    refused({ ...good, extraSpnNames: ["autodiscover.corp.example", "bad name"] }, "extraSpnNames[1]", /not a fully qualified DNS name/);
  });

  it("refuses an empty server list and a server listed twice", () => {
    refused({ ...good, servers: [] }, "servers", /is empty/);
    refused({ ...good, servers: ["EX1", "ex1"] }, "servers", /twice/);
  });
});
