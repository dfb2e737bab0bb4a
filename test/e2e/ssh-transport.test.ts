// Exchange from where admins run it, through the real pulumi CLI: the ssh transport
// (exchangeTransport ssh) with the real OpenSSH client and a real Debian sshd on a loopback address,
// whose remote command is the Exchange stand-in (a TEST DOUBLE for Windows PowerShell and Exchange),
// against a lab Samba AD DC; and, where PowerShell has no WSMan client, the refusal.
//   - the site's lifecycle over ssh (preview, up, refresh, a rotation, destroy), doctor, discover and
//     drift, and the CI example's steps as written; every session is one ssh connection;
//   - the sealing key crosses inside the channel: the secrets scan finds no password and no sealing
//     key in sshd's DEBUG3 log, the stand-in's transcript, the backend, the CLI's output, or any
//     process's arguments (or environment, for the key) on either end;
//   - faults, each one line with its code and fix and no stack trace: the host key changed, a wrong
//     key, sshd down, a remote command that never answers, one that is missing, no credential for
//     the second hop; the connection cut in the middle of `up`, after which the next `up` converges.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Lab, labAddr, run, startLab } from "../fixtures/lab";
import { CliResult, PulumiCli, REPO_ROOT } from "../fixtures/pulumi-cli";
import { ArgvSampler, findSecrets, SecretsScan } from "../fixtures/secrets-scan";
import { readState, readTranscript, seedServers, setFaults, standinExecutable, transcriptPath } from "../fixtures/exchange-standin/state";
import { sessionKeysFile } from "../fixtures/exchange-standin/session-setup";
import { NO_WSMAN_ENV } from "../fixtures/exchange-standin/remoting";
import { startSshd, waitFor, type Sshd } from "../fixtures/sshd";
import { stepTimes } from "../fixtures/step-times";

const NS = "outlook.corp.example";
const SERVERS = ["EX1", "EX2"];
const EXCHANGE_USER = "CORP\\svc-exchange";
// Quotes, $ and a backtick: what must never be parsed as PowerShell or show anywhere.
const EXCHANGE_PASSWORD = "Ex'ch$an`ge \"pw\" 42";
const ROTATED = "Rotated'ASA$pw`1 \"x\"";
const CLI_JS = path.join(REPO_ROOT, "dist", "provider", "cli.js");
const YAML = require("js-yaml") as { load(s: string): unknown }; // eslint-disable-line @typescript-eslint/no-require-imports

const { times, timed } = stepTimes();

/** Runs a program in the project copy with the CLI's environment. */
const runIn = (cli: PulumiCli, cmd: string, args: string[], env?: Record<string, string>): Promise<CliResult> =>
  run(cmd, args, { cwd: cli.projectDir, env: cli.environment(env), timeoutMs: 300_000 });

/** A site stack on the lab: its connection keys, the site's keys and `values`; passwords as secrets. */
async function configureStack(cli: PulumiCli, stack: string, lab: Lab, values: Record<string, string>): Promise<void> {
  const plain: Record<string, string> = {
    ...Object.fromEntries(Object.entries(lab.stackConfig).filter(([k]) => !k.endsWith("Password"))),
    "exchange-kerberos:namespace": NS,
    "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
    "exchange-kerberos:krb5Config": lab.krb5Conf,
    "exchange-kerberos:httpsCheck": "false",
    ...values,
  };
  await cli.run(["config", "set-all", "--stack", stack, ...Object.entries(plain).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
  for (const [k, v] of Object.entries(lab.stackConfig)) if (k.endsWith("Password")) await cli.setConfig(k, v, { secret: true });
}

const cliJs = (cli: PulumiCli, args: string[], env?: Record<string, string>) => runIn(cli, process.execPath, [CLI_JS, ...args], env);

/** A refusal as the user sees it: exit code, the code and a fix on one line, no stack trace. */
function oneLine(r: CliResult, code: string): string {
  const all = `${r.stdout}\n${r.stderr}`;
  assert.notEqual(r.code, 0, all);
  const lines = all.split("\n").filter((l) => l.includes(`(${code})`));
  assert.ok(lines.length > 0, `no line carries (${code}):\n${all}`);
  assert.match(lines[0], /Fix: \S/, lines[0]);
  assert.doesNotMatch(all, /^\s+at .+:\d+:\d+\)?$/m, `a stack trace:\n${all}`);
  for (const s of [EXCHANGE_PASSWORD, ROTATED]) assert.ok(!all.includes(s), "a password in the output");
  return lines[0];
}

/** Processes (either end) whose environment names this stand-in state: the remote PowerShells. */
function remoteShells(stateFile: string): number[] {
  return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(`EXCHANGE_STANDIN_STATE=${stateFile}`);
    } catch {
      return false;
    }
  }).map(Number);
}

