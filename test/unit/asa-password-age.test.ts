// The ASA password's age against its maximum (asa-password-age.ts), the rotation job's test of a
// lock a killed run left, and drift's reading of the state (a checkout behind, a lock's key).
import assert from "node:assert/strict";
import { describeAge, describeDue, maxAgeDaysInput, passwordAge } from "../../provider/asa-password-age";
import { leftByDeadProcess } from "../../provider/drift/rotate";
import { bucketPrefix, isLockOf, keysBehind, postgresLockHolders, readConfig, readExport } from "../../provider/drift/stack-status";
import { partOfRotation, plannedRotation } from "../../provider/drift/preview";
import { resetByHand } from "../../provider/resources/asa-password";

const DAY = 86_400_000;
const at = new Date("2026-12-07T12:00:00Z");

describe("ASA password age", () => {
  it("is ok, due within a week, or overdue, from pwdLastSet and the maximum", () => {
    const age = (days: number) => passwordAge(new Date(at.getTime() - days * DAY), 90, at);
    assert.equal(age(10).status, "ok");
    assert.equal(age(82.9).status, "ok");
    assert.equal(age(83.5).status, "due-soon");
    assert.equal(age(89.99).status, "due-soon");
    assert.equal(age(90).status, "overdue");
    assert.equal(age(97).ageDays, 97);
    assert.equal(age(97).dueAt, "2026-11-30T12:00:00.000Z");
  });

  it("says it in one line: set DATE, N days ago, the maximum is M; and when it is due", () => {
    const a = passwordAge(new Date("2026-09-01T08:00:00Z"), 90, at);
    assert.equal(describeAge(a), "set 2026-09-01, 97 days ago, the maximum is 90");
    assert.equal(describeDue(a), "due since 2026-11-30");
    assert.equal(describeDue(passwordAge(new Date(at.getTime() - 87 * DAY), 90, at)), "due 2026-12-10 (in 3 days)");
  });

  it("takes a whole number of days from 1 to 3650", () => {
    assert.equal(maxAgeDaysInput("f", 90), 90);
    assert.equal(maxAgeDaysInput("f", undefined), undefined);
    for (const bad of [0, 3651, 1.5, "90", -1]) assert.throws(() => maxAgeDaysInput("f", bad), /not a whole number of days/);
  });

  it("a pwdLastSet that moved without a new key version restarts the age; a new key version is a reset by hand", () => {
    const p = { passwordSetByUs: "2026-09-01T00:00:00.000Z", keyVersionSetByUs: 3 };
    assert.equal(resetByHand({ ...p, passwordLastSet: p.passwordSetByUs, keyVersion: 3 }), false);
    assert.equal(resetByHand({ ...p, passwordLastSet: "2026-12-01T00:00:00.000Z", keyVersion: 3 }), false);
    assert.equal(resetByHand({ ...p, passwordLastSet: "2026-12-01T00:00:00.000Z", keyVersion: 4 }), true);
    assert.equal(resetByHand({ passwordSetByUs: "a", passwordLastSet: "b", keyVersion: 3 }), true, "older state: pwdLastSet alone");
  });
});

