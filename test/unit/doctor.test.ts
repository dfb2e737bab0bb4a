// The doctor's offline parts: judging a Global Catalog search result for an SPN, reading AD's
// replication metadata, the command's arguments and the one-line text report.
import assert from "node:assert/strict";
import { parseDoctorArgs } from "../../provider/cli";
import { DoctorReport, formatDoctorReport, judgeSpnHolders } from "../../provider/doctor";
import { ATTID_PWD_LAST_SET, ATTID_SUPPORTED_ENCRYPTION_TYPES, parseReplPropertyMetaData } from "../../provider/doctor/directory";

const SPN = "HTTP/outlook.corp.example";
const ASA = { dn: "CN=EXCH-ASA,OU=Service,DC=corp,DC=example", samAccountName: "EXCH-ASA$", qualifiedName: "CORP\\EXCH-ASA$" };
const asaHolder = { dn: "cn=exch-asa,ou=service,dc=corp,dc=example", samAccountName: "EXCH-ASA$" };

describe("doctor: judging the holders of an SPN (a Global Catalog search result)", () => {
  it("passes when only the ASA holds it (DNs compare case-insensitively)", () => {
    assert.equal(judgeSpnHolders(SPN, [asaHolder], ASA).code, "OK");
  });

  it("says SPN_MISSING when nobody holds it", () => {
    const j = judgeSpnHolders(SPN, [], ASA);
    assert.equal(j.status, "fail");
    assert.equal(j.code, "SPN_MISSING");
    assert.match(j.fix!, /setspn -S HTTP\/outlook\.corp\.example CORP\\EXCH-ASA\$/);
  });

  it("says SPN_DUPLICATE, naming the other account, when an account of another domain of the forest holds it too", () => {
    const other = { dn: "CN=WEB01,CN=Computers,DC=emea,DC=corp,DC=example", samAccountName: "WEB01$" };
    const j = judgeSpnHolders(SPN, [asaHolder, other], ASA);
    assert.equal(j.code, "SPN_DUPLICATE");
    assert.match(j.cause, /WEB01\$ \(CN=WEB01,CN=Computers,DC=emea,DC=corp,DC=example\)/);
    assert.match(j.fix!, /setspn -D HTTP\/outlook\.corp\.example WEB01\$/);
  });

  it("says SPN_WRONG_ACCOUNT when only another account holds it", () => {
    const j = judgeSpnHolders(SPN, [{ dn: "CN=EX1,CN=Computers,DC=corp,DC=example", samAccountName: "EX1$" }], ASA);
    assert.equal(j.code, "SPN_WRONG_ACCOUNT");
    assert.match(j.fix!, /setspn -D .* EX1\$, then setspn -S .* CORP\\EXCH-ASA\$/);
  });

  it("matches by sAMAccountName when the ASA's DN is unknown (the account is missing)", () => {
    assert.equal(judgeSpnHolders(SPN, [asaHolder], { ...ASA, dn: undefined }).code, "OK");
  });
});

describe("doctor: replPropertyMetaData ([MS-DRSR] PROPERTY_META_DATA_EXT_VECTOR)", () => {
  function entry(attid: number, version: number, when: Date, usn: bigint): Buffer {
    const b = Buffer.alloc(48);
    b.writeUInt32LE(attid, 0);
    b.writeUInt32LE(version, 4);
    b.writeBigUInt64LE(BigInt(Math.floor(when.getTime() / 1000) + 11644473600), 8);
    b.fill(0xab, 16, 32); // originating DSA GUID
    b.writeBigInt64LE(usn + 100n, 32); // originating USN (another DC's counter)
    b.writeBigInt64LE(usn, 40);
    return b;
  }

  it("reads attid, version, change time (DSTIME) and local USN of each attribute", () => {
    const header = Buffer.alloc(16);
    header.writeUInt32LE(1, 0);
    header.writeUInt32LE(2, 8);
    const t1 = new Date("2026-11-25T20:17:13Z");
    const t2 = new Date("2026-11-25T20:17:14Z");
    const blob = Buffer.concat([header, entry(ATTID_PWD_LAST_SET, 1, t1, 4000n), entry(ATTID_SUPPORTED_ENCRYPTION_TYPES, 3, t2, 4001n)]);
    const m = parseReplPropertyMetaData(blob);
    assert.deepEqual(m, [
      { attid: 0x00090060, version: 1, changed: t1, usn: 4000n },
      { attid: 0x000907ab, version: 3, changed: t2, usn: 4001n },
    ]);
  });

  it("refuses a blob that is not a version 1 vector, or is truncated", () => {
    assert.throws(() => parseReplPropertyMetaData(Buffer.alloc(16)), /not a version 1 vector/);
    const header = Buffer.alloc(16);
    header.writeUInt32LE(1, 0);
    header.writeUInt32LE(3, 8);
    assert.throws(() => parseReplPropertyMetaData(header), /3 entries do not fit/);
  });
});

describe("doctor: the command's arguments", () => {
  it("maps flags to config keys, repeats list flags as JSON lists", () => {
    const p = parseDoctorArgs(["--stack", "site-a", "--json", "--namespace", "outlook.corp.example", "--server", "EX1", "--server=EX2", "--dns-address", "10.0.0.25", "--ldap-url", "ldaps://dc1"]);
    assert.equal(p.stack, "site-a");
    assert.equal(p.json, true);
    assert.deepEqual(p.config, { namespace: "outlook.corp.example", ldapUrl: "ldaps://dc1", servers: '["EX1","EX2"]', dnsAddresses: '["10.0.0.25"]' });
  });

  it("refuses secrets as flags without repeating the value, and unknown flags", () => {
    assert.throws(() => parseDoctorArgs(["--ldap-bind-password", "hunter22"]), (e: Error) => /EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD/.test(e.message) && !e.message.includes("hunter22"));
    assert.throws(() => parseDoctorArgs(["--asa-pasword", "x"]), /unknown flag --asa-pasword/);
    assert.throws(() => parseDoctorArgs(["--namespace"]), /--namespace needs a value/);
  });
});

describe("doctor: the text report", () => {
  it("puts cause and fix of a failure on one line and ends with the verdict", () => {
    const report: DoctorReport = {
      ok: false,
      namespace: "outlook.corp.example",
      realm: "CORP.EXAMPLE",
      checkedAt: "2026-11-25T20:00:00.000Z",
      findings: [
        { check: "dns", subject: "outlook.corp.example", status: "pass", code: "OK", cause: "resolves to 10.0.0.25, as declared" },
        { check: "binding", subject: "EX2", status: "fail", code: "SERVER_NO_ASA", cause: "EX2 holds no ASA credential", fix: "bind it" },
      ],
      summary: { pass: 1, warn: 0, fail: 1, skip: 0, pending: 0 },
    };
    const lines = formatDoctorReport(report).split("\n");
    assert.ok(lines.includes("  FAIL EX2: [SERVER_NO_ASA] EX2 holds no ASA credential — fix: bind it"), lines.join("\n"));
    assert.ok(lines.includes("  ok   outlook.corp.example: resolves to 10.0.0.25, as declared"));
    assert.equal(lines[lines.length - 1], "Kerberos will NOT work: 1 ok, 0 warnings, 1 failed, 0 not checked");
  });
});