describe("ssh transport: Exchange through a Windows management host's sshd (real OpenSSH, the stand-in as its PowerShell)", function () {
  this.timeout(900_000);

  let lab: Lab;
  let sshd: Sshd;
  let cli: PulumiCli;
  let stateFile: string;
  let scan: SecretsScan;
  const outputs: CliResult[] = [];
  const passwords = [EXCHANGE_PASSWORD, ROTATED];
  /** Every sealing key a remote module took (the stand-in's record of what crossed). */
  const sessionKeys = (): string[] => (fs.existsSync(sessionKeysFile(stateFile)) ? fs.readFileSync(sessionKeysFile(stateFile), "utf8").split("\n").filter(Boolean) : []);
  let environs: ArgvSampler["environs"] = new Map();

  /** Runs a step while sampling every process's arguments and environment, and keeps its output. */
  async function step(r: () => Promise<CliResult>): Promise<CliResult> {
    const env = new ArgvSampler(true);
    env.start(100);
    try {
      const result = await scan.during(r);
      outputs.push(result);
      return result;
    } finally {
      env.stop();
      environs = env.environs;
    }
  }

  /** No password and no sealing key anywhere on either end. */
  function assertNoSecrets(): void {
    const keys = sessionKeys();
    assert.ok(keys.length > 0, "the stand-in recorded the sealing keys its modules took");
    scan.assertClean(outputs);
    const found: string[] = [];
    for (const [name, file] of [["sshd's DEBUG3 log", sshd.logFile], ["the stand-in's transcript", transcriptPath(stateFile)]]) {
      for (const h of findSecrets(fs.readFileSync(file), [...passwords, lab.adminPassword, ...keys])) found.push(`${h} in ${name}`);
    }
    for (const [environ, cmd] of environs) for (const h of findSecrets(Buffer.from(environ, "latin1"), keys)) found.push(`${h} (a sealing key) in the environment of ${cmd.split("\0")[0]}`);
    assert.deepEqual(found, [], found.join("; "));
  }

  before(async function () {
    lab = await startLab(labAddr(60));
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ek-ssh-standin-")), "state.json");
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }], { requiredCredential: { user: EXCHANGE_USER, password: EXCHANGE_PASSWORD } });
    sshd = await startSshd(labAddr(61), { standinState: stateFile });
    // No EXCHANGE_STANDIN_STATE here: a shell started on this side (not over ssh) could not answer.
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack" });
    await cli.selectStack("ssh-site");
    await configureStack(cli, "ssh-site", lab, {
      ...sshd.stackConfig,
      "exchange-kerberos:exchangeUser": EXCHANGE_USER,
      "exchange-kerberos:exchangeTimeoutMs": "30000",
      "exchange-kerberos:servers": JSON.stringify(SERVERS),
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": JSON.stringify(["192.0.2.11"]),
      "exchange-kerberos:asaName": "SSHASA01",
    });
    await cli.setConfig("exchange-kerberos:exchangePassword", EXCHANGE_PASSWORD, { secret: true });
    passwords.push(lab.adminPassword);
    scan = new SecretsScan(cli, () => [...passwords, ...sessionKeys()]);
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    if (cli) {
      await sshd?.start().catch(() => undefined);
      await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await cli.dispose();
    }
    await sshd?.stop();
    if (process.env.KEEP_SCRATCH !== "1") {
      if (sshd) fs.rmSync(sshd.dir, { recursive: true, force: true });
      if (stateFile) fs.rmSync(path.dirname(stateFile), { recursive: true, force: true });
    }
  });

  it("preview and up run over ssh: each session one ssh connection, the module and every call sent over the channel", async function () {
    const preview = await timed("preview", () => step(() => cli.preview()));
    assert.match(preview.stdout, /\+ \d+ to create/, preview.stdout);
    const up = await timed("up", () => step(() => cli.up()));
    assert.match(up.stdout, /created/, up.stdout);
    for (const s of Object.values(readState(stateFile).servers)) {
      assert.equal(s.asa[0]?.userName, "CORP\\SSHASA01$", `${s.name} holds the ASA, bound over ssh`);
      assert.ok(s.vdirs.mapi.iisAuthenticationMethods?.includes("Negotiate"), `${s.name}: Negotiate on MAPI`);
    }

    // Every remote shell came over ssh with the key, loaded the module from its text and got its
    // key through the handoff: no module path, no key in any script line.
    const log = fs.readFileSync(sshd.logFile, "utf8");
    const logons = (log.match(/Accepted publickey for /g) ?? []).length;
    const transcript = readTranscript(stateFile);
    const starts = transcript.filter((e) => e.t === "start").length;
    assert.ok(starts > 0 && logons >= starts, `${starts} remote shells, ${logons} key logons`);
    const scripts = transcript.flatMap((e) => (e.t === "script" ? [e.text] : []));
    assert.ok(scripts.some((t) => t.includes("New-Module -Name ExchangeKerberos")), "the module crossed as text");
    assert.ok(!scripts.some((t) => t.includes("Import-Module -Name ([System.Text")), "no module path was sent");
    assert.equal(scripts.filter((t) => t.startsWith("$env:EK_SESSION_KEY = ")).length, sessionKeys().length, "one key delivery per module");
    assertNoSecrets();
    assert.doesNotMatch(log, /Setting env|EK_SESSION_KEY/);
  });

  it("a password rotation over ssh: the servers hold the new password, then AD; nothing left to do", async function () {
    await cli.setConfig("exchange-kerberos:asaPassword", ROTATED, { secret: true });
    await timed("up (rotation)", () => step(() => cli.up()));
    for (const s of Object.values(readState(stateFile).servers)) assert.equal(s.asa[0]?.password, ROTATED, `${s.name} holds the rotated password`);
    await timed("preview --expect-no-changes", () => step(() => cli.preview(["--expect-no-changes"])));
    assertNoSecrets();
  });

  it("doctor, discover and drift read Exchange over ssh; the CI example's steps, run as written, reach it with the key in an agent", async function () {
    // (What drift finds is drift.test.ts's; here, that its preview --refresh and doctor go over ssh.)
    const doctor = await timed("doctor", () => step(() => cliJs(cli, ["doctor", "--stack", "ssh-site"])));
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    for (const s of SERVERS) assert.match(doctor.stdout, new RegExp(`${s}.*holds AD's current password`), doctor.stdout);

    const discover = await timed("discover", () => step(() => cliJs(cli, [
      "discover", "--servers", SERVERS.join(","), "--print",
      "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile, "--ldap-bind-user", lab.adminUser,
      ...Object.entries(sshd.stackConfig).flatMap(([k, v]) => [`--${k.split(":")[1].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, v]),
      "--exchange-user", EXCHANGE_USER,
    ], { EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword, EXCHANGE_KERBEROS_EXCHANGE_PASSWORD: EXCHANGE_PASSWORD })));
    assert.equal(discover.code, 0, discover.stderr);
    assert.match(discover.stdout, new RegExp(`exchange-kerberos:namespace: ${NS.replace(/\./g, "\\.")}`), discover.stdout);
    assert.match(discover.stdout, /exchange-kerberos:exchangeTransport: ssh/, "the ssh settings are copied into the proposed stack file");

    // The CI example as written: its SSH step puts the key from the secret store into an agent (the
    // stack names no identity file then), the drift step runs with that agent.
    type Step = { name?: string; run?: string; env?: Record<string, string> };
    const doc = YAML.load(fs.readFileSync(path.join(REPO_ROOT, "examples", "drift", "drift-check.yml"), "utf8")) as { jobs: Record<string, { env?: Record<string, string>; steps: Step[] }> };
    const job = Object.values(doc.jobs)[0];
    const named = (n: string) => job.steps.find((st) => st.name === n);
    const agentStep = job.steps.find((st) => /ssh-agent/.test(st.run ?? "") && /ssh-add/.test(st.run ?? ""));
    assert.ok(agentStep && named("Drift check"), "the CI example has an SSH agent step before the drift check");
    const literal = (env: Record<string, string> | undefined) => Object.fromEntries(Object.entries(env ?? {}).filter(([, v]) => !String(v).includes("${{")));
    const githubEnv = path.join(sshd.dir, "github-env");
    fs.writeFileSync(githubEnv, "");
    await cli.run(["config", "rm", "exchange-kerberos:sshIdentityFile", "--stack", "ssh-site"]);
    let agentPid: number | undefined;
    try {
      const added = await runIn(cli, "bash", ["-e", "-c", agentStep.run!], { ...literal(job.env), GITHUB_ENV: githubEnv, EXCHANGE_SSH_KEY: fs.readFileSync(sshd.clientKey, "utf8") });
      assert.equal(added.code, 0, added.stderr);
      const exported = Object.fromEntries(fs.readFileSync(githubEnv, "utf8").split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
      agentPid = Number(exported.SSH_AGENT_PID);
      assert.ok(exported.SSH_AUTH_SOCK && agentPid > 0, "the agent step hands the agent to later steps");
      const ci = await timed("drift --all (CI example)", () => step(() => runIn(cli, "sh", ["-c", named("Drift check")!.run!], { ...literal(job.env), ...exported })));
      assert.equal(ci.code, 0, ci.stdout + ci.stderr);
      assert.match(ci.stdout, /^ssh-site: no drift, Kerberos works$/m, ci.stdout);
    } finally {
      if (agentPid) process.kill(agentPid, "SIGTERM");
      await cli.setConfig("exchange-kerberos:sshIdentityFile", sshd.clientKey);
    }
    assertNoSecrets();
  });

  describe("faults: one line with the code and the fix, nothing changed", function () {
    /** Sets `changes` (undefined removes the key), previews, and puts the stack file back as it was. */
    async function previewWith(changes: Record<string, string | undefined>): Promise<CliResult> {
      const stackFile = path.join(cli.projectDir, "Pulumi.ssh-site.yaml");
      const saved = fs.readFileSync(stackFile);
      const set = Object.entries(changes).filter(([, v]) => v !== undefined);
      const removed = Object.keys(changes).filter((k) => changes[k] === undefined);
      if (set.length) await cli.run(["config", "set-all", "--stack", "ssh-site", ...set.flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
      if (removed.length) await cli.run(["config", "rm-all", ...removed, "--stack", "ssh-site"]);
      const servers = JSON.stringify(readState(stateFile).servers);
      try {
        return await step(() => cli.preview([], { okCodes: [0, 1] }));
      } finally {
        fs.writeFileSync(stackFile, saved);
        assert.equal(JSON.stringify(readState(stateFile).servers), servers, "the preview changed a server");
      }
    }

    const rows: [string, string, () => Promise<CliResult>][] = [
      ["the host key changed", "SSH_HOST_KEY_CHANGED", () => previewWith({ "exchange-kerberos:sshKnownHostsFile": sshd.wrongKnownHostsFile })],
      ["a key the host does not accept", "SSH_AUTH_REFUSED", () => previewWith({ "exchange-kerberos:sshIdentityFile": sshd.otherKey })],
      ["sshd down", "SSH_UNREACHABLE", async () => {
        await sshd.stop();
        try {
          return await step(() => cli.preview([], { okCodes: [0, 1] }));
        } finally {
          await sshd.start();
        }
      }],
      // Reads its input and never answers: sshd accepted, the "PowerShell" hangs.
      ["a remote command that never answers", "SSH_REMOTE_COMMAND_SILENT", () => previewWith({ "exchange-kerberos:sshRemoteCommand": "cat >/dev/null", "exchange-kerberos:exchangeTimeoutMs": "4000" })],
      ["a remote command that is not there", "SSH_REMOTE_COMMAND_MISSING", () => previewWith({ "exchange-kerberos:sshRemoteCommand": "pwsh7.exe -NoLogo -NoProfile -NonInteractive -Command -" })],
      ["no credential for the second hop", "SECOND_HOP_NEEDS_CREDENTIAL", () => previewWith({ "exchange-kerberos:exchangeUser": undefined, "exchange-kerberos:exchangePassword": undefined })],
    ];
    for (const [what, code, run] of rows) {
      it(`${what}: ${code}`, async function () {
        const r = await timed(what, run);
        const line = oneLine(r, code);
        console.log(`      ${line.trim().slice(0, 400)}`);
        assertNoSecrets();
      });
    }
  });

  it("the connection cut in the middle of up: that up fails in one line, the next converges, and nothing is left running", async function () {
    const newPassword = "After'the$cut`2";
    passwords.push(newPassword);
    await cli.setConfig("exchange-kerberos:asaPassword", newPassword, { secret: true });
    // Every call waits 2.5 s on the host, so that the cut lands while a binding write is in flight.
    setFaults(stateFile, { delayMs: 2500 });
    const transcript = transcriptPath(stateFile);
    let offset = fs.statSync(transcript).size;
    const cut = (async () => {
      await waitFor("a Set-EkAsaCredential sent over ssh", () => {
        const size = fs.statSync(transcript).size;
        const fd = fs.openSync(transcript, "r");
        // From a little before the last read: a line being written as it was read is read again whole.
        const from = Math.max(0, offset - 64);
        const fresh = Buffer.alloc(size - from);
        fs.readSync(fd, fresh, 0, fresh.length, from);
        fs.closeSync(fd);
        offset = size;
        return fresh.includes("'Set-EkAsaCredential'");
      }, 120_000);
      await sshd.stop();
    })();
    const failed = await timed("up (cut)", () => step(() => cli.up([], { okCodes: [1] })));
    await cut;
    // The host comes back before anything is judged: the cases after this one need it.
    setFaults(stateFile, undefined);
    await sshd.start();
    const line = oneLine(failed, /\(SSH_CONNECTION_LOST\)/.test(failed.stdout + failed.stderr) ? "SSH_CONNECTION_LOST" : "SSH_UNREACHABLE");
    console.log(`      ${line.trim().slice(0, 400)}`);
    await timed("up (converges)", () => step(() => cli.up()));
    await timed("refresh --expect-no-changes", () => step(() => cli.refresh(["--expect-no-changes"])));
    for (const s of Object.values(readState(stateFile).servers)) {
      assert.equal(s.asa[0]?.password, newPassword, `${s.name} holds the new password`);
      assert.equal(s.asa.filter((c) => c.userName === "CORP\\SSHASA01$").length, s.asa.length, `${s.name} holds no credential of another account`);
    }
    const doctor = await step(() => cliJs(cli, ["doctor", "--stack", "ssh-site"]));
    assert.equal(doctor.code, 0, doctor.stdout);
    // The pulumi runs are over: every remote shell and every sshd connection ended with them.
    await waitFor("the remote shells to end", () => remoteShells(stateFile).length === 0, 15_000);
    await waitFor("sshd's connections to end", () => sshd.connectionPids().length === 0, 15_000);
    assertNoSecrets();
  });

  it("destroy over ssh takes the rollout back off the servers", async function () {
    await timed("destroy", () => step(() => cli.destroy()));
    for (const s of Object.values(readState(stateFile).servers)) assert.deepEqual(s.asa, [], `${s.name} holds no ASA credential`);
    assertNoSecrets();
  });
});

describe("where PowerShell has no WSMan client (pwsh 7.3+ on Linux): preview, doctor and discover refuse in one line with the ways out", function () {
  this.timeout(300_000);
  let lab: Lab;
  let cli: PulumiCli;
  let stateFile: string;

  before(async function () {
    lab = await startLab(labAddr(60));
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ek-nowsman-")), "state.json");
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2019" }]);
    // The default transport: a local PowerShell, played by the stand-in without a WSMan client.
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile, [NO_WSMAN_ENV]: "1" } });
    await cli.selectStack("no-wsman");
    await configureStack(cli, "no-wsman", lab, {
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:servers": JSON.stringify(["EX1", "EX2"]),
      "exchange-kerberos:asaName": "NOWSMAN01",
    });
  });

  after(async function () {
    await cli?.dispose();
    if (stateFile && process.env.KEEP_SCRATCH !== "1") fs.rmSync(path.dirname(stateFile), { recursive: true, force: true });
  });

  const waysOut = (text: string) => {
    assert.match(text, /run pulumi on Windows/);
    assert.match(text, /exchangeTransport ssh/);
    assert.match(text, /PSWSMan/);
  };

  it("preview refuses with WSMAN_CLIENT_MISSING, PowerShell's own words and the three ways out, and writes nothing", async function () {
    const r = await timed("preview (no WSMan)", () => cli.preview([], { okCodes: [1] }));
    const line = oneLine(r, "WSMAN_CLIENT_MISSING");
    assert.match(line, /This parameter set requires WSMan, and no supported WSMan client library was found/);
    waysOut(line);
    console.log(`      ${line.trim().slice(0, 600)}`);
    for (const x of Object.values(readState(stateFile).servers)) assert.deepEqual(x.asa, []);
  });

  it("doctor and discover say the same; one refused open serves the whole run", async function () {
    const connects = () => readState(stateFile).counters.callsPerOperation["Connect-EkExchange"] ?? 0;
    const before = connects();
    const doctor = await cliJs(cli, ["doctor", "--stack", "no-wsman"]);
    assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
    const findings = doctor.stdout.split("\n").filter((l) => l.includes("EXCHANGE_NO_WSMAN_CLIENT"));
    assert.equal(findings.length, 2, `one finding per server:\n${doctor.stdout}`);
    assert.equal(connects() - before, 1, "the second server's check failed at once with the first's refusal, without another session");
    waysOut(doctor.stdout.slice(doctor.stdout.indexOf("EXCHANGE_NO_WSMAN_CLIENT")));
    const discover = await cliJs(cli, ["discover", "--servers", "EX1,EX2", "--print", "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile, "--ldap-bind-user", lab.adminUser, "--exchange-shell", standinExecutable()], { EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword });
    assert.equal(discover.code, 2, discover.stdout + discover.stderr);
    assert.match(discover.stderr, /\(WSMAN_CLIENT_MISSING\)\. Fix: /, discover.stderr);
    waysOut(discover.stderr);
  });
});
