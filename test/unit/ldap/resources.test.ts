// `check` and `diff` of the three directory resources: offline, no DC. Every refusal names the
// field and carries a fix; hostile values are refused or escaped, never passed through.
import { strict as assert } from "node:assert";
import { asaDiff, validateAsaInputs } from "../../../provider/resources/asa-computer-account";
import { spnDiff, validateSpnInputs } from "../../../provider/resources/spn";
import { dnsDiff, validateDnsInputs } from "../../../provider/resources/dns-record";
import { checkInputs, ResourceImpl } from "../../../provider/resources/dynamic";

const BASE = "DC=corp,DC=example";
const OU = `OU=Service Accounts,${BASE}`;

/** Runs `check` and returns its failures as "property: reason" lines. */
async function failures(impl: Pick<ResourceImpl, "check">, news: Record<string, unknown>): Promise<string[]> {
  const r = await impl.check({}, news);
  return (r.failures ?? []).map((f) => `${f.property}: ${f.reason}`);
}

async function refuses(impl: Pick<ResourceImpl, "check">, news: Record<string, unknown>, property: string, why: RegExp): Promise<void> {
  const r = await impl.check({}, news);
  const hit = (r.failures ?? []).find((f) => f.property === property);
  assert.ok(hit, `expected a failure on ${property} for ${JSON.stringify(news)}, got ${JSON.stringify(r.failures)}`);
  assert.match(hit.reason, why);
  assert.match(hit.reason, /Fix: /, "every failure says how to fix it");
}

describe("AsaComputerAccount check (offline; the OU lookup is tested against the lab)", () => {
  const asaOffline = { check: async (_olds: unknown, news: Record<string, unknown>) => checkInputs(news, validateAsaInputs) };
  const ok = { name: "exch-asa", ou: OU };

  it("normalizes good input and defaults to AES128+AES256", async () => {
    const r = await asaOffline.check({}, ok);
    assert.equal(r.failures, undefined);
    assert.equal(r.inputs.name, "EXCH-ASA");
    assert.equal(r.inputs.supportedEncryptionTypes, 0x18);
    assert.equal(r.inputs.deferPasswordSet, false);
  });

  it("refuses names that are not NetBIOS computer names", async () => {
    await refuses(asaOffline, { ...ok, name: "EXCHANGE-ASA-0001" }, "name", /17 characters; a NetBIOS computer name has at most 15/);
    await refuses(asaOffline, { ...ok, name: "ASA$" }, "name", /ends with \$/);
    for (const hostile of ["A*", "A(B)", "A\\B", "A\0B", "A,B", "A+B", "A=B", 'A"B', "A<B>", "#ASA", "A;B", " ASA", "ASA ", "Zürich", "A.B", "12345"]) {
      await refuses(asaOffline, { ...ok, name: hostile }, "name", /computer name|all digits/);
    }
  });

  it("refuses an RC4-only account and explains the 2026 RC4 retirement", async () => {
    await refuses(asaOffline, { ...ok, supportedEncryptionTypes: 4 }, "supportedEncryptionTypes", /RC4 only.*CVE-2026-20833.*April 2026/);
    await refuses(asaOffline, { ...ok, supportedEncryptionTypes: 0x1f }, "supportedEncryptionTypes", /DES/);
    await refuses(asaOffline, { ...ok, supportedEncryptionTypes: "24" }, "supportedEncryptionTypes", /bit mask/);
    assert.deepEqual(await failures(asaOffline, { ...ok, supportedEncryptionTypes: 0x1c }), [], "RC4+AES is allowed");
  });

  it("refuses malformed OUs and escapes hostile characters in a good one", async () => {
    await refuses(asaOffline, { ...ok, ou: "Service Accounts" }, "ou", /not a valid distinguished name/);
    await refuses(asaOffline, { ...ok, ou: "OU=a,DC=corp,DC=example)(objectClass=*" }, "ou", /not a DNS label/);
    await refuses(asaOffline, { ...ok, ou: "CN=x+OU=y,DC=corp" }, "ou", /multi-valued/);
    const r = await asaOffline.check({}, { ...ok, ou: `OU=\\ a\\,b\\+c\\=d*(e)\\<\\>\\;\\"\\\\ü\\ ,${BASE}` });
    assert.equal(r.failures, undefined);
    assert.equal(r.inputs.ou, `OU=\\ a\\,b\\+c\\=d*(e)\\<\\>\\;\\"\\\\ü\\ ,${BASE}`);
  });

  it("never echoes a refused password", async () => {
    const pw = "secret\nvalue-Ab1!";
    const f = await failures(asaOffline, { ...ok, password: pw });
    assert.equal(f.length, 1);
    assert.match(f[0], /^password: .*control character/);
    assert.ok(!f.join("").includes("secret"), "the password is not in the message");
    assert.throws(() => validateAsaInputs({ ...ok, password: "x".repeat(300) }), (e: Error) => !e.message.includes("xxxx"));
  });

  it("refuses an ldap override that is not a server URL or carries credentials", async () => {
    await refuses(asaOffline, { ...ok, ldap: { url: "https://dc1" } }, "ldap", /ldap\.url: .*not an ldaps:\/\/ or ldap:\/\/ server URL/);
    await refuses(asaOffline, { ...ok, ldap: { bindPassword: "x" } }, "ldap", /ldap\.bindPassword: .*stack config/);
    assert.deepEqual(await failures(asaOffline, { ...ok, ldap: { url: "ldaps://dc2.corp.example", caFile: "/etc/ca.pem" } }), []);
  });

  it("diff: rename replaces; OU, password and encryption types update in place", () => {
    const olds = { ...validateAsaInputs(ok), password: "p1", passwordLastSet: "t", passwordSetByUs: "t", dn: `CN=EXCH-ASA,${OU}`, adPassword: "p1" };
    assert.deepEqual(asaDiff(olds, validateAsaInputs({ ...ok, name: "EXCH-ASA2" })).replaces, ["name"]);
    const move = asaDiff(olds, validateAsaInputs({ ...ok, ou: `OU=Other,${BASE}` }));
    assert.deepEqual([move.changes, move.replaces], [true, []]);
    const rotate = asaDiff(olds, validateAsaInputs({ ...ok, password: "p2" }));
    assert.deepEqual([rotate.changes, rotate.replaces], [true, []]);
    const enc = asaDiff(olds, validateAsaInputs({ ...ok, supportedEncryptionTypes: 0x10 }));
    assert.deepEqual([enc.changes, enc.replaces], [true, []]);
    assert.equal(asaDiff(olds, validateAsaInputs({ ...ok, ou: OU.toLowerCase() })).changes, false, "DNs compare case-insensitively");
    const { adPassword: _recorded, ...older } = olds;
    assert.equal(asaDiff(older, validateAsaInputs(ok)).changes, true, "state from before adPassword existed records it once");
    assert.equal(asaDiff({ ...olds, passwordLastSet: "later" }, validateAsaInputs(ok)).changes, true, "a password reset by someone else is put back");
    assert.equal(asaDiff({ ...olds, passwordLastSet: "later" }, validateAsaInputs({ ...ok, deferPasswordSet: true })).changes, true, "switching to deferred is a change");
    assert.equal(asaDiff({ ...olds, deferPasswordSet: true, passwordSetByUs: "", passwordLastSet: "later" }, validateAsaInputs({ ...ok, deferPasswordSet: true })).changes, false, "deferred: another step owns the AD password");
  });
});

