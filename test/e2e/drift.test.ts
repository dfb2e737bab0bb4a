// Teams and schedules (issue 18), through the real pulumi CLI: the site stack's state in a real
// PostgreSQL server (Debian's, throwaway data folder, bound to one lab address), two operators'
// `pulumi up` of one stack at once, the `drift` command against every kind of change made by hand,
// the CI example's command line, and ten site stacks in one backend. One lab DC, one PostgreSQL,
// one rollout (site01), shared by every case; the Exchange side is the stand-in (a TEST DOUBLE).
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dig, ldapmodify } from "../fixtures/admin-tools";
import { Lab, labAddr, run, sambaTool, startLab } from "../fixtures/lab";
import { Postgres, startPostgres } from "../fixtures/postgres";
import { CliResult, PulumiCli, REPO_ROOT, resourcesOf } from "../fixtures/pulumi-cli";
import { editServer, readState, seedServers, standinExecutable, StandinState } from "../fixtures/exchange-standin/state";
import type { DriftReport } from "../../provider/drift";
import { stepTimes } from "../fixtures/step-times";

const NS = "outlook.corp.example";
const AUTODISCOVER = "autodiscover.corp.example";
const STACK = "site01";
const CLI_JS = path.join(REPO_ROOT, "dist", "provider", "cli.js");

/** Wall time of each step, printed at the end. */
const { times, timed } = stepTimes();

