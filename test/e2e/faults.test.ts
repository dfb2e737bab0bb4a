// Faults converge: the site stack through the real pulumi CLI against a lab Samba AD DC and the
// Exchange stand-in (a TEST DOUBLE for Exchange), with the DC failing at chosen writes (a TLS proxy
// in front of its LDAPS port: killed before the write, killed after the commit so the answer is
// lost, or hung until ldapTimeoutMs), the Exchange session dying at each write, a rotation failing
// on one server twice, a server decommissioned, and the Exchange endpoint changed. After each: the
// next `up` (or `destroy`) converges, `pulumi refresh --expect-no-changes` passes, and the DC's
// service-account OU, the zone and the SPN holders hold exactly what state says, nothing orphaned.
// One lab, one stack, reused across the cases in order.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kinit, Lab, labAddr, run, startLab } from "../fixtures/lab";
import { LdapFaultProxy } from "../fixtures/ldap-fault-proxy";
import { CliResult, PulumiCli, resourcesOf } from "../fixtures/pulumi-cli";
import { getServer, mutateState, newServer, readTranscript, seedServers, setFaults, standinExecutable } from "../fixtures/exchange-standin/state";

const NAMESPACE = "outlook.corp.example";
const AUTODISCOVER = "autodiscover.corp.example";
const ADDRESSES = ["192.0.2.21", "192.0.2.22"];
const SERVERS = ["EX1", "EX2"];
const ASA = "EXCH-ASA";
const PROXY_PORT = 1636;
const P1 = "First-Pass-1-„quoted“-$x";
const P2 = "Second-Pass-2-`tick`";
const P3 = "Third-Pass-3-‘single’";

const times: Record<string, number> = {};