// Offline: the directory preflight of each `check` is tested against the lab (test/integration).
const spnImpl = { check: async (_olds: unknown, news: Record<string, unknown>) => checkInputs(news, validateSpnInputs) };
const dnsRecordImpl = { check: async (_olds: unknown, news: Record<string, unknown>) => checkInputs(news, validateDnsInputs) };

describe("Spn check", () => {
  const ok = { spn: "HTTP/outlook.corp.example", account: "EXCH-ASA$" };

  it("accepts service/host[:port][/name] and DN or sAMAccountName accounts", async () => {
    for (const spn of ["HTTP/outlook.corp.example", "http/mail.corp.example:443", "ldap/dc1.corp.example/corp.example", "HTTP/outlook"]) {
      assert.deepEqual(await failures(spnImpl, { ...ok, spn }), [], spn);
    }
    for (const account of ["EXCH-ASA$", "CORP\\EXCH-ASA$", `CN=EXCH-ASA,${OU}`, "jürgen"]) {
      assert.deepEqual(await failures(spnImpl, { ...ok, account }), [], account);
    }
  });

  it("refuses malformed SPNs", async () => {
    for (const spn of ["", "HTTP", "HTTP/", "/host", "HTTP/host:0", "HTTP/host:70000", "HTTP/ho st", "HTTP/*", "HTTP/a)(b", "HTTP/host/x/y", "HT TP/host", "HTTP/ü.example"]) {
      await refuses(spnImpl, { ...ok, spn }, "spn", /SPN|service class|host name|port|service name|empty/);
    }
  });

  it("refuses account values that could widen a search or address another object", async () => {
    for (const account of ["*", "EXCH*", "a)(objectClass=*", "a\\b\\c", "a,b", "a+b", "a;b", 'a"b', "<a>", " EXCH-ASA$", "EXCH-ASA$ ", "a\0b", "CN=x,DC=corp)(", "CN=a,DC=x,"]) {
      await refuses(spnImpl, { ...ok, account }, "account", /neither a DN nor a sAMAccountName|distinguished name|not a DNS label/);
    }
  });

  it("diff: a new SPN or a new account replaces, the old value first when the account changes", () => {
    const olds = { ...validateSpnInputs(ok), duplicates: [] };
    assert.equal(spnDiff(olds, validateSpnInputs({ ...ok, spn: "http/OUTLOOK.corp.example" })).changes, false, "SPNs compare case-insensitively");
    assert.deepEqual(spnDiff(olds, validateSpnInputs({ ...ok, spn: "HTTP/mail.corp.example" })).replaces, ["spn"]);
    const moved = spnDiff(olds, validateSpnInputs({ ...ok, account: "OTHER$" }));
    assert.deepEqual([moved.replaces, moved.deleteBeforeReplace], [["account"], true]);
  });
});

