// The doctor against a real Samba AD DC (its KDC issues the tickets, its DNS answers, its Global
// Catalog is searched) and the Exchange stand-in (a TEST DOUBLE, launched in place of pwsh). A
// healthy rollout is built with the resource implementations; then each failure is induced by
// hand, the doctor must name it (and nothing else), and the rollout is healed again.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DoctorOptions, DoctorReport, doctorOptionsFromConfig, runDoctor } from "../../provider/doctor";
import { main as cliMain } from "../../provider/cli";
import { exchangeServer, setAsaCredentials } from "../../provider/exchange/operations";
import { closeExchangeSessions } from "../../provider/exchange/session";
import { closeLdapConnections } from "../../provider/ldap/connection";
import { asaComputerAccountImpl, AsaOutputs, setAsaPassword } from "../../provider/resources/asa-computer-account";
import { dnsRecordImpl } from "../../provider/resources/dns-record";
import { spnImpl, SpnOutputs } from "../../provider/resources/spn";
import { CONFIG_NAMESPACE, configFromMap, configureFromStack } from "../../provider/settings";
import { editServer, seedServers, standinExecutable, STATE_ENV } from "../fixtures/exchange-standin/state";
import { Lab, labAddr, run, sambaTool, startLab, stopLab } from "../fixtures/lab";
import { PulumiCli } from "../fixtures/pulumi-cli";
import { ldapmodify, rawSpn } from "../fixtures/admin-tools";

const ADDR = process.env.DOCTOR_LAB_ADDR ?? labAddr(5);
const NAMESPACE = "outlook.corp.example";
const SPN = `HTTP/${NAMESPACE}`;
const ASA = "EXDOC-ASA";
const ADDRESS = "10.0.0.25";
const PASSWORD = "Doctor-Asa-Pw-7f3c9e21-Kerberos!";
const SERVERS = ["EX1", "EX2"];
const ns = CONFIG_NAMESPACE;


/** Failing findings as "check:subject:code", sorted: the whole diagnosis, not just one line. */
function failures(r: DoctorReport): string[] {
  return r.findings.filter((f) => f.status === "fail").map((f) => `${f.check}:${f.subject}:${f.code}`).sort();
}

