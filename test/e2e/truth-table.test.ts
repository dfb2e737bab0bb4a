// The doctor's verdict against a real client: one lab (Samba AD DC), one rollout through the real
// pulumi CLI (the site program; Exchange is the stand-in, a TEST DOUBLE), and in front of it the
// lab's real HTTPS front door — Apache with mod_auth_gssapi, one per Exchange server, on the
// addresses the namespace's DNS record holds, each with its own keytab written by
// `pulumi-exchange-kerberos keytab`. For each case, made by hand and unmade again in sequence, the
// judge is a real client: MIT kinit, the namespace resolved at the lab's DNS, then
// `curl --negotiate` to every address it resolves to. "Will work" means every address answers
// 200. The doctor (the command, --json) must agree by its exit code and name the cause.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DoctorReport } from "../../provider/doctor";
import { dig, ldapmodify, ldapsearch, rawSpn } from "../fixtures/admin-tools";
import { editServer, getServer, readState, seedServers, standinExecutable, StandinAsaCredential, StandinServer } from "../fixtures/exchange-standin/state";
import { Lab, labAddr, run, sambaTool, startLab } from "../fixtures/lab";
import { PulumiCli, REPO_ROOT } from "../fixtures/pulumi-cli";

const NAMESPACE = "outlook.corp.example";
const AUTODISCOVER = "autodiscover.corp.example";
const SPN = `HTTP/${NAMESPACE}`;
const ASA = "TT-ASA";
const SERVERS = ["EX1", "EX2"];
const P1 = "Truth-Table-Asa-1-4f0c2a9e-Kerberos!";
const P2 = "Truth-Table-Asa-2-93b1d7c5-Rotated!";
const CLI = join(REPO_ROOT, "dist", "provider", "cli.js");
const FRONTDOOR = join(REPO_ROOT, "scripts", "frontdoor");

interface Verdicts {
  doctorExit: number;
  report: DoctorReport;
  /** curl's HTTP code per address ("000" when it got no HTTP answer); none when the name does not resolve. */
  curl: Record<string, string>;
  clientWorks: boolean;
}