describe("DnsRecord check", () => {
  const ok = { zone: "corp.example", name: "outlook", type: "A", values: ["10.0.0.11", "10.0.0.12"] };

  it("normalizes addresses and defaults the TTL", async () => {
    const r = await dnsRecordImpl.check({}, { ...ok, type: "aaaa", values: ["2001:DB8:0::25"] });
    assert.equal(r.failures, undefined);
    assert.equal(r.inputs.type, "AAAA");
    assert.deepEqual(r.inputs.values, ["2001:db8::25"]);
    assert.equal(r.inputs.ttl, 3600);
  });

  it("refuses bad zones, names, values and TTLs with the field and the fix", async () => {
    await refuses(dnsRecordImpl, { ...ok, zone: "corp" }, "zone", /fully qualified/);
    await refuses(dnsRecordImpl, { ...ok, name: "outlook.corp.example" }, "name", /includes the zone.*outlook/);
    for (const name of ["*", "a b", "a,b", "a)(b", "a\\b", "a\0b", "ü", " a", "a+b", "a=b", "#a", "a;b", "<a>", 'a"b']) {
      await refuses(dnsRecordImpl, { ...ok, name }, "name", /not a DNS name/);
    }
    await refuses(dnsRecordImpl, { ...ok, type: "MX" }, "type", /use one of A, AAAA, CNAME/);
    await refuses(dnsRecordImpl, { ...ok, values: ["10.0.0.256"] }, "values", /values\[0\].*not an IPv4 address/);
    await refuses(dnsRecordImpl, { ...ok, values: [] }, "values", /empty/);
    await refuses(dnsRecordImpl, { ...ok, values: ["10.0.0.1", "10.0.0.1"] }, "values", /listed twice/);
    await refuses(dnsRecordImpl, { ...ok, type: "CNAME", values: ["a.corp.example", "b.corp.example"] }, "values", /exactly one target/);
    await refuses(dnsRecordImpl, { ...ok, type: "CNAME", values: ["not a name"] }, "values", /fully qualified/);
    await refuses(dnsRecordImpl, { ...ok, type: "CNAME", name: "@", values: ["x.corp.example"] }, "name", /apex/);
    await refuses(dnsRecordImpl, { ...ok, ttl: -1 }, "ttl", /not a TTL/);
    await refuses(dnsRecordImpl, { ...ok, ttl: 2 ** 31 }, "ttl", /not a TTL/);
  });

  it("diff: zone, name or type replace; values and TTL update in place; order does not matter", () => {
    const olds = validateDnsInputs(ok);
    assert.equal(dnsDiff(olds, validateDnsInputs({ ...ok, values: ["10.0.0.12", "10.0.0.11"] })).changes, false);
    const upd = dnsDiff(olds, validateDnsInputs({ ...ok, values: ["10.0.0.13"], ttl: 60 }));
    assert.deepEqual([upd.changes, upd.replaces], [true, []]);
    assert.deepEqual(dnsDiff(olds, validateDnsInputs({ ...ok, name: "mail" })).replaces, ["name"]);
    const retype = dnsDiff(olds, validateDnsInputs({ ...ok, type: "CNAME", values: ["lb.corp.example"] }));
    assert.deepEqual([retype.replaces, retype.deleteBeforeReplace], [["type"], true]);
  });
});
