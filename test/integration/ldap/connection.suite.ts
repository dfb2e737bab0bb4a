// The LDAP transport against the lab DC: one shared connection per directory for parallel
// resources, a reconnect after a drop, and clear typed errors for each way a connection fails.
import { strict as assert } from "node:assert";
import { AccessDeniedError, InvalidInputError, UnreachableError } from "../../../provider/errors";
import { closeLdapConnections, directory, directoryFor, dropLdapConnectionsForTest, globalCatalogUrl, ldapStats } from "../../../provider/ldap/connection";
import { encodeUnicodePwd } from "../../../provider/ldap/unicode-pwd";
import { asaComputerAccountImpl as asa, AsaOutputs } from "../../../provider/resources/asa-computer-account";
import { dnsRecordImpl as dns, DnsRecordOutputs } from "../../../provider/resources/dns-record";
import { spnImpl, SpnOutputs } from "../../../provider/resources/spn";
import { configFromMap, configureFromStack, ldapSettings } from "../../../provider/settings";
import { Lab, sambaTool } from "../../fixtures/lab";
import { ldapLab } from "./lab";

describe("LDAP transport (lab DC)", function () {
  this.timeout(180000);
  let lab: Lab;

  /** Settings as a stack with `changes` would give them. */
  function settingsWith(changes: Record<string, string | undefined>) {
    configureFromStack(configFromMap({ ...lab.stackConfig, ...changes }));
    try {
      return ldapSettings();
    } finally {
      configureFromStack(configFromMap(lab.stackConfig));
    }
  }

  async function failsWith(changes: Record<string, string | undefined>): Promise<unknown> {
    const c = directory(settingsWith(changes));
    try {
      await c.search("", { scope: "base", attributes: ["defaultNamingContext"] });
    } catch (e) {
      return e;
    } finally {
      await c.close();
    }
    assert.fail(`expected a failure with ${JSON.stringify(Object.keys(changes))}`);
  }

  before(async () => {
    lab = await ldapLab();
  });

  after(async () => {
    await closeLdapConnections();
  });

  it("20 resources created, read and deleted in parallel share one connection to the DC (and one to the GC)", async () => {
    await closeLdapConnections();
    const before = ldapStats();
    const ou = `OU=Service Accounts,${lab.baseDn}`;
    for (let i = 0; i < 7; i++) await sambaTool(lab, ["computer", "delete", `PAR-ASA-${i}`]).catch(() => undefined);
    const asas = await Promise.all(
      Array.from({ length: 7 }, async (_, i) => (await asa.create((await asa.check({}, { name: `PAR-ASA-${i}`, ou })).inputs)).outs as AsaOutputs),
    );
    const [spns, records] = await Promise.all([
      Promise.all(asas.map(async (a, i) => (await spnImpl.create((await spnImpl.check({}, { spn: `HTTP/par${i}.${lab.domain}`, account: a.dn })).inputs)).outs as SpnOutputs)),
      Promise.all(Array.from({ length: 6 }, async (_, i) => (await dns.create((await dns.check({}, { zone: lab.domain, name: `par${i}`, type: "A", values: [`10.9.0.${i + 1}`, `10.9.1.${i + 1}`] })).inputs)).outs as DnsRecordOutputs)),
    ]);
    assert.equal(asas.length + spns.length + records.length, 20);
    await Promise.all([...asas.map((a) => asa.read(a.sid, a)), ...spns.map((s) => spnImpl.read(`${s.accountSid}/${s.spn}`, s)), ...records.map((r) => dns.read(`${r.zone}/${r.name}/A`, r))]);
    await Promise.all([...spns.map((s) => spnImpl.delete(`${s.accountSid}/${s.spn}`, s)), ...records.map((r) => dns.delete(`${r.zone}/${r.name}/A`, r))]);
    await Promise.all(asas.map((a) => asa.delete(a.sid, a)));

    const after = ldapStats();
    const opened = (url: string) => (after.connectionsByUrl[url] ?? 0) - (before.connectionsByUrl[url] ?? 0);
    const dc = lab.ldapUrl;
    const gc = globalCatalogUrl(ldapSettings());
    const ops = after.operations - before.operations;
    const byKind = Object.fromEntries(Object.entries(after.byOperation).map(([k, n]) => [k, n - (before.byOperation[k] ?? 0)]));
    console.log(`      20 parallel resources: ${opened(dc)} connection to ${dc}, ${opened(gc)} to the GC ${gc}; ${ops} operations ${JSON.stringify(byKind)}`);
    assert.equal(opened(dc), 1, "one connection to the DC");
    assert.equal(opened(gc), 1, "one connection to the Global Catalog (the SPN checks)");
    assert.equal(after.connectionsOpened - before.connectionsOpened, 2);
    assert.ok(ops >= 20 * 3, `${ops} operations went over them`);
  });

  it("reconnects (TLS and bind again) after the connection drops", async () => {
    const c = directoryFor(undefined);
    await c.search("", { scope: "base" });
    const before = ldapStats();
    dropLdapConnectionsForTest();
    await new Promise((r) => setTimeout(r, 50));
    const [root] = await c.search("", { scope: "base", attributes: ["defaultNamingContext"] });
    assert.ok(root);
    const after = ldapStats();
    assert.equal(after.reconnects - before.reconnects, 1);
    assert.equal(after.connectionsOpened - before.connectionsOpened, 1);
  });

  it("an unreachable server is an UnreachableError naming the URL and the fix", async () => {
    const e = await failsWith({ "exchange-kerberos:ldapUrl": `ldaps://${lab.addr}:1` });
    assert.ok(e instanceof UnreachableError, String(e));
    assert.match(e.message, new RegExp(`cannot reach ldaps://${lab.addr.replace(/\./g, "\\.")}:1 \\(ECONNREFUSED\\)\\. Fix: check exchange-kerberos:ldapUrl`));
  });

  it("bad credentials are an AccessDeniedError naming the user, never the password", async () => {
    const wrong = "Wrong-Bind-Passw0rd-7x!";
    const e = await failsWith({ "exchange-kerberos:ldapBindPassword": wrong });
    assert.ok(e instanceof AccessDeniedError, String(e));
    assert.match(e.message, new RegExp(`refused the bind as ${lab.adminUser}: wrong user name or password`));
    assert.match(e.message, /pulumi config set --secret exchange-kerberos:ldapBindPassword/);
    for (let c: unknown = e; c instanceof Error; c = c.cause) assert.ok(!c.message.includes(wrong) && !c.message.includes(lab.adminPassword), c.message);
  });

  it("a certificate from an untrusted CA is refused by default (UnreachableError pointing at ldapCaFile)", async () => {
    const e = await failsWith({ "exchange-kerberos:ldapCaFile": undefined });
    assert.ok(e instanceof UnreachableError, String(e));
    assert.match(e.message, /TLS certificate of ldaps:\/\/.* is not trusted .*Fix: set exchange-kerberos:ldapCaFile/);
  });

  it("StartTLS on ldap:// works with the CA; a plain-text simple bind is refused unless allowed", async () => {
    const c = directory(settingsWith({ "exchange-kerberos:ldapUrl": `ldap://${lab.addr}` }));
    assert.equal(c.encrypted, true);
    const [root] = await c.search("", { scope: "base", attributes: ["defaultNamingContext"] });
    assert.ok(root);
    await c.close();

    // Refused as the settings are read (so at preview), before any connection is made.
    assert.throws(
      () => settingsWith({ "exchange-kerberos:ldapUrl": `ldap://${lab.addr}`, "exchange-kerberos:ldapStartTls": "false" }),
      (e: unknown) => e instanceof InvalidInputError && e.field === "exchange-kerberos:ldapUrl" && /would send the password in clear text.*ldapAllowPlainText/.test(e.message),
    );
  });

  it("an account without the rights gets an AccessDeniedError naming the object", async () => {
    const [alice] = await directoryFor(undefined).search(lab.baseDn, { filter: "(sAMAccountName=alice)", attributes: ["sAMAccountName"] });
    const aliceDn = alice.dn;
    const alicePassword = `Alice-${Date.now()}-Xy9!`;
    await directoryFor(undefined).modify(aliceDn, [{ operation: "replace", type: "unicodePwd", values: [encodeUnicodePwd(alicePassword)] }], true);
    configureFromStack(configFromMap({ ...lab.stackConfig, "exchange-kerberos:ldapBindUser": `alice@${lab.domain}`, "exchange-kerberos:ldapBindPassword": alicePassword }));
    try {
      await assert.rejects(asa.create((await asa.check({}, { name: "ALICE-ASA", ou: `OU=Service Accounts,${lab.baseDn}` })).inputs), (e: unknown) => {
        assert.ok(e instanceof AccessDeniedError, String(e));
        assert.match(e.message, /alice@corp\.example may not add CN=ALICE-ASA,OU=Service Accounts,DC=corp,DC=example.*Fix: delegate the right/);
        assert.ok(!e.message.includes(alicePassword));
        return true;
      });
    } finally {
      configureFromStack(configFromMap(lab.stackConfig));
    }
  });
});
