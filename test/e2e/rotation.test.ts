// The ASA password on a schedule (issue 27), through the real pulumi CLI: a site whose stack has
// asaPasswordMaxAgeDays, its state in PostgreSQL, the lab DC (its LDAP through the fault proxy, so a
// rotation can be stopped between the servers and AD) and the Exchange stand-in (a TEST DOUBLE).
// AD's pwdLastSet is made old with the DC's own database (admin-tools setPwdLastSet): over LDAP
// Samba, like Windows, takes only 0 and -1. The rotation job is the CI example's run line, as written.
// The cases share one site but not their outcome: each sets the password's age it needs, and a case
// that fails (or leaves the site off its baseline: a given password) makes the next one reset it
// first (the lock and pending operations cleared, the baseline config, an up). Run alone (--grep),
// each passes or fails by itself.
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { setPwdLastSet } from "../fixtures/admin-tools";
import { Lab, labAddr, startLab } from "../fixtures/lab";
import { LdapFaultProxy } from "../fixtures/ldap-fault-proxy";
import { Postgres, startPostgres } from "../fixtures/postgres";
import { CliResult, PulumiCli, REPO_ROOT } from "../fixtures/pulumi-cli";
import { editServer, readState, seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import type { DriftReport } from "../../provider/drift";
import { stepTimes } from "../fixtures/step-times";
import { Proc, processTree, stillRunning, survivors } from "../fixtures/process-tree";

const STACK = "site27";
const ASA = "EXASA27";
const CLI_JS = path.join(REPO_ROOT, "dist", "provider", "cli.js");
const DAY = 86_400_000;
const HOUR = 3_600_000;
const { times, timed } = stepTimes();

/** A program in a project folder with the CLI's environment (backend, passphrase, PGPASSWORD). */
function runIn(cli: PulumiCli, cwd: string, cmd: string, args: string[], env?: Record<string, string>, onSpawn?: (pid: number) => void): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: cli.environment(env), stdio: ["ignore", "pipe", "pipe"], detached: onSpawn !== undefined });
    if (onSpawn && child.pid) onSpawn(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

/** The CI example's "Rotate" step: its run line and the job's literal environment. */
function ciRotateStep(): { line: string; env: Record<string, string> } {
  const text = fs.readFileSync(path.join(REPO_ROOT, "examples", "rotation", "rotation.yml"), "utf8");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const yaml = require("js-yaml") as { load(s: string): unknown };
  type Job = { env?: Record<string, string>; steps: { name?: string; run?: string }[] };
  const doc = yaml.load(text) as { jobs: Record<string, Job> };
  const job = Object.values(doc.jobs).find((j) => j.steps.some((st) => st.name === "Rotate"));
  const line = job?.steps.find((st) => st.name === "Rotate")?.run;
  assert.ok(job && line, "the CI example has a 'Rotate' step with a run line");
  return { line: line.trim(), env: Object.fromEntries(Object.entries(job.env ?? {}).filter(([, v]) => !String(v).includes("${{"))) };
}

describe("the ASA password on a schedule: maximum age, doctor, drift and the unattended rotation (lab DC + Exchange stand-in + PostgreSQL)", function () {
  this.timeout(900_000);

  let lab: Lab;
  let pg: Postgres;
  let proxy: LdapFaultProxy;
  let cli: PulumiCli;
  let stateFile: string;
  /** The stack's plain config at its baseline (a generated password, the default dnsTtl). */
  let baseline: Record<string, string>;
  /** Set when a case failed, or left the site off its baseline: the next case resets it first. */
  let offBaseline = false;

  const drift = (cwd = cli.projectDir): Promise<CliResult> => runIn(cli, cwd, process.execPath, [CLI_JS, "drift", "--stack", STACK, "--json"]);
  const doctor = (): Promise<CliResult> => runIn(cli, cli.projectDir, process.execPath, [CLI_JS, "doctor", "--stack", STACK, "--json"]);
  const job = (onSpawn?: (pid: number) => void): Promise<CliResult> => {
    const { line, env } = ciRotateStep();
    return runIn(cli, cli.projectDir, "sh", ["-c", line], env, onSpawn);
  };
  /** AD's key version of the ASA, as the last pulumi command recorded it from AD. */
  const keyVersion = async (): Promise<number> => {
    const state = await cli.exportStack();
    const r = state.deployment.resources?.find((x) => x.type?.endsWith(":AsaPassword"));
    return Number((r?.outputs as Record<string, unknown> | undefined)?.keyVersion);
  };
  const locks = (): Promise<string> => pg.psql("SELECT key FROM pulumi_state WHERE key LIKE '%/.pulumi/locks/%'");
  const credentials = (): Record<string, number> => Object.fromEntries(Object.values(readState(stateFile).servers).map((s) => [s.name, s.asa.length]));
  const setCalls = (): number => readState(stateFile).counters.callsPerOperation["Set-EkAsaCredential"] ?? 0;
  /**
   * AD's pwdLastSet of the ASA `days` and one hour ago, its key version unchanged; returns it. The
   * hour keeps the whole days the same whenever the command that measures them starts (the start
   * time the provider reads from /proc is up to a second early: /proc/stat's boot time is in whole seconds).
   */
  const makeOld = async (days: number): Promise<Date> => {
    const at = new Date(Date.now() - days * DAY - HOUR);
    await setPwdLastSet(lab, `${ASA}$`, at);
    return at;
  };
  const assertDoctorOk = async (what: string): Promise<void> => {
    const d = await doctor();
    assert.strictEqual(d.code, 0, `${what}: doctor\n${d.stdout}${d.stderr}`);
  };

  const named = (ps: Proc[]): string[] => ps.map((p) => `${p.pid} (group ${p.pgid}) ${p.args.slice(0, 120)}`);
  /** SIGKILL to a pid (or -pgid) that may have ended meanwhile. */
  const kill = (pid: number): void => {
    try {
      process.kill(pid, "SIGKILL");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
    }
  };

  /** Back to the baseline after a failed case: no lock, no pending operation, the config, an up. */
  async function reset(): Promise<void> {
    proxy.arm();
    await timed("reset", async () => {
      await cli.run(["cancel", "--yes", "--stack", STACK]);
      await cli.refresh();
      await cli.run(["config", "set-all", "--stack", STACK, ...Object.entries(baseline).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
      await cli.run(["config", "rm", "--stack", STACK, "exchange-kerberos:asaPassword"]);
      await cli.up();
    });
  }

  before(async function () {
    [lab, pg] = await timed("lab + postgres", () => Promise.all([startLab(labAddr(45)), startPostgres(labAddr(46))]));
    proxy = await LdapFaultProxy.start(lab, 1637);
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }]);
    cli = await PulumiCli.create({
      project: "test/fixtures/site-stack",
      env: { EXCHANGE_STANDIN_STATE: stateFile, PULUMI_BACKEND_URL: pg.backendUrl, PGPASSWORD: pg.password },
    });
    await timed("stack init + config + up", async () => {
      await cli.initStack(STACK);
      baseline = {
        ...Object.fromEntries(Object.entries(lab.stackConfig).filter(([k]) => !k.endsWith("Password"))),
        "exchange-kerberos:ldapUrl": proxy.url,
        "exchange-kerberos:exchangeShell": standinExecutable(),
        "exchange-kerberos:namespace": "outlook.corp.example",
        "exchange-kerberos:servers": JSON.stringify(["EX1", "EX2"]),
        "exchange-kerberos:dnsZone": lab.domain,
        "exchange-kerberos:dnsAddresses": JSON.stringify(["192.0.2.11"]),
        "exchange-kerberos:asaName": ASA,
        "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
        "exchange-kerberos:asaPasswordMaxAgeDays": "90",
        "exchange-kerberos:krb5Config": lab.krb5Conf,
        "exchange-kerberos:httpsCheck": "false",
      };
      await cli.run(["config", "set-all", "--stack", STACK, ...Object.entries(baseline).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
      for (const [k, v] of Object.entries(lab.stackConfig)) if (k.endsWith("Password")) await cli.setConfig(k, v, { secret: true });
      await cli.up();
    });
  });

  beforeEach(async function () {
    if (!offBaseline) return;
    await reset();
    offBaseline = false;
  });

  afterEach(function () {
    if (this.currentTest?.state !== "passed") offBaseline = true;
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    await cli?.dispose();
    await proxy?.close();
    await pg?.stop();
    if (stateFile) fs.rmSync(path.dirname(stateFile), { recursive: true, force: true });
  });

  it("a password past its maximum: the preview plans the rotation and says why; doctor and drift name it (age, due date)", async function () {
    const setAt = await makeOld(97);
    const preview = await timed("preview (rotation due)", () => cli.preview(["--json"]));
    const plan = JSON.parse(preview.stdout) as { steps: { op: string; urn: string }[]; diagnostics?: { message?: string }[] };
    const said = (plan.diagnostics ?? []).map((d) => d.message ?? "").join("\n");
    assert.match(said, new RegExp(`CORP\\\\${ASA}\\$'s password was set ${setAt.toISOString().slice(0, 10)}, 97 days ago, the maximum is 90 \\(passwordMaxAgeDays\\): this up rotates it`), said);
    // The plan of a rotation, as a new asaPassword makes it: the ASA, every binding, then AD's password.
    const changed = plan.steps.filter((st) => st.op !== "same").map((st) => `${st.urn.split("::").pop()} ${st.op}`).sort();
    assert.deepStrictEqual(changed, ["site-asa update", "site-asa-password update", "site-bind-ex1 update", "site-bind-ex2 update"]);

    const doc = JSON.parse((await doctor()).stdout) as { ok: boolean; findings: { code: string; status: string; fix?: string }[]; asaPassword?: { status: string; ageDays: number; dueAt: string } };
    assert.strictEqual(doc.ok, true, "an old password still works: the verdict stays");
    const overdue = doc.findings.find((f) => f.code === "ASA_PASSWORD_OVERDUE");
    assert.ok(overdue && overdue.status === "warn" && /pulumi up rotates it/.test(overdue.fix ?? ""), JSON.stringify(doc.findings));
    assert.deepStrictEqual([doc.asaPassword?.status, doc.asaPassword?.ageDays], ["overdue", 97]);

    const r = await timed("drift (rotation due)", () => drift());
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout) as DriftReport;
    const s = rep.stacks[0];
    assert.deepStrictEqual(s.findings.map((f) => [f.kind, f.resource, f.doctor]), [["rotation", "site-asa", ["ASA_PASSWORD_OVERDUE"]]], JSON.stringify(s.findings));
    assert.strictEqual(s.asaPassword?.ageDays, 97);
    assert.strictEqual(s.asaPassword?.dueAt, new Date(setAt.getTime() + 90 * DAY).toISOString());
  });

  it("the rotation job refuses while other drift is present, and changes nothing", async function () {
    await makeOld(97);
    editServer(stateFile, "EX1", (s) => { s.vdirs.owa.internalUrl = "https://mail.elsewhere.example/owa"; });
    try {
      const [kvno, calls] = [await keyVersion(), setCalls()];
      const r = await timed("job (refused)", () => job());
      assert.strictEqual(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^${STACK}: REFUSED: `, "m"), r.stdout);
      assert.match(r.stdout, /DRIFT site-urls-ex1 .*owa\.internalUrl/, r.stdout);
      assert.strictEqual(setCalls(), calls, "no server was bound");
      assert.strictEqual(await keyVersion(), kvno);
    } finally {
      editServer(stateFile, "EX1", (s) => { s.vdirs.owa.internalUrl = "https://outlook.corp.example/owa"; });
    }
  });

  it("the rotation job rotates when only the rotation is due: servers first, then AD; the doctor passes", async function () {
    await makeOld(97);
    const kvno = await keyVersion();
    const r = await timed("job (rotates)", () => job());
    assert.strictEqual(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${STACK}: rotated; doctor: Kerberos will work`, "m"), r.stdout);
    // AD's key version moved once; each server holds the new password and the one AD held before.
    assert.strictEqual(await keyVersion(), kvno + 1);
    assert.deepStrictEqual(credentials(), { EX1: 2, EX2: 2 });
    // The job's doctor passed (above); its age is 0 now, and nothing more is planned.
    const age = (JSON.parse((await doctor()).stdout) as { asaPassword?: { status: string; ageDays: number } }).asaPassword;
    assert.deepStrictEqual([age?.status, age?.ageDays], ["ok", 0]);
    await timed("preview --expect-no-changes", () => cli.preview(["--expect-no-changes"]));
  });

  it("the job killed between the bindings and AD: every server keeps AD's password; the next run converges", async function () {
    await makeOld(120);
    const kvno = await keyVersion();
    // AD's password set (AsaPassword's modify of the ASA) hangs: the servers are bound, AD is not.
    proxy.arm({ op: "modify", dn: new RegExp(`^CN=${ASA},`, "i"), mode: "hang" });
    let group = 0;
    let tree: Proc[] = [];
    const killed = job((pid) => (group = pid));
    try {
      const t0 = Date.now();
      while (proxy.pending().length > 0 && Date.now() - t0 < 120_000) await new Promise((res) => setTimeout(res, 100));
      assert.deepStrictEqual(proxy.pending(), [], "the job reached AD's password set");
      // The job's processes now: its shell, npx, the rotate command, pulumi up and what pulumi
      // started (the language host and the provider, each in a process group of its own).
      tree = processTree(group);
      process.kill(-group, "SIGKILL");
      await timed("job (killed)", () => killed);
      const left = await survivors(tree, 5_000);
      assert.deepStrictEqual(named(left.filter((p) => p.pgid === group)), [], "nothing of the job's own process group is left");
      // The language host and the provider (with its Exchange shells) run in process groups of
      // their own, out of reach of the kill of the job's group: they end by themselves once their
      // engine is gone (provider/engine-watch.ts, scripts/langhost/main.go; each checks every second).
      assert.deepStrictEqual(named(await survivors(tree, 10_000)), [], "nothing of the killed run is left");
    } finally {
      // A case that failed before the kill leaves nothing running either.
      if (tree.length === 0 && group > 0) tree = processTree(group);
      for (const p of stillRunning(tree)) kill(p.pid);
    }
    assert.ok(await locks(), "the killed run left its lock");
    assert.strictEqual(await keyVersion(), kvno, "AD's password was not set");
    // Every server holds the new password and AD's current one (the doctor proves the latter).
    await assertDoctorOk("after the kill");

    const r = await timed("job (next run)", () => job());
    assert.strictEqual(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /a killed run left the stack's lock/, r.stdout);
    assert.match(r.stdout, new RegExp(`^${STACK}: DUE site-asa \\(AsaComputerAccount\\): CORP\\\\${ASA}\\$'s new password is bound on the servers but not yet set in AD \\(a rotation under way\\): this up finishes it`, "m"), r.stdout);
    assert.strictEqual(await keyVersion(), kvno + 1);
    assert.strictEqual(await locks(), "");
    await timed("preview --expect-no-changes", () => cli.preview(["--expect-no-changes"]));
  });

  it("drift while an operator's up holds the lock: busy (exit 3), no DRIFT finding", async function () {
    await makeOld(95);
    const up = timed("up (operator, rotation)", () => cli.up([], { okCodes: [0, 1, 255] }));
    try {
      const t0 = Date.now();
      while (!(await locks()) && Date.now() - t0 < 60_000) await new Promise((res) => setTimeout(res, 100));
      const r = await timed("drift (locked)", () => runIn(cli, cli.projectDir, process.execPath, [CLI_JS, "drift", "--stack", STACK]));
      assert.strictEqual(r.code, 3, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^${STACK}: BUSY, not checked: the stack is locked by \\S+@\\S+ \\(pid \\d+\\)`, "m"), r.stdout);
      assert.ok(!/DRIFT/.test(r.stdout), r.stdout);
    } finally {
      const done = await up;
      assert.strictEqual(done.code, 0, done.stdout + done.stderr);
    }
    await assertDoctorOk("after the operator's rotation");
  });

  it("drift from a checkout whose stack file lags behind the last up: names the keys, judges nothing (exit 4)", async function () {
    await makeOld(0);
    const behind = path.join(cli.workDir, `checkout-b-${Date.now()}`);
    fs.cpSync(cli.projectDir, behind, { recursive: true });
    const ttl = await cli.run(["config", "get", "--stack", STACK, "exchange-kerberos:dnsTtl"], { okCodes: [0, 1] });
    await cli.run(["config", "set", "--stack", STACK, "exchange-kerberos:dnsTtl", ttl.stdout.trim() === "600" ? "660" : "600"]);
    await timed("up (operator A: dnsTtl)", () => cli.up());
    const r = await timed("drift (checkout B)", () => runIn(cli, behind, process.execPath, [CLI_JS, "drift", "--stack", STACK]));
    assert.strictEqual(r.code, 4, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${STACK}: CHECKOUT BEHIND, not checked: .* in exchange-kerberos:dnsTtl: the checkout, not the site, is behind`, "m"), r.stdout);
    assert.ok(!/DRIFT|Kerberos will NOT work/.test(r.stdout), r.stdout);
    const a = await timed("drift (checkout A)", () => drift());
    assert.strictEqual(a.code, 0, `the up-to-date checkout sees no drift\n${a.stdout}${a.stderr}`);
  });

  it("a password given to the stack is never replaced: the preview warns it is due, the job refuses", async function () {
    // A given password is not the baseline: whatever comes next starts from a reset.
    offBaseline = true;
    await cli.setConfig("exchange-kerberos:asaPassword", "Given-Pa55word-for-27!", { secret: true });
    await timed("up (the user's rotation)", () => cli.up());
    await makeOld(100);
    const kvno = await keyVersion();
    const plan = await timed("preview (given, due)", () => cli.preview(["--expect-no-changes"]));
    assert.match(plan.stdout + plan.stderr, /100 days ago, the maximum is 90 \(passwordMaxAgeDays\): it is due, and it is the password given to the stack, which the stack never replaces\. Fix: rotate it: pulumi config set --secret exchange-kerberos:asaPassword/);
    // The job's drift check reports it as drift (a person must choose the password), not as a rotation.
    const r = await timed("job (given password)", () => job());
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${STACK}: DRIFT .*100 days ago, the maximum is 90.*\\[ASA_PASSWORD_OVERDUE\\]$`, "m"), r.stdout);
    assert.ok(!new RegExp(`^${STACK}: DUE `, "m").test(r.stdout), r.stdout);
    assert.match(r.stdout, new RegExp(`^${STACK}: REFUSED: `, "m"), r.stdout);
    assert.strictEqual(await keyVersion(), kvno, "not replaced");
  });
});