describe("truth table: the doctor agrees with curl --negotiate against the lab's Apache front door", function () {
  this.timeout(600_000);
  let lab: Lab;
  let cli: PulumiCli;
  let dir: string;
  let stateFile: string;
  /** The stand-in's servers as seeded, before the site existed. */
  let seeded: Record<string, StandinServer>;
  const front: Record<string, string> = {};
  const started: string[] = [];
  const times: Record<string, number> = {};

  async function frontdoor(args: string[]): Promise<void> {
    const r = await run("bash", [FRONTDOOR, ...args], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`scripts/frontdoor ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }

  /** `pulumi-exchange-kerberos keytab --stack tt -o FILE`, as an admin runs it. */
  async function keytab(file: string): Promise<void> {
    const r = await run(process.execPath, [CLI, "keytab", "--stack", "tt", "--cwd", cli.projectDir, "-o", file], { env: { ...cli.environment({ EXCHANGE_STANDIN_STATE: stateFile }) }, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`keytab failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }

  /** Writes a keytab and (re)starts the server's front door with it; extra: certificate options. */
  async function serveWithFreshKeytab(server: string, extra: string[] = []): Promise<void> {
    const file = join(dir, `${server}.keytab`);
    await keytab(file);
    await startFront(server, file, extra);
  }

  async function startFront(server: string, keytabFile: string, extra: string[] = []): Promise<void> {
    if (!started.includes(front[server])) started.push(front[server]);
    await frontdoor(["up", front[server], "--lab", lab.addr, "--keytab", keytabFile, "--name", NAMESPACE, "--name", AUTODISCOVER, ...extra]);
  }
  // Should the run end without after() (an uncaught error, process.exit), still stop them.
  const stopAll = (): void => {
    for (const addr of started.splice(0)) spawnSync("bash", [FRONTDOOR, "down", addr], { stdio: "ignore", timeout: 30_000 });
  };
  process.once("exit", stopAll);

  async function verdicts(opts: { krb5Config?: string } = {}): Promise<Verdicts> {
    const doctor = await run(process.execPath, [CLI, "doctor", "--stack", "tt", "--cwd", cli.projectDir, "--json", ...(opts.krb5Config ? ["--krb5-config", opts.krb5Config] : [])], {
      env: cli.environment({ EXCHANGE_STANDIN_STATE: stateFile }),
      timeoutMs: 120_000,
    });
    assert.ok(doctor.code === 0 || doctor.code === 1, `the doctor could not run (exit ${doctor.code}): ${doctor.stderr}`);
    const report = JSON.parse(doctor.stdout) as DoctorReport;
    // The client: a fresh TGT (with the lab's own krb5.conf), the name resolved at the lab's DNS,
    // then curl --negotiate to every address, with the client's krb5.conf for the case.
    const ccache = `FILE:${join(dir, `cc-${Date.now()}`)}`;
    const kinit = await run("kinit", [`Administrator@${lab.realm}`], { env: { ...process.env, KRB5_CONFIG: lab.krb5Conf, KRB5CCNAME: ccache, LANG: "C" }, input: `${lab.adminPassword}\n` });
    assert.equal(kinit.code, 0, kinit.stderr);
    const curl: Record<string, string> = {};
    for (const addr of dig(lab, NAMESPACE, "A").answers) {
      const r = await run(
        "curl",
        ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "--negotiate", "-u", ":", "--cacert", lab.caFile, "--resolve", `${NAMESPACE}:443:${addr}`, `https://${NAMESPACE}/mapi/`],
        { env: { ...process.env, KRB5_CONFIG: opts.krb5Config ?? lab.krb5Conf, KRB5CCNAME: ccache, LANG: "C" } },
      );
      curl[addr] = r.stdout.trim() || "000";
    }
    const codes = Object.values(curl);
    return { doctorExit: doctor.code, report, curl, clientWorks: codes.length > 0 && codes.every((c) => c === "200") };
  }

  const failing = (v: Verdicts): string[] => v.report.findings.filter((f) => f.status === "fail").map((f) => f.code);

  /** Both verdicts, then the row: they agree, and when it fails the doctor names `causes`. */
  async function row(name: string, expectWorks: boolean, causes: string[], opts: { krb5Config?: string } = {}): Promise<Verdicts> {
    const t0 = Date.now();
    const v = await verdicts(opts);
    times[name] = (Date.now() - t0) / 1000;
    const summary = `curl ${JSON.stringify(v.curl)}, doctor exit ${v.doctorExit}, failing ${JSON.stringify(failing(v))}`;
    assert.equal(v.clientWorks, expectWorks, `the case was not made as meant: ${summary}`);
    assert.equal(v.doctorExit === 0, v.clientWorks, `the doctor disagrees with curl: ${summary}`);
    for (const c of causes) assert.ok(failing(v).includes(c), `the doctor does not name ${c}: ${summary}`);
    return v;
  }

  before(async function () {
    lab = await startLab(labAddr(14));
    front.EX1 = labAddr(15);
    front.EX2 = labAddr(16);
    dir = mkdtempSync(join(tmpdir(), "truth-table-"));
    stateFile = join(dir, "standin.json");
    seeded = structuredClone(seedServers(stateFile, SERVERS.map((name) => ({ name, version: "2019" as const }))).servers);
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    await cli.selectStack("tt");
    for (const [key, value] of Object.entries(lab.stackConfig)) await cli.setConfig(key, value, { secret: key.endsWith("Password") });
    await cli.setConfig("exchange-kerberos:asaPassword", P1, { secret: true });
    const values: Record<string, string> = {
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:namespace": NAMESPACE,
      "exchange-kerberos:servers": JSON.stringify(SERVERS),
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": JSON.stringify([front.EX1, front.EX2]),
      "exchange-kerberos:asaName": ASA,
      "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
      "exchange-kerberos:extraSpnNames": JSON.stringify([AUTODISCOVER]),
      "exchange-kerberos:krb5Config": lab.krb5Conf,
      "exchange-kerberos:httpsCaFile": lab.caFile,
    };
    for (const [key, value] of Object.entries(values)) await cli.setConfig(key, value);
    const t0 = Date.now();
    await cli.up();
    times["pulumi up"] = (Date.now() - t0) / 1000;
    for (const s of SERVERS) await serveWithFreshKeytab(s);
  });

  after(async function () {
    console.log(`      wall time per row (s): ${JSON.stringify(times)}`);
    for (const addr of started.splice(0)) await run("bash", [FRONTDOOR, "down", addr]).catch(() => undefined);
    if (cli) {
      await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await cli.dispose();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the keytab command writes every SPN's AES keys at AD's key version, mode 0600, and MIT kvno -k accepts it", async () => {
    const file = join(dir, "check.keytab");
    await keytab(file);
    const mode = (await run("stat", ["-c", "%a", file])).stdout.trim();
    assert.equal(mode, "600");
    const listed = await run("klist", ["-k", "-e", file], { env: { ...process.env, KRB5_CONFIG: lab.krb5Conf } });
    for (const name of [NAMESPACE, AUTODISCOVER]) {
      for (const etype of ["aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96"]) {
        assert.match(listed.stdout, new RegExp(`HTTP/${name.replace(/\./g, "\\.")}@${lab.realm.replace(/\./g, "\\.")} \\(${etype}\\)`));
      }
    }
    const ccache = `FILE:${join(dir, "cc-keytab")}`;
    const env = { ...process.env, KRB5_CONFIG: lab.krb5Conf, KRB5CCNAME: ccache, LANG: "C" };
    assert.equal((await run("kinit", [`Administrator@${lab.realm}`], { env, input: `${lab.adminPassword}\n` })).code, 0);
    for (const spn of [SPN, `HTTP/${AUTODISCOVER}`]) {
      const k = await run("kvno", ["-k", file, spn], { env });
      assert.match(k.stdout, /keytab entry valid/, k.stderr);
    }
  });

  it("happy path: both agree it works, and check 8 passes at every address with mutual authentication", async () => {
    const v = await row("happy path", true, []);
    const endpoint = v.report.findings.filter((f) => f.check === "endpoint");
    assert.deepEqual(endpoint.map((f) => `${f.status}:${f.subject}`).sort(), [`pass:https://${NAMESPACE}/ at ${front.EX1}`, `pass:https://${NAMESPACE}/ at ${front.EX2}`]);
    assert.ok(endpoint.every((f) => /AP-REP verified/.test(f.cause)));
    assert.deepEqual(v.report.findings.filter((f) => f.status !== "pass").map((f) => f.code), [], "a healthy fresh rollout has no warnings");
  });

  it("an SPN missing", async () => {
    await sambaTool(lab, ["spn", "delete", SPN, `${ASA}$`]);
    try {
      await row("SPN missing", false, ["SPN_MISSING"]);
    } finally {
      await sambaTool(lab, ["spn", "add", SPN, `${ASA}$`]);
    }
  });

  it("a duplicate SPN", async () => {
    await sambaTool(lab, ["computer", "create", "TT-OTHER"]);
    const otherDn = `CN=TT-OTHER,CN=Computers,${lab.baseDn}`;
    await rawSpn(lab, "add", otherDn, SPN);
    try {
      await row("duplicate SPN", false, ["SPN_DUPLICATE"]);
    } finally {
      await rawSpn(lab, "delete", otherDn, SPN);
      await sambaTool(lab, ["computer", "delete", "TT-OTHER"]);
    }
  });

  it("the DNS record missing", async () => {
    for (const a of [front.EX1, front.EX2]) await sambaTool(lab, ["dns", "delete", lab.addr, lab.domain, "outlook", "A", a]);
    try {
      const v = await row("DNS record missing", false, ["DNS_NAME_MISSING"]);
      assert.deepEqual(v.curl, {}, "the client finds no address");
    } finally {
      for (const a of [front.EX1, front.EX2]) await sambaTool(lab, ["dns", "add", lab.addr, lab.domain, "outlook", "A", a]);
    }
  });

  it("the KDC unreachable (a krb5.conf naming a KDC address where nothing listens, for both)", async () => {
    const conf = join(dir, "krb5-no-kdc.conf");
    writeFileSync(conf, readFileSync(lab.krb5Conf, "utf8").replace(new RegExp(`(kdc|admin_server|kpasswd_server) = ${lab.addr.replace(/\./g, "\\.")}`, "g"), `$1 = ${labAddr(17)}`));
    await row("KDC unreachable", false, ["KERBEROS_LOGON_FAILED"], { krb5Config: conf });
  });

  it("a certificate that does not cover the namespace", async () => {
    await serveWithFreshKeytab("EX1", ["--cert-name", `mail.${lab.domain}`]);
    try {
      const v = await row("certificate not covering the namespace", false, ["CERT_NAME_MISMATCH"]);
      assert.equal(v.curl[front.EX2], "200");
      assert.ok(v.report.findings.some((f) => f.code === "CERT_NAME_MISMATCH" && f.subject.includes(front.EX1)));
    } finally {
      await serveWithFreshKeytab("EX1");
    }
  });

  it("an expired certificate", async () => {
    await serveWithFreshKeytab("EX2", ["--cert-expired"]);
    try {
      const v = await row("expired certificate", false, ["CERT_EXPIRED"]);
      assert.ok(v.report.findings.some((f) => f.code === "CERT_EXPIRED" && f.subject.includes(front.EX2)));
    } finally {
      await serveWithFreshKeytab("EX2");
    }
  });

  it("an RC4-only ASA (its password set again while RC4-only), then AES repaired without a password change", async () => {
    const asaDn = `CN=${ASA},OU=Service Accounts,${lab.baseDn}`;
    ldapmodify(lab, `dn: ${asaDn}\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 4\n`);
    // The same password set again by hand while RC4-only: AD's keys (and kvno) now come from a set
    // made with the attribute at 4, and the front doors get keytabs for that kvno.
    const pwd = Buffer.from(`"${P1}"`, "utf16le").toString("base64");
    ldapmodify(lab, `dn: ${asaDn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: ${pwd}\n`);
    // The Exchange servers (the stand-in's) already hold that password, bound before this set: the
    // doctor must judge them by the password they hold, not by when they got it.
    for (const s of SERVERS) await serveWithFreshKeytab(s);
    const rc4 = await row("RC4-only ASA", false, ["ASA_NO_AES", "RC4_TICKET"]);
    assert.match(rc4.report.findings.find((f) => f.check === "ticket")!.cause, /rc4-hmac/);
    ldapmodify(lab, `dn: ${asaDn}\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n`);
    const aes = await row("AES repaired without a password change", true, []);
    assert.match(aes.report.findings.find((f) => f.check === "ticket")!.cause, /aes256-cts-hmac-sha1-96/);
    assert.ok(!failing(aes).includes("ASA_KEYS_PREDATE_AES"));
  });

  it("one server with a stale keytab after a rotation", async () => {
    // EX2 misses the rotation: its front door keeps the old keytab, and the stand-in's EX2 is put
    // back to the credentials it held before (as a server restored from a backup would be).
    const before: StandinAsaCredential[] = structuredClone(getServer(stateFile, "EX2").asa);
    await cli.setConfig("exchange-kerberos:asaPassword", P2, { secret: true });
    const t0 = Date.now();
    await cli.up();
    times["pulumi up (rotation)"] = (Date.now() - t0) / 1000;
    editServer(stateFile, "EX2", (s) => (s.asa = before));
    await serveWithFreshKeytab("EX1");
    const v = await row("stale keytab after a rotation", false, ["TOKEN_REJECTED", "SERVER_ASA_STALE"]);
    assert.deepEqual(v.report.findings.filter((f) => f.code === "SERVER_ASA_STALE").map((f) => f.subject), ["EX2"]);
    assert.equal(v.curl[front.EX1], "200");
    assert.equal(v.curl[front.EX2], "401");
    const rejected = v.report.findings.find((f) => f.code === "TOKEN_REJECTED")!;
    assert.ok(rejected.subject.includes(front.EX2), rejected.subject);
    assert.match(rejected.cause, /does not hold that key/);
    assert.ok(!v.report.findings.some((f) => f.code === "TOKEN_REJECTED" && f.subject.includes(front.EX1)));
  });

  it("destroy of the site the stack created: no record, no SPN, no credential, every server as before; the front door still answers, and no client gets a ticket no server can use", async () => {
    const t0 = Date.now();
    await cli.destroy();
    times["pulumi destroy"] = (Date.now() - t0) / 1000;
    assert.strictEqual(dig(lab, NAMESPACE, "A").status, "NXDOMAIN", "the record the stack created is deleted");
    assert.deepEqual(ldapsearch(lab, lab.baseDn, `(|(servicePrincipalName=${SPN})(sAMAccountName=${ASA}$))`, ["dn"]), [], "no SPN, no ASA");
    assert.deepEqual(readState(stateFile).servers, seeded, "every server's URLs, Negotiate and credentials as before the site");
    // No SPN: the KDC issues no ticket for the namespace, so Negotiate falls back to NTLM — never a
    // ticket for a key no server holds (KRB_AP_ERR_MODIFIED, which does not fall back).
    const ccache = `FILE:${join(dir, "cc-destroyed")}`;
    const env = { ...process.env, KRB5_CONFIG: lab.krb5Conf, KRB5CCNAME: ccache, LANG: "C" };
    assert.equal((await run("kinit", [`Administrator@${lab.realm}`], { env, input: `${lab.adminPassword}\n` })).code, 0);
    const k = await run("kvno", [SPN], { env });
    assert.notEqual(k.code, 0);
    assert.match(k.stderr, /not found in Kerberos database/, k.stderr);
    // The front door (a server) still answers a client that reaches it, offering Negotiate.
    const r = await run("curl", ["-s", "-o", "/dev/null", "-D", "-", "--max-time", "20", "--cacert", lab.caFile, "--resolve", `${NAMESPACE}:443:${front.EX1}`, `https://${NAMESPACE}/mapi/`], { env });
    assert.match(r.stdout, /^HTTP\/\S+ 401/m, r.stdout);
    assert.match(r.stdout, /^www-authenticate: Negotiate/im, r.stdout);
  });
});
