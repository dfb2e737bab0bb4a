// A lab as real as a production forest: two domain controllers with DRS replication between them
// (the second joined with `samba-tool domain join … DC`), the stack bound as a least-privilege
// account (svc-rollout: exactly the rights of docs/guides/delegate-the-bind-account.md), writing to DC1, while DNS,
// the KDC and the Global Catalog are DC2 — as a client in another part of the site sees them.
// DC1 is made a non-GC DC (its nTDSDSA options without IS_GC, its _gc._tcp record gone), so the
// provider must find the GC through _gc._tcp. Replication into DC2 is paused on purpose to make
// the lag a real forest has: the doctor then says "pending" (exit 3) with when to look again, not
// a failure; `drift` does not call it drift; after replication resumes, everything is ok.
//
// What Samba cannot play, and what stands in for it: Windows DNS's DsPollingInterval (Samba's DNS
// answers from its own database at once: the DNS answer of the DC that has not replicated yet is
// the stand-in, and the doctor's verdict is the same for either cause); a DC that is no GC (Samba
// serves 3268/3269 whatever its options: the RootDSE's isGlobalCatalogReady FALSE and the
// _gc._tcp records are what the provider reads, as on Windows).
//
// One two-DC lab for the whole file (the join takes about 16 s). Wall time on this 2-vCPU machine:
// see the step times printed at the end (about 2½ minutes with nothing else running).
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { encodeUnicodePwd } from "../../provider/ldap/unicode-pwd";
import { dig, ldapmodify } from "../fixtures/admin-tools";
import { delegate, joinLab, Lab, labAddr, replication, ROLLOUT_PASSWORD, ROLLOUT_USER, run, sambaTool, startLab } from "../fixtures/lab";
import { PulumiCli, REPO_ROOT, resourcesOf } from "../fixtures/pulumi-cli";
import { readState, seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import { stepTimes } from "../fixtures/step-times";
import type { DoctorReport } from "../../provider/doctor";
import type { DriftReport } from "../../provider/drift";

const STACK = "two-dc";
const CLI_JS = path.join(REPO_ROOT, "dist", "provider", "cli.js");
const { times, timed } = stepTimes();

describe("two DCs with replication, a least-privilege bind account (real pulumi CLI, Exchange stand-in)", function () {
  this.timeout(900_000);
  let dc1: Lab;
  let dc2: Lab;
  let cli: PulumiCli;
  let stateFile: string;
  const namespace = () => `outlook.${dc1.domain}`;

  async function tool(args: string[]): Promise<{ code: number; out: string; json: unknown }> {
    const r = await run(process.execPath, [CLI_JS, ...args, "--stack", STACK, "--cwd", cli.projectDir], { env: cli.environment(), timeoutMs: 180_000 });
    let json: unknown;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      json = undefined;
    }
    return { code: r.code, out: r.stdout + r.stderr, json };
  }
  const doctor = async () => {
    const r = await tool(["doctor", "--json"]);
    return { ...r, report: r.json as DoctorReport };
  };
  const codesOf = (r: DoctorReport, status: string) => r.findings.filter((f) => f.status === status).map((f) => `${f.check}:${f.code}`);

  /** A user with a password, created over LDAPS (the LDIF on stdin, never in argv). */
  function createUser(name: string, password: string): void {
    ldapmodify(dc1, [`dn: CN=${name},OU=Service Accounts,${dc1.baseDn}`, "changetype: add", "objectClass: user", `sAMAccountName: ${name}`, "userAccountControl: 512", `unicodePwd:: ${encodeUnicodePwd(password).toString("base64")}`, ""].join("\n"));
  }

  before(async function () {
    dc1 = await timed("lab DC1", () => startLab(labAddr(40)));
    dc2 = await timed("join DC2", () => joinLab(dc1, labAddr(41)));
    // DC1 is no Global Catalog: its options lose IS_GC and its _gc._tcp record goes (Windows'
    // netlogon deregisters it), so the forest's only GC is DC2.
    await sambaTool(dc1, ["drs", "options", dc1.addr, "--dsa-option=-IS_GC"]);
    await sambaTool(dc1, ["dns", "delete", dc1.addr, dc1.domain, "_gc._tcp", "SRV", `${dc1.dcHost} 3268 0 100`]);
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }]);
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    await cli.selectStack(STACK);
    const ns = "exchange-kerberos";
    const config: Record<string, string> = {
      [`${ns}:ldapUrl`]: dc1.ldapUrl, // where the stack writes
      [`${ns}:ldapCaFile`]: dc1.caFile,
      [`${ns}:ldapBindUser`]: `${ROLLOUT_USER}@${dc1.domain}`,
      [`${ns}:kerberosUser`]: `Administrator@${dc1.realm}`,
      [`${ns}:dnsServer`]: dc2.addr, // what the clients ask: DC2's DNS
      [`${ns}:krb5Config`]: dc2.krb5Conf, // and DC2's KDC (the user names another KDC)
      [`${ns}:httpsCheck`]: "false",
      [`${ns}:exchangeShell`]: standinExecutable(),
      [`${ns}:namespace`]: namespace(),
      [`${ns}:servers`]: JSON.stringify(["EX1", "EX2"]),
      [`${ns}:dnsZone`]: dc1.domain,
      [`${ns}:dnsAddresses`]: JSON.stringify(["192.0.2.41", "192.0.2.42"]),
      [`${ns}:asaName`]: "TWODC-ASA",
      [`${ns}:asaOu`]: `OU=Service Accounts,${dc1.baseDn}`,
    };
    for (const [k, v] of Object.entries(config)) await cli.setConfig(k, v);
    await cli.setConfig(`${ns}:ldapBindPassword`, ROLLOUT_PASSWORD, { secret: true });
    await cli.setConfig(`${ns}:kerberosPassword`, dc1.adminPassword, { secret: true });
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    if (!cli) return;
    if (dc2) await replication(dc2, "resume").catch(() => undefined);
    await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
    await cli.dispose();
  });

  it("a bind account missing one right (Write servicePrincipalName) is refused at preview, naming it; nothing changes", async function () {
    const user = "svc-rollout-nospn";
    createUser(user, "Lab-only nospn 2026!");
    await delegate(dc1, user, "write-spn");
    await cli.setConfig("exchange-kerberos:ldapBindUser", `${user}@${dc1.domain}`);
    await cli.setConfig("exchange-kerberos:ldapBindPassword", "Lab-only nospn 2026!", { secret: true });
    try {
      const r = await timed("preview (a right missing)", () => cli.preview([], { okCodes: [255, 1] }));
      const out = r.stdout + r.stderr;
      assert.match(out, new RegExp(`the bind user ${user}@${dc1.domain.replace(/\./g, "\\.")} may not write servicePrincipalName`), out);
      assert.match(out, /dsacls "OU=Service Accounts,[^"]*" \/I:S \/G "[^"]*:WP;servicePrincipalName;computer"/, out);
      assert.doesNotMatch(out, /may not (create|delete|reset|write (msDS|adminDescription|description))/, "only the missing right is named");
      assert.deepStrictEqual(resourcesOf(await cli.exportStack()), []);
    } finally {
      await cli.setConfig("exchange-kerberos:ldapBindUser", `${ROLLOUT_USER}@${dc1.domain}`);
      await cli.setConfig("exchange-kerberos:ldapBindPassword", ROLLOUT_PASSWORD, { secret: true });
    }
  });

  it("up as svc-rollout while DC2 lags: the doctor says pending (DNS, GC, KDC) and when to look again, refresh keeps every resource, drift is not drift; once replicated, ok", async function () {
    await replication(dc2, "pause");
    try {
      await pausedRollout();
    } finally {
      await replication(dc2, "resume");
    }
    await timed("replicate", () => replication(dc2, "sync"));
    const ok = await timed("doctor (replicated)", () => doctor());
    assert.strictEqual(ok.code, 0, ok.out);
    assert.deepStrictEqual(dig(dc2, namespace(), "A").answers, ["192.0.2.41", "192.0.2.42"]);
  });

  async function pausedRollout(): Promise<void> {
    await timed("up (DC2 paused)", () => cli.up());
    assert.deepStrictEqual(dig(dc1, namespace(), "A").answers, ["192.0.2.41", "192.0.2.42"], "DC1 serves what was written");
    assert.strictEqual(dig(dc2, namespace(), "A").status, "NXDOMAIN", "DC2 has not replicated it");

    const d = await timed("doctor (pending)", () => doctor());
    assert.strictEqual(d.code, 3, d.out);
    assert.deepStrictEqual(codesOf(d.report, "fail"), [], d.out);
    const pending = codesOf(d.report, "pending");
    for (const code of ["dns:DNS_REPLICATION_PENDING", "spn:SPN_REPLICATION_PENDING", "ticket:KDC_REPLICATION_PENDING"]) assert.ok(pending.includes(code), `${code} in ${pending.join(", ")}`);
    const dnsFinding = d.report.findings.find((f) => f.code === "DNS_REPLICATION_PENDING")!;
    assert.match(dnsFinding.cause, new RegExp(`ldaps://${dc1.addr.replace(/\./g, "\\.")} \\(the DC the stack writes to\\) holds 192\\.0\\.2\\.41, 192\\.0\\.2\\.42`));
    assert.match(dnsFinding.fix!, /^run the doctor again in \d+ s$/);
    assert.ok(d.report.retryAfterSeconds! > 0 && d.report.retryAfterSeconds! <= 195, String(d.report.retryAfterSeconds));

    // The SPN is on DC1, not yet on the GC (DC2): refresh reads the ASA's own SPNs from DC1.
    await timed("preview --refresh (DC2 paused)", () => cli.preview(["--refresh", "--expect-no-changes"]));
    const drift = await timed("drift (DC2 paused)", () => tool(["drift", "--json"]));
    const report = drift.json as DriftReport;
    assert.strictEqual(drift.code, 0, drift.out);
    assert.strictEqual(report.stacks[0].status, "pending", drift.out);
    assert.deepStrictEqual(report.stacks[0].findings, [], drift.out);
  }

  it("a rotation as svc-rollout: DC2's KDC still issues tickets with the old key (pending, not a wrong password), then the new one", async function () {
    await replication(dc2, "pause");
    try {
      await cli.setConfig("exchange-kerberos:asaPassword", `Rotated-two-dc-${Date.now()}!`, { secret: true });
      await timed("up (rotation, DC2 paused)", () => cli.up());
      const d = await timed("doctor (rotation pending)", () => doctor());
      assert.strictEqual(d.code, 3, d.out);
      assert.ok(codesOf(d.report, "pending").includes("decrypt:KDC_REPLICATION_PENDING"), d.out);
      assert.deepStrictEqual(codesOf(d.report, "fail"), [], d.out);
      assert.ok(!d.report.findings.some((f) => f.code === "KRB_AP_ERR_MODIFIED" || f.code === "STALE_TICKET"), d.out);
    } finally {
      await replication(dc2, "resume");
    }
    await replication(dc2, "sync");
    const ok = await timed("doctor (rotation replicated)", () => doctor());
    assert.strictEqual(ok.code, 0, ok.out);
  });

  it("a takeover as svc-rollout: an ASA, its SPN and the record made by hand by an admin are adopted, and destroy with onDestroy delete removes them", async function () {
    await timed("destroy", () => cli.destroy());
    const ou = `OU=Service Accounts,${dc1.baseDn}`;
    await sambaTool(dc1, ["computer", "create", "TAKE-ASA", `--computerou=OU=Service Accounts`]);
    // In use, as an ASA is: enabled (samba-tool creates it disabled; ADUC's New Computer does not).
    ldapmodify(dc1, `dn: CN=TAKE-ASA,${ou}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 4096\n`);
    await sambaTool(dc1, ["spn", "add", `HTTP/take.${dc1.domain}`, "TAKE-ASA$"]);
    await sambaTool(dc1, ["dns", "add", dc1.addr, dc1.domain, "take", "A", "192.0.2.43"]);
    await cli.setConfig("exchange-kerberos:namespace", `take.${dc1.domain}`);
    await cli.setConfig("exchange-kerberos:asaName", "TAKE-ASA");
    await cli.setConfig("exchange-kerberos:dnsAddresses", JSON.stringify(["192.0.2.43"]));
    await cli.setConfig("exchange-kerberos:adopt", "true");
    await cli.run(["config", "rm", "exchange-kerberos:asaPassword", "--stack", STACK]);
    await timed("up (takeover)", () => cli.up());
    await timed("preview (after takeover)", () => cli.preview(["--expect-no-changes"]));
    await replication(dc2, "sync");
    const d = await timed("doctor (takeover)", () => doctor());
    assert.strictEqual(d.code, 0, d.out);
    for (const s of Object.values(readState(stateFile).servers)) assert.strictEqual(s.asa[0]?.userName, `${dc1.netbios}\\TAKE-ASA$`, s.name);
    // By default destroy would release what existed before the stack (docs/reference/lifecycle.md);
    // onDestroy delete, recorded by an up, has it deleted: the delegated Delete right at work.
    await cli.setConfig("exchange-kerberos:onDestroy", "delete");
    await timed("up (onDestroy delete)", () => cli.up());
    await timed("destroy (takeover)", () => cli.destroy());
    const gone = await sambaTool(dc1, ["computer", "show", "TAKE-ASA"]).then(() => false, () => true);
    assert.ok(gone, `destroy as svc-rollout deleted the adopted ASA in ${ou}`);
  });
});