describe("doctor (integration: Samba AD DC + Exchange stand-in, a test double)", function () {
  this.timeout(180000);
  let lab: Lab;
  let dir: string;
  let stateFile: string;
  let config: Record<string, string>;
  let asa: AsaOutputs;
  let spn: SpnOutputs;
  let spnId: string;
  let dns: { id: string; outs: Record<string, unknown> } | undefined;

  const doctor = (over: Partial<DoctorOptions> = {}): Promise<DoctorReport> => runDoctor({ ...doctorOptionsFromConfig(config), ...over });

  async function bindEverywhere(servers = SERVERS): Promise<void> {
    for (const s of servers) await setAsaCredentials(await exchangeServer(s), asa.qualifiedName, PASSWORD);
  }

  before(async function () {
    lab = await startLab(ADDR);
    dir = mkdtempSync(join(tmpdir(), "doctor-it-"));
    stateFile = join(dir, "standin.json");
    process.env[STATE_ENV] = stateFile;
    config = {
      ...lab.stackConfig,
      [`${ns}:exchangeShell`]: standinExecutable(),
      [`${ns}:namespace`]: NAMESPACE,
      [`${ns}:servers`]: JSON.stringify(SERVERS),
      [`${ns}:dnsZone`]: lab.domain,
      [`${ns}:dnsAddresses`]: JSON.stringify([ADDRESS]),
      [`${ns}:asaName`]: ASA,
      [`${ns}:asaPassword`]: PASSWORD,
      [`${ns}:krb5Config`]: lab.krb5Conf,
      // Checks 1-7 against a record with no web server behind it: check 8 (the HTTPS endpoint) is
      // proven against the lab's real front door in test/e2e/truth-table.test.ts.
      [`${ns}:httpsCheck`]: "false",
    };
    configureFromStack(configFromMap(config));
    // The rollout, in Microsoft's order: DNS and URLs, the ASA, its credential on every server,
    // then the SPN, then Negotiate (seeded on here: the stand-in starts with it).
    const record = await dnsRecordImpl.create({ zone: lab.domain, name: "outlook", type: "A", values: [ADDRESS], ttl: 3600, adopt: true });
    dns = { id: record.id, outs: record.outs as Record<string, unknown> };
    seedServers(
      stateFile,
      SERVERS.map((name) => ({
        name,
        version: "2019" as const,
        urls: {
          owa: { internalUrl: `https://${NAMESPACE}/owa` },
          ecp: { internalUrl: `https://${NAMESPACE}/ecp` },
          ews: { internalUrl: `https://${NAMESPACE}/EWS/Exchange.asmx` },
          oab: { internalUrl: `https://${NAMESPACE}/OAB` },
          activeSync: { internalUrl: `https://${NAMESPACE}/Microsoft-Server-ActiveSync` },
          mapi: { internalUrl: `https://${NAMESPACE}/mapi` },
        },
        autoDiscoverServiceInternalUri: `https://${NAMESPACE}/Autodiscover/Autodiscover.xml`,
        rpc: { internalHostname: NAMESPACE, internalClientAuthenticationMethod: "Negotiate", iisAuthenticationMethods: ["Basic", "Ntlm", "Negotiate"] },
        mapiIisAuthenticationMethods: ["Ntlm", "OAuth", "Negotiate"],
      })),
    );
    asa = (await asaComputerAccountImpl.create({ name: ASA, ou: `CN=Computers,${lab.baseDn}`, password: PASSWORD, adopt: true })).outs as AsaOutputs;
    await bindEverywhere();
    const created = await spnImpl.create({ spn: SPN, account: `${ASA}$`, adopt: true });
    spn = created.outs as SpnOutputs;
    spnId = created.id;
  });

  after(async function () {
    if (spn) await spnImpl.delete(spnId, spn).catch(() => undefined);
    if (asa) await asaComputerAccountImpl.delete(asa.sid, asa).catch(() => undefined);
    if (dns) await dnsRecordImpl.delete(dns.id, dns.outs).catch(() => undefined);
    await sambaTool(lab, ["computer", "delete", "EXDOC-OTHER"]).catch(() => undefined);
    await closeExchangeSessions();
    await closeLdapConnections();
    if (dir) rmSync(dir, { recursive: true, force: true });
    delete process.env[STATE_ENV];
    if (lab) await stopLab(lab);
  });

  it("passes a healthy rollout: every check, with a real ticket that decrypts with the ASA password", async () => {
    const r = await doctor();
    assert.deepEqual(failures(r), []);
    assert.deepEqual(r.findings.filter((f) => f.status !== "pass").map((f) => `${f.check}:${f.code}`), []);
    assert.equal(r.ok, true);
    assert.equal(r.realm, lab.realm);
    for (const check of ["dns", "spn", "asa", "ticket", "decrypt", "binding", "negotiate"]) {
      assert.ok(r.findings.some((f) => f.check === check && f.status === "pass"), `check ${check} ran`);
    }
    assert.match(r.findings.find((f) => f.check === "ticket")!.cause, /aes256-cts-hmac-sha1-96/);
    assert.match(r.findings.find((f) => f.check === "decrypt")!.cause, /Administrator@CORP\.EXAMPLE/);
    assert.doesNotMatch(JSON.stringify(r), new RegExp(PASSWORD.replace(/[!-]/g, "\\$&")));
  });

  it("refuses a DN as the Kerberos user, naming kerberosUser, and reports no other ticket failure", async () => {
    const o = doctorOptionsFromConfig(config);
    const r = await doctor({ kerberos: { ...o.kerberos, user: `CN=Administrator,CN=Users,${lab.baseDn}`, userIsBindUser: true } });
    assert.deepEqual(failures(r), [`ticket:${SPN}:KERBEROS_USER_NOT_A_PRINCIPAL`]);
    const f = r.findings.find((x) => x.code === "KERBEROS_USER_NOT_A_PRINCIPAL")!;
    assert.match(f.cause, /^exchange-kerberos:kerberosUser: is not set, and the LDAP bind user it defaults to, "CN=Administrator,CN=Users,DC=corp,DC=example" is a distinguished name/);
    assert.match(f.fix ?? "", /set exchange-kerberos:kerberosUser to user@corp\.example or CORP\\user/);
    assert.equal(r.findings.find((x) => x.check === "decrypt")?.code, "NO_TICKET");
  });

  it("names a missing SPN (and the KDC's refusal that follows from it)", async () => {
    await spnImpl.delete(spnId, spn);
    try {
      const r = await doctor();
      assert.deepEqual(failures(r), [`spn:${SPN}:SPN_MISSING`, `ticket:${SPN}:TICKET_SPN_UNKNOWN`]);
      assert.equal(r.ok, false);
      assert.match(r.findings.find((f) => f.code === "SPN_MISSING")!.fix!, /setspn -S HTTP\/outlook\.corp\.example CORP\\EXDOC-ASA\$/);
    } finally {
      const again = await spnImpl.create({ spn: SPN, account: `${ASA}$` });
      spn = again.outs as SpnOutputs;
      spnId = again.id;
    }
  });

  it("names the HOST/ alias holder when no account holds HTTP/<name> (sPNMappings), and does not blame the ASA's password for the ticket the KDC issues for it", async () => {
    // The lab's LEGACYWEB holds HOST/legacyweb.<domain>: by the default sPNMappings HTTP/ is an
    // alias of HOST/, so the KDC answers a request for HTTP/legacyweb.<domain> with a ticket
    // encrypted for LEGACYWEB (Samba's KDC as Windows': [MS-DRSR] §4.1.4.2.19 MapSPN).
    const name = `legacyweb.${lab.domain}`;
    const r = await doctor({ namespace: name, extraSpnNames: [], dnsAddresses: undefined, servers: [] });
    const codes = r.findings.filter((f) => f.subject === `HTTP/${name}`).map((f) => `${f.check}:${f.code}`);
    assert.deepEqual(codes, ["spn:SPN_ALIAS_HELD", "ticket:OK", "decrypt:TICKET_FOR_ALIAS_HOLDER"]);
    assert.match(r.findings.find((f) => f.code === "SPN_ALIAS_HELD")!.cause, /LEGACYWEB\$ holds HOST\/legacyweb/);
    assert.match(r.findings.find((f) => f.code === "TICKET_FOR_ALIAS_HOLDER")!.fix!, /the ASA's password is not the cause/);
  });

  it("names the SPN on a second account (a duplicate written below Samba's uniqueness check), as the GC and the KDC see it", async () => {
    // Samba refuses a duplicate SPN over LDAP and through samldb (even with the relax control), as
    // Windows does since 2012 R2. Forests still reach this state (two DCs accepting the same SPN
    // before replication, setspn -A of old); we make it by writing the value straight into this
    // DC's domain partition file (python ldb without the samba modules). The Global Catalog search
    // and the KDC then see a real duplicate.
    await sambaTool(lab, ["computer", "create", "EXDOC-OTHER"]);
    const otherDn = `CN=EXDOC-OTHER,CN=Computers,${lab.baseDn}`;
    assert.equal(await rawSpn(lab, "add", otherDn, SPN), 0);
    try {
      const r = await doctor();
      assert.deepEqual(failures(r), [`spn:${SPN}:SPN_DUPLICATE`, `ticket:${SPN}:TICKET_SPN_NOT_UNIQUE`]);
      assert.match(r.findings.find((f) => f.code === "SPN_DUPLICATE")!.cause, /EXDOC-OTHER\$/);
    } finally {
      // samldb refuses even to remove one value of a duplicate (it re-checks what remains).
      assert.equal(await rawSpn(lab, "delete", otherDn, SPN), 0);
      await sambaTool(lab, ["computer", "delete", "EXDOC-OTHER"]);
    }
  });

  it("names an ASA password changed in AD but not on the servers (KRB_AP_ERR_MODIFIED)", async () => {
    // A change by hand comes after the servers were bound. The doctor compares AD's pwdLastSet with
    // a server's WhenAddedUTC to the second (their clocks and resolutions differ), so a set in the
    // same second as a binding cannot be told from it: let a second pass first.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await setAsaPassword(asa.sid, "Changed-By-Hand-9d81c4-Not-On-Servers!");
    try {
      const r = await doctor();
      assert.deepEqual(failures(r), [`binding:EX1:SERVER_ASA_STALE`, `binding:EX2:SERVER_ASA_STALE`, `decrypt:${SPN}:KRB_AP_ERR_MODIFIED`]);
      assert.match(r.findings.find((f) => f.code === "KRB_AP_ERR_MODIFIED")!.cause, /does not decrypt with the key derived from the stack's password/);
    } finally {
      await setAsaPassword(asa.sid, PASSWORD);
      await bindEverywhere();
    }
  });

  it("names an RC4-only ASA, and passes it once AES is enabled again without a password change", async () => {
    ldapmodify(lab, `dn: ${asa.dn}\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 4\n`);
    // The password is set while the account is RC4-only (and bound again so the servers agree).
    await setAsaPassword(asa.sid, PASSWORD);
    await bindEverywhere();
    try {
      const r = await doctor();
      const f = failures(r);
      // The KDC then issues an RC4 ticket, which the doctor reports and does not decrypt.
      assert.deepEqual(f, [`asa:CORP\\${ASA}$:ASA_NO_AES`, `decrypt:${SPN}:RC4_TICKET`]);
      assert.match(r.findings.find((x) => x.check === "ticket")!.cause, /rc4-hmac/);
    } finally {
      ldapmodify(lab, `dn: ${asa.dn}\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n`);
      // AES enabled again with no password set since the one made while RC4-only: AD derived AES
      // keys at that password set anyway (domain functional level 2008+), so the KDC issues an AES ticket that
      // decrypts with the ASA password's key, and the doctor must not fail it.
      const r = await doctor();
      assert.deepEqual(failures(r), []);
      assert.equal(r.ok, true);
      assert.match(r.findings.find((x) => x.check === "ticket")!.cause, /aes256-cts-hmac-sha1-96/);
    }
  });

  it("fails a server holding only passwords AD does not hold (two rotations that failed elsewhere), however new, and passes the other", async () => {
    // EX1 got a 2nd and then a 3rd password (each rotation failed on another server, so AD kept the
    // 1st): its credentials are newer than AD's password set, yet none is AD's password.
    const now = Date.now();
    editServer(stateFile, "EX1", (s) => {
      s.asa = [
        { userName: asa.qualifiedName, password: "Rotation-3-77d2b1e5-Never-In-AD!", whenAddedUtc: new Date(now).toISOString() },
        { userName: asa.qualifiedName, password: "Rotation-2-a41f0c9e-Never-In-AD!", whenAddedUtc: new Date(now - 60_000).toISOString() },
      ];
    });
    try {
      const r = await doctor();
      assert.deepEqual(failures(r), ["binding:EX1:SERVER_ASA_STALE"]);
      assert.match(r.findings.find((f) => f.code === "SERVER_ASA_STALE")!.cause, /does not hold AD's current password/);
      assert.match(r.findings.find((f) => f.check === "binding" && f.subject === "EX2")!.cause, /holds AD's current password/);
      assert.equal(r.ok, false);
    } finally {
      await bindEverywhere(["EX1"]);
    }
  });

  it("names the server that lacks the ASA credential", async () => {
    editServer(stateFile, "EX2", (s) => (s.asa = []));
    try {
      const r = await doctor();
      assert.deepEqual(failures(r), ["binding:EX2:SERVER_NO_ASA"]);
    } finally {
      await bindEverywhere(["EX2"]);
    }
  });

  it("names Negotiate switched off on Outlook Anywhere and MAPI", async () => {
    editServer(stateFile, "EX1", (s) => {
      s.rpc.internalClientAuthenticationMethod = "Ntlm";
      s.vdirs.mapi.iisAuthenticationMethods = ["Ntlm", "OAuth"];
    });
    try {
      const r = await doctor();
      assert.deepEqual(failures(r), ["negotiate:EX1:MAPI_NO_NEGOTIATE", "negotiate:EX1:OA_CLIENT_AUTH_NOT_NEGOTIATE"]);
    } finally {
      editServer(stateFile, "EX1", (s) => {
        s.rpc.internalClientAuthenticationMethod = "Negotiate";
        s.vdirs.mapi.iisAuthenticationMethods = ["Ntlm", "OAuth", "Negotiate"];
      });
    }
  });

  it("names DNS pointing elsewhere, asking the domain's DNS server", async () => {
    await sambaTool(lab, ["dns", "update", lab.addr, lab.domain, "outlook", "A", ADDRESS, "10.9.9.9"]);
    try {
      const r = await doctor();
      assert.deepEqual(failures(r), [`dns:${NAMESPACE}:DNS_WRONG_ADDRESS`]);
      assert.match(r.findings.find((f) => f.code === "DNS_WRONG_ADDRESS")!.cause, new RegExp(`10\\.9\\.9\\.9.*${lab.addr.replace(/\./g, "\\.")}|${lab.addr.replace(/\./g, "\\.")}.*10\\.9\\.9\\.9`));
    } finally {
      await sambaTool(lab, ["dns", "update", lab.addr, lab.domain, "outlook", "A", "10.9.9.9", ADDRESS]);
    }
  });

  describe("the command (npx pulumi-exchange-kerberos doctor)", () => {
    const flags = (): string[] => [
      "doctor", "--no-stack", "--json",
      "--namespace", NAMESPACE, "--server", "EX1", "--server", "EX2", "--dns-address", ADDRESS, "--asa-name", ASA,
      "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile, "--ldap-bind-user", lab.adminUser, "--gc-url", lab.gcUrl,
      "--krb5-config", lab.krb5Conf, "--exchange-shell", standinExecutable(), "--https-check", "false",
    ];
    const env = (): NodeJS.ProcessEnv => ({
      ...process.env,
      EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword,
      EXCHANGE_KERBEROS_ASA_PASSWORD: PASSWORD,
      [STATE_ENV]: stateFile,
    });
    const cli = join(__dirname, "..", "..", "provider", "cli.js");

    it("exits 0 with the JSON report on a healthy rollout, and prints no secret", async () => {
      const r = await run(process.execPath, [cli, ...flags()], { env: env() });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const report = JSON.parse(r.stdout) as DoctorReport;
      assert.equal(report.ok, true);
      assert.ok(!r.stdout.includes(PASSWORD) && !r.stdout.includes(lab.adminPassword) && !r.stderr.includes(lab.adminPassword));
    });

    it("exits 1 and prints cause and fix on one line when a check fails", async () => {
      const args = flags().filter((a) => a !== "--json").map((a) => (a === ADDRESS ? "10.1.2.3" : a));
      const r = await run(process.execPath, [cli, ...args], { env: env() });
      assert.equal(r.code, 1, r.stderr + r.stdout);
      assert.match(r.stdout, /FAIL outlook\.corp\.example: \[DNS_WRONG_ADDRESS\] .*10\.0\.0\.25.* — fix: point outlook\.corp\.example at 10\.1\.2\.3/);
      assert.match(r.stdout, /Kerberos will NOT work/);
    });

    it("reads the stack's config and secrets with --stack (real pulumi CLI, local backend)", async () => {
      const pulumi = await PulumiCli.create({ project: "test/fixtures/noop-stack" });
      try {
        await pulumi.selectStack("site");
        const secrets = [`${ns}:ldapBindPassword`, `${ns}:asaPassword`];
        for (const [k, v] of Object.entries(config)) await pulumi.setConfig(k, v, { secret: secrets.includes(k) });
        const r = await run(process.execPath, [cli, "doctor", "--stack", "site", "--cwd", pulumi.projectDir, "--json"], { env: pulumi.environment({ [STATE_ENV]: stateFile }) });
        assert.equal(r.code, 0, r.stderr + r.stdout);
        const report = JSON.parse(r.stdout) as DoctorReport;
        assert.equal(report.ok, true);
        assert.equal(report.findings.filter((f) => f.check === "decrypt" && f.status === "pass").length, 1);
        assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
      } finally {
        await pulumi.dispose();
      }
    });

    it("refuses a secret given as a flag (exit 2), without echoing it", async () => {
      const code = await cliMain(["doctor", "--asa-password", "s3cret-value"]);
      assert.equal(code, 2);
    });
  });
});