describe("the rotation job and drift's reading of the state", () => {
  it("removes only a lock whose every holder is a dead process of this host", () => {
    const busy = (h: string) => `the stack is locked by ${h} since 2026-12-07T12:00:00Z: an operation is running`;
    const dead = () => false;
    assert.equal(leftByDeadProcess(busy("root@runner1 (pid 4242)"), "runner1", dead), true);
    assert.equal(leftByDeadProcess(busy("root@runner1 (pid 4242)"), "runner1", () => true), false, "still running");
    assert.equal(leftByDeadProcess(busy("alice@laptop (pid 4242)"), "runner1", dead), false, "another host's");
    assert.equal(leftByDeadProcess("the stack has pending operations (update x): …", "runner1", dead), false);
  });

  it("names the site keys a checkout declares otherwise than the last up applied; secrets compared, connection keys not", () => {
    const state = JSON.stringify({
      deployment: {
        resources: [
          {
            urn: "urn:pulumi:s::p::pulumi:providers:pulumi-nodejs::default",
            type: "pulumi:providers:pulumi-nodejs",
            modified: "2026-12-07T10:00:00Z",
            inputs: { "exchange-kerberos:servers": '["EX1","EX2"]', "exchange-kerberos:asaPassword": { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", plaintext: '"old"' }, "exchange-kerberos:ldapUrl": "ldaps://dc1" },
          },
        ],
        pending_operations: [{ type: "updating", resource: { urn: "urn:pulumi:s::p::x::site-asa-password" } }],
      },
    });
    const read = readExport(state);
    assert.deepEqual(read.pendingOperations, [{ op: "updating", urn: "urn:pulumi:s::p::x::site-asa-password" }]);
    const config = readConfig(JSON.stringify({ "exchange-kerberos:servers": { value: '["EX1"]' }, "exchange-kerberos:asaPassword": { value: "old", secret: true }, "exchange-kerberos:ldapUrl": { value: "ldaps://dc2" }, "exchange-kerberos:dnsTtl": { value: "600" } }));
    assert.deepEqual(keysBehind(config, read.applied ?? {}), ["exchange-kerberos:dnsTtl", "exchange-kerberos:servers"]);
  });

  it("knows a stack's lock files in a DIY backend, in both layouts", () => {
    assert.equal(isLockOf(".pulumi/locks/organization/exchange-kerberos/site01/1f2e.json", "exchange-kerberos", "site01"), true);
    assert.equal(isLockOf(".pulumi/locks/site01/1f2e.json", "exchange-kerberos", "site01"), true);
    assert.equal(isLockOf(".pulumi/locks/organization/exchange-kerberos/site02/1f2e.json", "exchange-kerberos", "site01"), false);
    assert.equal(isLockOf(".pulumi/stacks/exchange-kerberos/site01.json", "exchange-kerberos", "site01"), false);
    assert.equal(isLockOf("pulumi/.pulumi/locks/site01/1f2e.json", "exchange-kerberos", "site01"), false, "a key still carrying the bucket's prefix");
  });

  it("reads a postgres:// lock as pulumi writes it: under the database's name, the file in base64", () => {
    assert.equal(bucketPrefix(new URL("postgres://pulumi@127.0.0.1:5432/pulumi?sslmode=disable")), "pulumi/");
    assert.equal(bucketPrefix(new URL("postgres://pulumi@127.0.0.1:5432/")), "");
    const lock = Buffer.from(JSON.stringify({ pid: 4242, username: "root", hostname: "runner1", timestamp: "2026-12-07T12:00:00Z" })).toString("base64");
    const rows = [
      `pulumi/.pulumi/locks/organization/exchange-kerberos/site01/1f2e.json\t${lock}`,
      `pulumi/.pulumi/locks/organization/exchange-kerberos/site02/3a4b.json\t${lock}`,
    ].join("\n");
    assert.deepEqual(postgresLockHolders(rows, "pulumi/", "exchange-kerberos", "site01"), ["root@runner1 (pid 4242) since 2026-12-07T12:00:00Z"]);
  });

  it("a planned rotation takes in the updates of the ASA, the bindings and AD's password that no read found changed", () => {
    const steps = [{ op: "update", urn: "a::site-asa", newState: { inputs: { passwordRotation: "CORP\\X$'s password was set …: this up rotates it" } } }];
    assert.match(plannedRotation(steps)?.why ?? "", /this up rotates it/);
    assert.equal(plannedRotation(steps)?.resource, "site-asa");
    assert.equal(plannedRotation([{ op: "update", urn: "a::site-asa", newState: { inputs: {} } }]), undefined);
    assert.equal(partOfRotation({ resource: "site-bind-ex1", type: "AsaBinding", op: "update", change: "x", found: false }), true);
    assert.equal(partOfRotation({ resource: "site-bind-ex1", type: "AsaBinding", op: "update", change: "x", found: true }), false, "a credential replaced by hand is drift");
    assert.equal(partOfRotation({ resource: "site-dns", type: "DnsRecord", op: "update", change: "x", found: false }), false);
  });
});