describe("faults converge (real pulumi CLI, lab DC behind a fault proxy, Exchange stand-in)", function () {
  this.timeout(600_000);

  let lab: Lab;
  let proxy: LdapFaultProxy;
  let cli: PulumiCli;
  let stateFile: string;
  let ccacheDir: string;
  /** What the DC held before the stack existed: the suite's baseline for "nothing orphaned". */
  let baseline: Inventory;

  const t0 = new Map<string, number>();
  beforeEach(function () {
    t0.set(this.currentTest?.title ?? "", Date.now());
  });
  afterEach(function () {
    const title = this.currentTest?.title ?? "";
    times[title] = (Date.now() - (t0.get(title) ?? Date.now())) / 1000;
    setFaults(stateFile, undefined);
    proxy?.arm();
  });

  before(async function () {
    lab = await startLab(labAddr(13));
    proxy = await LdapFaultProxy.start(lab, PROXY_PORT);
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-faults-")), "state.json");
    ccacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "faults-cc-"));
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2013" }, { name: "EX3", version: "2016" }]);
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    await cli.selectStack("faults");
    for (const [key, value] of Object.entries(lab.stackConfig)) await cli.setConfig(key, value, { secret: key.endsWith("Password") });
    await cli.setAllConfig({
      "exchange-kerberos:ldapUrl": proxy.url,
      "exchange-kerberos:ldapTimeoutMs": "5000",
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:namespace": NAMESPACE,
      "exchange-kerberos:servers": JSON.stringify(SERVERS),
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": JSON.stringify(ADDRESSES),
      "exchange-kerberos:asaName": ASA,
      "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
      "exchange-kerberos:extraSpnNames": JSON.stringify([AUTODISCOVER]),
    });
    await cli.setConfig("exchange-kerberos:asaPassword", P1, { secret: true });
    baseline = await inventory(lab);
  });

  after(async function () {
    console.log(`      wall time per case (s): ${JSON.stringify(times)}`);
    if (cli) {
      setFaults(stateFile, undefined);
      proxy?.arm();
      await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await cli.dispose();
    }
    await proxy?.close();
    if (ccacheDir) fs.rmSync(ccacheDir, { recursive: true, force: true });
  });

  // ---- the user's commands ----------------------------------------------------------------

  /** `pulumi up` as users run it (the preview first). */
  function up(opts: { fail?: boolean } = {}): Promise<CliResult> {
    return cli.run(["up", "--yes", "--stack", "faults"], { okCodes: opts.fail ? [255, 1] : [0] });
  }
  function destroy(opts: { fail?: boolean } = {}): Promise<CliResult> {
    return cli.run(["destroy", "--yes", "--stack", "faults"], { okCodes: opts.fail ? [255, 1] : [0] });
  }

  /** Each provider error once, on one line, without a stack trace. */
  function assertCleanError(r: CliResult, cause: RegExp): void {
    const out = `${r.stdout}\n${r.stderr}`;
    assert.match(out, cause, out);
    assert.doesNotMatch(out, /^\s+at .+\(.+:\d+:\d+\)$/m, `a stack trace:\n${out}`);
    assert.doesNotMatch(out, /(\w+Error): [^\n]*: \1: /, `an error printed twice:\n${out}`);
  }

  // ---- what the DC holds -------------------------------------------------------------------

  interface Inventory {
    ou: string[];
    zone: string[];
    spnHolders: Record<string, string[]>;
  }

  async function ldapsearch(base: string, scope: string, filter: string, attrs: string[]): Promise<string> {
    const r = await run("ldapsearch", ["-LLL", "-o", "ldif-wrap=no", "-H", lab.ldapUrl, "-x", "-D", lab.adminUser, "-y", path.join(lab.dir, "admin-password"), "-b", base, "-s", scope, filter, ...attrs], {
      env: { ...process.env, LDAPTLS_CACERT: lab.caFile },
    });
    if (r.code !== 0 && r.code !== 32) throw new Error(`ldapsearch ${base} ${filter}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  function dns(ldif: string): string[] {
    return ldif.split("\n").filter((l) => l.startsWith("dn: ")).map((l) => l.slice(4).toLowerCase()).sort();
  }

  /** The service-account OU, the zone's live nodes, and who holds each of our SPNs, from the DC. */
  async function inventory(l: Lab): Promise<Inventory> {
    const ou = dns(await ldapsearch(`OU=Service Accounts,${l.baseDn}`, "one", "(objectClass=*)", ["dn"]));
    const zone = dns(await ldapsearch(`DC=${l.domain},CN=MicrosoftDNS,DC=DomainDnsZones,${l.baseDn}`, "one", "(!(dNSTombstoned=TRUE))", ["dn"]));
    const spnHolders: Record<string, string[]> = {};
    for (const host of [NAMESPACE, AUTODISCOVER]) {
      spnHolders[`HTTP/${host}`] = dns(await ldapsearch(l.baseDn, "sub", `(servicePrincipalName=HTTP/${host})`, ["dn"]));
    }
    return { ou, zone, spnHolders };
  }

  const asaDn = () => `cn=${ASA.toLowerCase()},ou=service accounts,${lab.baseDn.toLowerCase()}`;
  const nodeDn = () => `dc=outlook,dc=${lab.domain},cn=microsoftdns,dc=domaindnszones,${lab.baseDn.toLowerCase()}`;

  /** Rolled out: the baseline plus exactly our account, our record's node, our two SPNs on it. */
  function expectedUp(): Inventory {
    return {
      ou: [...baseline.ou, asaDn()].sort(),
      zone: [...baseline.zone, nodeDn()].sort(),
      spnHolders: { [`HTTP/${NAMESPACE}`]: [asaDn()], [`HTTP/${AUTODISCOVER}`]: [asaDn()] },
    };
  }

  /** AD holds this password for the ASA: the KDC gives the ASA a ticket for it (MIT kinit). */
  async function adHolds(password: string): Promise<boolean> {
    try {
      await kinit(lab, `${ASA}$@${lab.realm}`, password, path.join(ccacheDir, `cc-${Date.now()}`));
      return true;
    } catch {
      return false;
    }
  }

  /** Every server holds AD's password (`password`) among its ASA credentials, and nothing foreign. */
  function serversHold(password: string, servers = SERVERS): void {
    for (const s of servers) {
      const asa = getServer(stateFile, s).asa;
      assert.ok(asa.some((c) => c.password === password), `${s} does not hold AD's current password (holds ${asa.length} credential(s))`);
      assert.ok(asa.every((c) => c.userName === `${lab.netbios}\\${ASA}$`), `${s} holds a foreign credential`);
    }
  }

  /** After a fault: refresh finds nothing to change, the DC holds exactly what state says. */
  async function assertConverged(expectPassword = P1): Promise<void> {
    await cli.run(["refresh", "--yes", "--expect-no-changes", "--stack", "faults"]);
    assert.deepStrictEqual(await inventory(lab), expectedUp(), "the DC holds exactly the rollout: nothing orphaned, nothing missing");
    const state = await cli.exportStack();
    const type = (t: string) => resourcesOf(state, `pulumi-nodejs:dynamic/exchange-kerberos:${t}`);
    assert.equal(type("AsaComputerAccount").length, 1);
    assert.equal(String(type("AsaComputerAccount")[0].outputs?.dn).toLowerCase(), asaDn());
    assert.equal(type("DnsRecord").length, 1);
    assert.equal(type("Spn").length, 2);
    assert.equal(type("AsaBinding").length, SERVERS.length);
    assert.equal(type("ExchangeVirtualDirectoryUrls").length, SERVERS.length);
    assert.equal(type("OutlookAnywhereAuth").length, SERVERS.length);
    assert.deepStrictEqual(state.deployment.pending_operations ?? [], []);
    assert.ok(await adHolds(expectPassword), "AD holds the declared password");
    serversHold(expectPassword);
  }

  async function assertGone(): Promise<void> {
    assert.deepStrictEqual(await inventory(lab), baseline, "destroy left nothing behind");
    assert.equal(resourcesOf(await cli.exportStack()).length, 0, "state is empty");
    for (const s of SERVERS) assert.deepStrictEqual(getServer(stateFile, s).asa, [], `${s} still holds an ASA credential`);
  }

  // ---- the cases ---------------------------------------------------------------------------

  it("the DC killed at a write of up (the ASA's add): the error names the DC once, and the next up converges", async function () {
    proxy.arm({ op: "add", dn: /^CN=EXCH-ASA,/i, mode: "kill" });
    const r = await up({ fail: true });
    assert.deepStrictEqual(proxy.pending(), [], `the fault fired:\n${r.stdout}${r.stderr}`);
    assertCleanError(r, /connection to .* failed|cannot reach/);
    await up();
    await assertConverged();
  });

  it("the DC killed at a write of destroy (an SPN's removal): the next destroy converges", async function () {
    proxy.arm({ op: "modify", dn: /^CN=EXCH-ASA,/i, mode: "kill" });
    const r = await destroy({ fail: true });
    assert.deepStrictEqual(proxy.pending(), [], `the fault fired:\n${r.stdout}${r.stderr}`);
    assertCleanError(r, /connection to .* failed|cannot reach/);
    await destroy();
    await assertGone();
  });

  it("an answer lost after a commit: DNS record (the node's add committed, the answer lost): the next up recognises it", async function () {
    // An add on a fresh zone; a modify where an earlier destroy left the node tombstoned.
    proxy.arm({ op: ["add", "modify"], dn: /^DC=outlook,/i, mode: "lose" });
    const r = await up({ fail: true });
    assert.deepStrictEqual(proxy.pending(), [], `the fault fired:\n${r.stdout}${r.stderr}`);
    assertCleanError(r, /connection to .* failed|cannot reach/);
    assert.deepStrictEqual((await inventory(lab)).zone, [...baseline.zone, nodeDn()].sort(), "the record was committed");
    await up();
    await assertConverged();
  });

  it("an answer lost after a commit: ASA (the account's add committed, the answer lost): the next up recognises it", async function () {
    await destroy();
    proxy.arm({ op: "add", dn: /^CN=EXCH-ASA,/i, mode: "lose" });
    const r = await up({ fail: true });
    assert.deepStrictEqual(proxy.pending(), [], `the fault fired:\n${r.stdout}${r.stderr}`);
    assertCleanError(r, /connection to .* failed|cannot reach/);
    assert.ok((await inventory(lab)).ou.includes(asaDn()), "the account was committed");
    await up();
    await assertConverged();
  });

  it("an answer lost after a commit: SPN (the value's add committed, the answer lost): the next up recognises it", async function () {
    await destroy();
    // The first modify of the account is AD's password (AsaPassword); the next ones add the SPNs.
    proxy.arm({ op: "modify", dn: /^CN=EXCH-ASA,/i, mode: "lose", skip: 1 });
    const r = await up({ fail: true });
    assert.deepStrictEqual(proxy.pending(), [], `the fault fired:\n${r.stdout}${r.stderr}`);
    assertCleanError(r, /connection to .* failed|cannot reach/);
    await up();
    await assertConverged();
  });

  it("the DC hung at a write of up (AD's password set): ldapTimeoutMs gives up, and the next up converges", async function () {
    await destroy();
    proxy.arm({ op: "modify", dn: /^CN=EXCH-ASA,/i, mode: "hang" });
    const r = await up({ fail: true });
    assert.deepStrictEqual(proxy.pending(), [], `the fault fired:\n${r.stdout}${r.stderr}`);
    assertCleanError(r, /timed out|timeout|connection to .* failed/i);
    await up();
    await assertConverged();
  });

  it("the DC hung at a write of destroy (the DNS record's removal): the next destroy converges", async function () {
    proxy.arm({ op: "modify", dn: /^DC=outlook,/i, mode: "hang" });
    const r = await destroy({ fail: true });
    assert.deepStrictEqual(proxy.pending(), [], `the fault fired:\n${r.stdout}${r.stderr}`);
    assertCleanError(r, /timed out|timeout|connection to .* failed/i);
    await destroy();
    await assertGone();
  });

  it("the Exchange session dying at each write (after committing, the answer lost): each write is sent again on a new session, and up converges", async function () {
    await destroy();
    const before = structuredClone(getServer(stateFile, "EX2").vdirs);
    // On EX1 the session dies after committing each kind of write; on EX2 the URL write fails:
    // that create is recorded half-made (Pulumi's partial state), with the URLs found before it.
    const writes = ["Set-EkVdirUrls", "Set-EkAsaCredential", "Set-EkOutlookAuth"];
    setFaults(stateFile, { exitOnOperation: writes, exitOnce: true, exitAfterCommit: true, failOnOperation: { operation: "Set-EkVdirUrls", server: "EX2" } });
    const r = await up({ fail: true });
    assertCleanError(r, /EX2/);
    const half = resourcesOf(await cli.exportStack(), "pulumi-nodejs:dynamic/exchange-kerberos:ExchangeVirtualDirectoryUrls").find((x) => x.outputs?.server === "EX2");
    assert.ok(half, "EX2's URLs are in state after the failed create");
    assert.equal((half.outputs?.originals as Record<string, unknown>)["owa.internalUrl"], before.owa.internalUrl, "with the URLs found before");
    setFaults(stateFile, { exitOnOperation: writes, exitOnce: true, exitAfterCommit: true });
    await up();
    const died = readTranscript(stateFile).flatMap((e) => (e.t === "exit" && /after commit/.test(e.reason) ? [e.reason] : []));
    for (const w of writes) assert.ok(died.some((x) => x.includes(w)), `the session died after committing ${w}: ${died.join("; ")}`);
    await assertConverged();
  });

  it("a rotation failing on one server, twice in a row with different passwords: every server keeps AD's password, and the next up rotates", async function () {
    setFaults(stateFile, { failOnOperation: { operation: "Set-EkAsaCredential", server: "EX2" } });
    for (const next of [P2, P3]) {
      await cli.setConfig("exchange-kerberos:asaPassword", next, { secret: true });
      const r = await up({ fail: true });
      assertCleanError(r, /EX2/);
      assert.ok(await adHolds(P1), "AD still holds the first password");
      serversHold(P1);
    }
    setFaults(stateFile, undefined);
    await up();
    assert.ok(!(await adHolds(P1)), "AD no longer holds the first password");
    for (const s of SERVERS) assert.equal(getServer(stateFile, s).asa[0].password, P3, `${s}'s latest credential is the new password`);
    await assertConverged(P3);
  });

  it("exchangeEndpoint changed before refresh: refresh uses the current endpoint, not the one of the last up", async function () {
    await cli.setConfig("exchange-kerberos:exchangeEndpoint", "EX3");
    await up();
    // EX3 is decommissioned; the admin points the stack at EX1.
    mutateState(stateFile, (s) => void delete s.servers.ex3);
    await cli.setConfig("exchange-kerberos:exchangeEndpoint", "EX1");
    await assertConverged(P3);
  });

  it("a server decommissioned before destroy (and exchangeEndpoint changed before destroy): destroy succeeds, warning that EX2 is already gone", async function () {
    // Back to an endpoint that is then decommissioned, so that destroy must take the current one.
    mutateState(stateFile, (s) => void (s.servers.ex3 = newServer({ name: "EX3", version: "2016" })));
    await cli.setConfig("exchange-kerberos:exchangeEndpoint", "EX3");
    await up();
    mutateState(stateFile, (s) => {
      delete s.servers.ex3;
      delete s.servers.ex2;
    });
    await cli.setConfig("exchange-kerberos:exchangeEndpoint", "EX1");
    const r = await destroy();
    assert.match(`${r.stdout}\n${r.stderr}`, /EX2.*(already gone|does not exist|no longer exists)/i);
    assert.deepStrictEqual(await inventory(lab), baseline, "destroy left nothing behind in AD");
    assert.equal(resourcesOf(await cli.exportStack()).length, 0, "state is empty");
    assert.deepStrictEqual(getServer(stateFile, "EX1").asa, []);
  });
});