/** Runs a program in the project copy with the CLI's environment (backend, passphrase, PGPASSWORD). */
function runIn(cli: PulumiCli, cmd: string, args: string[], env?: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: cli.projectDir, env: cli.environment(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const drift = (cli: PulumiCli, args: string[]): Promise<CliResult> => runIn(cli, process.execPath, [CLI_JS, "drift", ...args]);

/** Attributes a logon or a read changes on the DC by itself (the doctor's Kerberos logon, LDAP binds): not writes. */
const VOLATILE = /^(lastLogon|lastLogonTimestamp|logonCount|badPwdCount|badPasswordTime|whenChanged|uSNChanged):/i;

/** An LDIF of the domain and its DNS partition (ldapsearch as Administrator), entries sorted. */
async function adLdif(lab: Lab): Promise<string> {
  const parts: string[] = [];
  for (const base of [lab.baseDn, `DC=DomainDnsZones,${lab.baseDn}`]) {
    const r = await run("ldapsearch", ["-LLL", "-o", "ldif-wrap=no", "-H", lab.ldapUrl, "-x", "-D", lab.adminUser, "-y", path.join(lab.dir, "admin-password"), "-b", base, "-s", "sub", "(objectClass=*)", "*"], {
      env: { ...process.env, LDAPTLS_CACERT: lab.caFile },
    });
    if (r.code !== 0) throw new Error(`ldapsearch ${base}: ${r.stderr}`);
    parts.push(...r.stdout.split(/\n\n+/).map((e) => e.split("\n").filter((l) => !VOLATILE.test(l)).join("\n")));
  }
  return parts.filter((e) => e.trim() !== "").sort().join("\n\n");
}

interface Snapshot {
  ad: string;
  servers: StandinState["servers"];
  backend: string;
}

describe("teams: a PostgreSQL backend, two operators at once, and the drift check (lab DC + Exchange stand-in)", function () {
  this.timeout(600_000);

  let lab: Lab;
  let pg: Postgres;
  let cli: PulumiCli;
  let stateFile: string;

  const snapshot = async (): Promise<Snapshot> => ({
    ad: await adLdif(lab),
    servers: readState(stateFile).servers,
    backend: await pg.psql("SELECT key, md5(data::text), updated_at FROM pulumi_state ORDER BY key"),
  });
  const assertSame = (a: Snapshot, b: Snapshot, what: string): void => {
    assert.strictEqual(b.ad, a.ad, `${what} changed AD`);
    assert.deepStrictEqual(b.servers, a.servers, `${what} changed the stand-in's servers`);
    assert.strictEqual(b.backend, a.backend, `${what} changed the backend`);
  };
  const report = (r: CliResult): DriftReport => JSON.parse(r.stdout) as DriftReport;
  const assertNamed = (rep: DriftReport, resource: string, change: RegExp, code: string): void => {
    const f = rep.stacks[0].findings.find((x) => x.resource === resource && change.test(x.change));
    assert.ok(f, `no finding for ${resource} ${change}: ${JSON.stringify(rep.stacks[0].findings, null, 1)}`);
    assert.ok(f.doctor.includes(code), `${resource} ${change}: doctor codes ${f.doctor.join(",")} lack ${code}`);
  };

  before(async function () {
    [lab, pg] = await timed("lab + postgres", () => Promise.all([startLab(labAddr(20)), startPostgres(labAddr(7))]));
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }]);
    cli = await PulumiCli.create({
      project: "test/fixtures/site-stack",
      env: { EXCHANGE_STANDIN_STATE: stateFile, PULUMI_BACKEND_URL: pg.backendUrl, PGPASSWORD: pg.password },
    });
    await timed("stack init + config", async () => {
      await cli.initStack(STACK);
      const plain: Record<string, string> = {
        ...Object.fromEntries(Object.entries(lab.stackConfig).filter(([k]) => !k.endsWith("Password"))),
        "exchange-kerberos:exchangeShell": standinExecutable(),
        "exchange-kerberos:namespace": NS,
        "exchange-kerberos:servers": JSON.stringify(["EX1", "EX2"]),
        "exchange-kerberos:dnsZone": lab.domain,
        "exchange-kerberos:dnsAddresses": JSON.stringify(["192.0.2.11"]),
        "exchange-kerberos:asaName": "EXASA01",
        "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
        "exchange-kerberos:extraSpnNames": JSON.stringify([AUTODISCOVER]),
        "exchange-kerberos:krb5Config": lab.krb5Conf,
        "exchange-kerberos:httpsCheck": "false",
      };
      await cli.run(["config", "set-all", "--stack", STACK, ...Object.entries(plain).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
      for (const [k, v] of Object.entries(lab.stackConfig)) if (k.endsWith("Password")) await cli.setConfig(k, v, { secret: true });
    });
    await timed("up site01", () => cli.up());
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    await cli?.dispose();
    await pg?.stop();
    if (stateFile) fs.rmSync(path.dirname(stateFile), { recursive: true, force: true });
  });

  it("drift names every change made by hand (SPN removed and moved, ASA disabled, RC4-only, password reset, DNS, a URL, a server's credential, Negotiate) with its doctor code, changes nothing, prints no secret", async function () {
    const keys = await pg.psql("SELECT key FROM pulumi_state ORDER BY key");
    assert.match(keys, new RegExp(`stacks/exchange-kerberos/${STACK}\\.json`), keys);
    assert.strictEqual(fs.readdirSync(cli.backendDir).length, 0, "nothing went to a file backend");

    // Every kind at once, each on its own object, so that each must be named separately.
    const asaDn = `CN=EXASA01,OU=Service Accounts,${lab.baseDn}`;
    const reset = "Reset-by-hand-9f3!Qz";
    await sambaTool(lab, ["spn", "delete", `HTTP/${AUTODISCOVER}`, "EXASA01$"]);
    await sambaTool(lab, ["spn", "delete", `HTTP/${NS}`, "EXASA01$"]);
    await sambaTool(lab, ["spn", "add", `HTTP/${NS}`, "LEGACYWEB$"]);
    ldapmodify(lab, `dn: ${asaDn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: ${Buffer.from(`"${reset}"`, "utf16le").toString("base64")}\n`);
    ldapmodify(lab, `dn: ${asaDn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 4098\n-\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 4\n`);
    await sambaTool(lab, ["dns", "update", lab.addr, lab.domain, "outlook", "A", "192.0.2.11", "192.0.2.99"]);
    editServer(stateFile, "EX1", (s) => { s.vdirs.owa.internalUrl = "https://mail.elsewhere.example/owa"; });
    editServer(stateFile, "EX2", (s) => {
      s.asa = [];
      s.rpc.internalClientAuthenticationMethod = "Ntlm";
      s.vdirs.mapi.iisAuthenticationMethods = (s.vdirs.mapi.iisAuthenticationMethods ?? []).filter((m) => m !== "Negotiate");
    });
    const passwords = [reset, ...readState(stateFile).servers.ex1.asa.map((c) => c.password), lab.adminPassword, pg.password];

    const before = await snapshot();
    const callsBefore = readState(stateFile).counters.callsPerOperation;
    const r = await timed("drift --json (with drift)", () => drift(cli, ["--stack", STACK, "--json"]));
    assertSame(before, await snapshot(), "drift");
    // The servers' state alone would miss a write of the value already there: no Set- or Remove-
    // call reached the stand-in at all, while reads did (the check really looked).
    const callsAfter = readState(stateFile).counters.callsPerOperation;
    const calls = (op: string): number => (callsAfter[op] ?? 0) - (callsBefore[op] ?? 0);
    assert.deepStrictEqual(Object.keys(callsAfter).filter((op) => /^(Set|Remove)-/.test(op) && calls(op) !== 0), [], "drift made no write call to the servers");
    assert.ok(calls("Get-EkServerState") > 0, "drift read the servers");
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    for (const p of passwords) assert.ok(!(r.stdout + r.stderr).includes(p), "a password was printed");
    const rep = report(r);
    assert.strictEqual(rep.ok, false);
    assertNamed(rep, "site-spn-autodiscover.corp.example", /HTTP\/autodiscover\.corp\.example: declared → not found/, "SPN_MISSING");
    // Moved to another account: the preview refuses the Spn (up cannot take it back), and drift
    // plans again without it, so the resources registered after it are judged too.
    assertNamed(rep, "site-spn-outlook.corp.example", /^the preview refuses it: HTTP\/outlook\.corp\.example is already held by CN=LEGACYWEB,/, "SPN_WRONG_ACCOUNT");
    assertNamed(rep, "site-asa", /^account: enabled → disabled$/, "ASA_DISABLED");
    assertNamed(rep, "site-asa", /^msDS-SupportedEncryptionTypes: 24 → 4$/, "ASA_NO_AES");
    assertNamed(rep, "site-asa-password", /^password: changed \(set by someone else at /, "SERVER_ASA_STALE");
    assertNamed(rep, "site-dns", /^values: 192\.0\.2\.11 → 192\.0\.2\.99$/, "DNS_WRONG_ADDRESS");
    assertNamed(rep, "site-urls-ex1", /^EX1 owa\.internalUrl: https:\/\/outlook\.corp\.example\/owa → https:\/\/mail\.elsewhere\.example\/owa$/, "URL_NOT_NAMESPACE");
    assertNamed(rep, "site-bind-ex2", /^server EX2: declared → not found/, "SERVER_NO_ASA");
    assertNamed(rep, "site-auth-ex2", /^EX2 outlookAnywhere\.internalClientAuthenticationMethod: Negotiate → Ntlm$/, "OA_CLIENT_AUTH_NOT_NEGOTIATE");
    assertNamed(rep, "site-auth-ex2", /^EX2 mapi\.iisAuthenticationMethods: .*Negotiate → /, "MAPI_NO_NEGOTIATE");
  });

  it("two `pulumi up --refresh` of the stack at once repair it: the second is refused by the backend's lock; afterwards state, AD and the stand-in agree", async function () {
    // The moved SPN: up refuses to take an SPN another account holds, so the admin first does what
    // the doctor's fix says (setspn -D from the other account); then up --refresh repairs the rest.
    await sambaTool(lab, ["spn", "delete", `HTTP/${NS}`, "LEGACYWEB$"]);
    // Two operators repair at once. The second starts once the first's lock row is in the table,
    // so it meets the lock for certain (not a race on who writes first); the first's refresh and
    // repair of 13 resources takes far longer than the second needs to reach its lock check.
    const first = timed("up --refresh (repair, holding the lock)", () => cli.up(["--refresh"], { okCodes: [0, 1, 255] }));
    let second: CliResult | undefined;
    try {
      const t0 = Date.now();
      let locked = "";
      while (!locked && Date.now() - t0 < 60_000) {
        locked = await pg.psql("SELECT key FROM pulumi_state WHERE key LIKE '%/locks/%'");
        if (!locked) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(locked, "the first up took a lock in the backend");
      second = await timed("up --refresh (second, refused)", () => cli.up(["--refresh"], { okCodes: [0, 1, 255] }));
    } finally {
      await first.catch(() => undefined); // never leave the first up running into the next case
    }
    const firstResult = await first;
    assert.ok(second, "the second up ran");
    assert.strictEqual(firstResult.code, 0, firstResult.stdout + firstResult.stderr);
    assert.notStrictEqual(second.code, 0, `the second up was not refused:\n${second.stdout}${second.stderr}`);
    assert.match(second.stdout + second.stderr, /the stack is currently locked by 1 lock\(s\)\. Either wait for the other process\(es\) to end or delete the lock file with `pulumi cancel`/);
    assert.ok(!(second.stdout + second.stderr).includes(pg.password), "the lock message does not show the backend's password");
    assert.strictEqual(await pg.psql("SELECT count(*) FROM pulumi_state WHERE key LIKE '%/locks/%'"), "0\n", "no lock left behind");

    // State, AD and the stand-in agree (the drift check below proves the rest through the doctor).
    const state = await cli.exportStack();
    const byName = (n: string) => resourcesOf(state).find((r) => r.urn.endsWith(`::${n}`));
    assert.deepStrictEqual(byName("site-dns")?.outputs?.values, ["192.0.2.11"]);
    assert.deepStrictEqual(dig(lab, NS, "A").answers, ["192.0.2.11"]);
    for (const spn of [NS, AUTODISCOVER]) assert.ok(byName(`site-spn-${spn}`), `the state holds the SPN ${spn}`);
    const held = await sambaTool(lab, ["spn", "list", "EXASA01$"]);
    for (const spn of [NS, AUTODISCOVER]) assert.ok(held.includes(`HTTP/${spn}`), `AD: the ASA holds HTTP/${spn}`);
    for (const server of Object.values(readState(stateFile).servers)) {
      assert.ok(server.asa.some((c) => c.userName === "CORP\\EXASA01$"), `${server.name} holds the ASA`);
      assert.ok(byName(`site-bind-${server.name.toLowerCase()}`), `the state holds ${server.name}'s binding`);
    }
    await timed("preview --expect-no-changes", () => cli.preview(["--expect-no-changes"]));
  });

  it("after the repair, the CI example's command line (run exactly as written) finds no drift; drift --help documents it", async function () {
    // The CI example's step, run exactly as written, with the job's non-secret environment.
    const yamlText = fs.readFileSync(path.join(REPO_ROOT, "examples", "drift", "drift-check.yml"), "utf8");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const yaml = require("js-yaml") as { load(s: string): unknown };
    type Job = { env?: Record<string, string>; steps: { name?: string; run?: string }[] };
    const doc = yaml.load(yamlText) as { on: { schedule: { cron: string }[] }; jobs: Record<string, Job> };
    assert.strictEqual(doc.on.schedule[0].cron, "*/15 * * * *");
    const job = Object.values(doc.jobs).find((j) => j.steps.some((st) => st.name === "Drift check"));
    const line = job?.steps.find((st) => st.name === "Drift check")?.run;
    assert.ok(job && line, "the CI example has a 'Drift check' step with a run line");
    const literalEnv = Object.fromEntries(Object.entries(job.env ?? {}).filter(([, v]) => !String(v).includes("${{")));
    const unit = fs.readFileSync(path.join(REPO_ROOT, "examples", "drift", "pulumi-exchange-kerberos-drift.service"), "utf8");
    assert.ok(unit.split("\n").some((l) => l.startsWith("ExecStart=") && l.endsWith(` ${line.trim()}`)), "the systemd unit runs the same command line");
    assert.match(fs.readFileSync(path.join(REPO_ROOT, "examples", "drift", "pulumi-exchange-kerberos-drift.timer"), "utf8"), /^OnCalendar=\*:0\/15$/m);
    const ci = await timed("drift --all (CI line, after repair)", () => runIn(cli, "sh", ["-c", line], literalEnv));
    assert.strictEqual(ci.code, 0, `${ci.stdout}\n${ci.stderr}`);
    assert.match(ci.stdout, new RegExp(`^${STACK}: no drift, Kerberos works$`, "m"), ci.stdout);

    const help = await drift(cli, ["--help"]);
    assert.strictEqual(help.code, 0);
    for (const flag of ["--stack", "--all", "--json", "--cwd", "exit code", "PULUMI_BACKEND_URL"]) assert.ok(help.stdout.includes(flag), `drift --help documents ${flag}`);
    assert.strictEqual((await drift(cli, [])).code, 2, "no stack given: could not run");
    assert.strictEqual((await drift(cli, ["--stack", "no-such-stack"])).code, 2, "a stack that does not exist: could not run");
  });

  it("the backend holds ten site stacks, every one listed and readable", async function () {
    // Nine more sites on the same lab, each its own namespace and ASA (config only: a rollout per
    // site would prove nothing the first one did not, at ~15 s each).
    // PULUMI_DIY_BACKEND_PARALLEL: pulumi 3.260's PostgreSQL store lists keys with a query per row
    // while the listing's own rows hold a connection, and the DIY backend reads stacks 10 at a time
    // against a pool of 2×GOMAXPROCS connections: with more stacks than that, `pulumi stack ls`
    // waits for ever (seen here: 10 stacks, 2 cores). At most pool/2 readers cannot deadlock.
    const env = { PULUMI_DIY_BACKEND_PARALLEL: "2" };
    await timed("nine more stacks", async () => {
      const names = Array.from({ length: 9 }, (_, i) => i + 2);
      for (let i = 0; i < names.length; i += 3) {
        await Promise.all(names.slice(i, i + 3).map(async (n) => {
          const name = `site${String(n).padStart(2, "0")}`;
          await cli.run(["stack", "init", name, "--copy-config-from", STACK, "--no-select"], { env });
          await cli.run(["config", "set-all", "--stack", name, "--plaintext", `exchange-kerberos:namespace=outlook-${n}.corp.example`, "--plaintext", `exchange-kerberos:asaName=EXASA${String(n).padStart(2, "0")}`], { env });
        }));
      }
    });
    const ls = JSON.parse((await cli.run(["stack", "ls", "--json"], { env })).stdout) as { name: string }[];
    assert.deepStrictEqual(ls.map((s) => s.name).sort(), Array.from({ length: 10 }, (_, i) => `site${String(i + 1).padStart(2, "0")}`));
    const readOne = async ({ name }: { name: string }): Promise<void> => {
      const cfg = JSON.parse((await cli.run(["config", "--json", "--stack", name], { env })).stdout) as Record<string, { value?: string }>;
      const n = Number(name.slice(4));
      assert.strictEqual(cfg["exchange-kerberos:namespace"]?.value, n === 1 ? NS : `outlook-${n}.corp.example`);
      const exported = JSON.parse((await cli.run(["stack", "export", "--stack", name], { env })).stdout) as { deployment: { resources?: unknown[] } };
      assert.ok(n === 1 ? (exported.deployment.resources ?? []).length > 10 : exported.deployment !== undefined, `${name} readable`);
    };
    await timed("read ten stacks", async () => {
      for (let i = 0; i < ls.length; i += 5) await Promise.all(ls.slice(i, i + 5).map(readOne));
    });
    const rows = await pg.psql("SELECT count(*) FROM pulumi_state WHERE key LIKE '%/stacks/exchange-kerberos/site__.json'");
    assert.strictEqual(rows.trim(), "10", "ten stack files in the PostgreSQL table");
  });

  it("a backend or a DC that cannot be reached: exit 2 (the check could not run), not 1", async function () {
    // Nothing listens on port 1 of the PostgreSQL server's own address: refused at once.
    const nowhere = `${pg.addr}:1`;
    const backend = await timed("drift, backend unreachable", () => runIn(cli, process.execPath, [CLI_JS, "drift", "--stack", STACK], { PULUMI_BACKEND_URL: `postgres://pulumi@${nowhere}/pulumi?sslmode=disable` }));
    assert.strictEqual(backend.code, 2, backend.stdout + backend.stderr);
    assert.match(backend.stdout, new RegExp(`^${STACK}: COULD NOT CHECK: pulumi preview --refresh failed: .+`, "m"), backend.stdout);
    assert.ok(!(backend.stdout + backend.stderr).includes(pg.password), "no password printed");

    // The DC (LDAP and Global Catalog) down, as the stack's config sees it; restored afterwards.
    await cli.run(["config", "set-all", "--stack", STACK, "--plaintext", `exchange-kerberos:ldapUrl=ldaps://${nowhere}`, "--plaintext", `exchange-kerberos:gcUrl=ldaps://${nowhere}`]);
    try {
      const dc = await timed("drift, DC unreachable", () => drift(cli, ["--stack", STACK, "--json"]));
      assert.strictEqual(dc.code, 2, dc.stdout + dc.stderr);
      const rep = report(dc);
      assert.strictEqual(rep.stacks[0].status, "error", dc.stdout);
      assert.match(rep.stacks[0].error ?? "", /^pulumi preview --refresh failed: .+/);
    } finally {
      await cli.run(["config", "set-all", "--stack", STACK, "--plaintext", `exchange-kerberos:ldapUrl=${lab.ldapUrl}`, "--plaintext", `exchange-kerberos:gcUrl=${lab.gcUrl}`]);
    }
  });
});
