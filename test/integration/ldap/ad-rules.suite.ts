// Windows AD's rules a Domain Admin bind on one Samba DC hides, against the lab DC: a delegated
// bind account (svc-rollout, exactly the rights of docs/guides/delegate-the-bind-account.md) and what preflight
// says when one right is missing; HTTP/ as an alias of HOST/; adopted dynamic DNS records made
// static; DNS partitions from CN=Partitions; a DC that resets TLS.
import { strict as assert } from "node:assert";
import * as net from "node:net";
import { ConflictError } from "../../../provider/errors";
import { closeLdapConnections, directory, directoryFor, str } from "../../../provider/ldap/connection";
import { DnsType, encodeA, encodeDnsRecord } from "../../../provider/ldap/dns-record-codec";
import { dnsPartitions, findZone, readNode } from "../../../provider/ldap/dns-zone";
import { encodeUnicodePwd } from "../../../provider/ldap/unicode-pwd";
import { asaComputerAccountImpl as asa, AsaOutputs, setAsaPassword } from "../../../provider/resources/asa-computer-account";
import { dnsRecordImpl as dns, DnsRecordOutputs } from "../../../provider/resources/dns-record";
import { spnImpl } from "../../../provider/resources/spn";
import { CONFIG_NAMESPACE, configFromMap, configureFromStack, ldapSettings } from "../../../provider/settings";
import { delegate, Lab, ROLLOUT_PASSWORD, ROLLOUT_USER, sambaTool } from "../../fixtures/lab";
import { ldapmodify } from "../../fixtures/admin-tools";
import { ldapLab } from "./lab";

const ns = CONFIG_NAMESPACE;

describe("Windows AD's rules (lab DC)", function () {
  this.timeout(180000);
  let lab: Lab;

  /** Points the provider at the lab as `user`. */
  function bindAs(user: string, password: string): void {
    configureFromStack(configFromMap({ ...lab.stackConfig, [`${ns}:ldapBindUser`]: `${user}@${lab.domain}`, [`${ns}:ldapBindPassword`]: password }));
  }

  /** A user with a password set over LDAPS (the LDIF on ldapmodify's stdin, never in argv). */
  function createUser(name: string, password: string): void {
    ldapmodify(
      lab,
      [
        `dn: CN=${name},OU=Service Accounts,${lab.baseDn}`,
        "changetype: add",
        "objectClass: user",
        `sAMAccountName: ${name}`,
        "userAccountControl: 512",
        `unicodePwd:: ${encodeUnicodePwd(password).toString("base64")}`,
        "",
      ].join("\n"),
    );
  }

  before(async () => {
    lab = await ldapLab();
    for (const c of ["RIGHTS-ASA", "ALIAS-ASA"]) await sambaTool(lab, ["computer", "delete", c]).catch(() => undefined);
  });

  after(async () => {
    configureFromStack(configFromMap(lab.stackConfig));
    await closeLdapConnections();
  });

  describe("a least-privilege bind account", function () {
    const ou = () => `OU=Service Accounts,${lab.baseDn}`;
    const asaInputs = () => ({ name: "RIGHTS-ASA", ou: ou(), description: "Exchange ASA", owner: "pulumi-exchange-kerberos owner 00000000-0000-4000-8000-000000000030" });

    afterEach(() => configureFromStack(configFromMap(lab.stackConfig)));

    it("svc-rollout passes preflight, creates the ASA with its password and mark, rotates it, adds the SPN and deletes it", async () => {
      bindAs(ROLLOUT_USER, ROLLOUT_PASSWORD);
      const checked = await asa.check({}, asaInputs());
      assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
      const outs = (await asa.create(checked.inputs)).outs as AsaOutputs;
      try {
        // Now the account exists: the directory's own answer (allowedAttributesEffective) agrees.
        const again = await asa.check(outs as unknown as Record<string, unknown>, asaInputs());
        assert.equal(again.failures, undefined, JSON.stringify(again.failures));
        await setAsaPassword(outs.sid, "Rotated-by-svc-rollout 2026!");
        const spn = (await spnImpl.create({ spn: `HTTP/rights.${lab.domain}`, account: outs.sid })).outs;
        await spnImpl.delete("", spn);
        const dnsChecked = await dns.check({}, { zone: lab.domain, name: "rights", type: "A", values: ["10.30.0.1"], owner: asaInputs().owner });
        assert.equal(dnsChecked.failures, undefined, JSON.stringify(dnsChecked.failures));
        const rec = (await dns.create(dnsChecked.inputs)).outs as DnsRecordOutputs;
        await dns.delete("", rec);
      } finally {
        await asa.delete(outs.sid, outs);
      }
    });

    // Each right left out, one account each: preflight names exactly that one (its own code,
    // whose reason says which right), and nothing else.
    for (const [right, reasons] of [
      ["create-delete-computers", [/may not create computer objects/, /may not delete computer objects/]],
      ["write-spn", [/may not write servicePrincipalName/]],
      ["write-encryption-types", [/may not write msDS-SupportedEncryptionTypes/]],
      ["write-owner-mark", [/may not write adminDescription/]],
      ["write-description", [/may not write description/]],
      ["reset-password", [/may not reset the ASA's password/]],
    ] as const) {
      it(`without ${right}, preflight refuses the ASA naming that right`, async () => {
        const user = `svc-no-${right}`.slice(0, 20);
        const password = `Lab-only ${right} 2026!`;
        await sambaTool(lab, ["user", "delete", user]).catch(() => undefined);
        createUser(user, password);
        try {
          await delegate(lab, user, right);
          bindAs(user, password);
          const found = ((await asa.check({}, asaInputs())).failures ?? []).map((f) => f.reason);
          assert.equal(found.length, reasons.length, found.join("\n"));
          for (const re of reasons) assert.ok(found.some((r) => re.test(r) && r.includes(user)), `${re}: ${found.join("\n")}`);
        } finally {
          configureFromStack(configFromMap(lab.stackConfig));
          await sambaTool(lab, ["user", "delete", user]).catch(() => undefined);
        }
      });
    }
  });

  it("refuses HTTP/<name> when another account holds HOST/<name>, its alias in sPNMappings (the KDC would answer with that account's key)", async () => {
    const outs = (await asa.create((await asa.check({}, { name: "ALIAS-ASA", ou: `OU=Service Accounts,${lab.baseDn}` })).inputs)).outs as AsaOutputs;
    try {
      const e = await spnImpl.create({ spn: `HTTP/legacyweb.${lab.domain}`, account: outs.sid }).then(
        () => assert.fail("the SPN was added beside LEGACYWEB's HOST/ alias"),
        (err: unknown) => err,
      );
      assert.ok(e instanceof ConflictError, String(e));
      assert.equal(e.code, "SPN_HELD_ELSEWHERE");
      assert.match(e.message, /CN=LEGACYWEB/);
    } finally {
      await asa.delete(outs.sid, outs);
    }
  });

  it("an adopted dynamic record (an aging timestamp) is rewritten static, so scavenging never deletes it", async () => {
    const c = directoryFor(undefined);
    const zoneDn = await findZone(c, lab.domain);
    const dn = `DC=dynamic,${zoneDn}`;
    await c.del(dn).catch(() => undefined);
    // As a client's dynamic update leaves it: TimeStamp = hours since 1601 ([MS-DNSP] §2.3.2.2).
    const hours = Math.floor((Date.now() / 1000 + 11644473600) / 3600);
    await c.add(dn, { objectClass: ["top", "dnsNode"], dnsRecord: [encodeDnsRecord({ type: DnsType.A, data: encodeA("10.30.1.1"), ttl: 1200, timestamp: hours })] });
    const checked = await dns.check({}, { zone: lab.domain, name: "dynamic", type: "A", values: ["10.30.1.1"], ttl: 1200, adopt: true });
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    const outs = (await dns.create(checked.inputs)).outs as DnsRecordOutputs;
    const node = await readNode(c, dn);
    assert.deepEqual(node.values.map((v) => [v.rec.type, v.rec.timestamp]), [[DnsType.A, 0]]);
    await dns.delete("", outs);
  });

  it("stamps written records with the apex serial + 1 and never writes the apex (a delegated account has no right there)", async () => {
    const c = directoryFor(undefined);
    const zoneDn = await findZone(c, lab.domain);
    const apexBefore = (await readNode(c, `DC=@,${zoneDn}`)).values.map((v) => v.raw.toString("hex"));
    const soaSerial = (await readNode(c, `DC=@,${zoneDn}`)).values.find((v) => v.rec.type === DnsType.SOA)!.rec.data.readUInt32BE(0);
    const outs = (await dns.create((await dns.check({}, { zone: lab.domain, name: "serial", type: "A", values: ["10.30.2.1"] })).inputs)).outs as DnsRecordOutputs;
    const node = await readNode(c, `DC=serial,${zoneDn}`);
    assert.deepEqual(node.values.map((v) => v.rec.serial), [soaSerial + 1]);
    assert.deepEqual((await readNode(c, `DC=@,${zoneDn}`)).values.map((v) => v.raw.toString("hex")), apexBefore, "the apex is unchanged");
    await dns.delete("", outs);
  });

  it("lists the DNS application partitions from CN=Partitions with the DCs that hold them", async () => {
    const parts = await dnsPartitions(directoryFor(undefined));
    const domainDns = parts.find((p) => p.nc.toLowerCase() === `dc=domaindnszones,${lab.baseDn}`.toLowerCase());
    assert.ok(domainDns, JSON.stringify(parts));
    assert.deepEqual(domainDns.replicas, ["DC1"]);
    assert.ok(parts.some((p) => /^DC=ForestDnsZones,/i.test(p.nc)));
  });

  it("a DC that resets TLS on 636, or refuses StartTLS, is reported as having no LDAPS certificate, not as a closed port", async () => {
    // Windows DCs accept on 636 without a certificate and reset at the ClientHello; the nearest
    // stand-in is a listener that does exactly that (Samba without TLS does not listen at all).
    const reset = net.createServer((s) => s.once("data", () => s.resetAndDestroy()));
    const refuse = net.createServer((s) =>
      // An ExtendedResponse with resultCode unavailable (52) to the StartTLS request's message id.
      s.once("data", (d: Buffer) => s.write(Buffer.from([0x30, 0x0c, 0x02, 0x01, d[4], 0x78, 0x07, 0x0a, 0x01, 0x34, 0x04, 0x00, 0x04, 0x00]))),
    );
    await new Promise<void>((r) => reset.listen(10636, lab.addr, r));
    await new Promise<void>((r) => refuse.listen(10389, lab.addr, r));
    try {
      for (const url of [`ldaps://${lab.addr}:10636`, `ldap://${lab.addr}:10389`]) {
        configureFromStack(configFromMap({ ...lab.stackConfig, [`${ns}:ldapUrl`]: url }));
        const c = directory(ldapSettings());
        const e = await c.search("", { scope: "base" }).then(() => undefined, (err: { code?: string; message: string }) => err);
        assert.equal(e?.code, "LDAP_NO_TLS_CERTIFICATE", `${url}: ${e?.message}`);
        assert.match(e!.message, /no LDAPS certificate/);
        await c.close();
      }
    } finally {
      configureFromStack(configFromMap(lab.stackConfig));
      reset.close();
      refuse.close();
    }
  });

  it("reads the owner mark back from a record a delegated account wrote", async () => {
    bindAs(ROLLOUT_USER, ROLLOUT_PASSWORD);
    try {
      const owner = "pulumi-exchange-kerberos owner 00000000-0000-4000-8000-000000000031";
      const outs = (await dns.create((await dns.check({}, { zone: lab.domain, name: "marked", type: "A", values: ["10.30.3.1"], owner })).inputs)).outs as DnsRecordOutputs;
      const [e] = await directoryFor(undefined).search(outs.nodeDn, { scope: "base", attributes: ["adminDescription"] });
      assert.equal(str(e, "adminDescription"), owner);
      await dns.delete("", outs);
    } finally {
      configureFromStack(configFromMap(lab.stackConfig));
    }
  });
});
