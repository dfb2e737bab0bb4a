// The doctor with nothing but Node: the README's commands (`npm run lab-doctor`, which runs
// `node dist/provider/cli.js doctor --stack …`, the same through the KDC proxy, and `keytab`) with a
// PATH holding only node, pulumi and the Exchange shell (the stand-in, a TEST DOUBLE for Exchange)
// and KRB5_CONFIG unset, against one lab (Samba AD DC), a rollout made with the real pulumi CLI,
// the lab's Apache front door for each server and its real KDC proxy (FreeIPA kdcproxy).
//
// What is observed, and how: the report equals the full-PATH run's (KRB5_CONFIG set there), and
// the kernel's own record of every program started, by strace -f (execve, and the clones that say
// which process started which): the doctor's process starts only pulumi and the Exchange shell,
// and no process of the tree starts, or even tries to start (a PATH lookup leaves an execve that
// fails), an MIT Kerberos program or curl.
//
// Then the clock: the doctor run 20 minutes ahead (libfaketime), directly and through the proxy.
// The judge is MIT: kinit with the same clock, which corrects for the KDC's time (kdc_timesync),
// and curl --negotiate with its tickets. Both must get in, and the doctor must agree, with the
// measured skew as a warning (CLOCK_OFFSET) and no key blamed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { DoctorFinding, DoctorReport } from "../../provider/doctor";
import { seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import { Lab, labAddr, run, RunResult, startLab } from "../fixtures/lab";
import { PulumiCli, REPO_ROOT } from "../fixtures/pulumi-cli";

const NAMESPACE = "outlook.corp.example";
const SERVERS = ["EX1", "EX2"];
const ASA = "NO-ASA";
const PASSWORD = "Node-Only-Asa-5c2e9d71-Doctor!";
const CLI = join(REPO_ROOT, "dist", "provider", "cli.js");
const FRONTDOOR = join(REPO_ROOT, "scripts", "frontdoor");
const STRACE = "/usr/bin/strace";
/** Programs the doctor used to start (MIT's), and curl: none may be started, or looked for. */
const FOREIGN = ["kinit", "kvno", "klist", "kdestroy", "ktutil", "kswitch", "curl"];
const AHEAD = "+20m";

/** The processes strace saw: who started whom, and every execve (tried or done) of each. */
interface Trace {
  root: number;
  parent: Map<number, number>;
  execs: { pid: number; path: string; ok: boolean }[];
}

function readTrace(file: string): Trace {
  const parent = new Map<number, number>();
  const execs: Trace["execs"] = [];
  const pendingExec = new Map<number, string>();
  let root = -1;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    // strace pads a pid shorter than the widest so far ("1582  execve…").
    const pid = Number(/^(\d+)\s/.exec(line)?.[1]);
    if (!pid) continue;
    if (root < 0) root = pid;
    const exec = /^\d+\s+execve\("([^"]+)"/.exec(line);
    if (exec) {
      if (/<unfinished \.\.\.>$/.test(line)) pendingExec.set(pid, exec[1]);
      else execs.push({ pid, path: exec[1], ok: / = 0$/.test(line) });
      continue;
    }
    const resumedExec = /^\d+\s+<\.\.\. execve resumed>.* = (-?\d+)/.exec(line);
    if (resumedExec && pendingExec.has(pid)) {
      execs.push({ pid, path: pendingExec.get(pid)!, ok: resumedExec[1] === "0" });
      pendingExec.delete(pid);
      continue;
    }
    const clone = /^\d+\s+(?:(?:clone3?|vfork|fork)\(|<\.\.\. (?:clone3?|vfork|fork) resumed>).* = (\d+)$/.exec(line);
    if (clone) parent.set(Number(clone[1]), pid);
  }
  return { root, parent, execs };
}

/** The process that started `pid`'s program: its nearest ancestor that exec'd one (threads and
 * forks that have not exec'd belong to the program that made them). */
function starter(t: Trace, pid: number): number {
  const execd = new Set(t.execs.filter((e) => e.ok).map((e) => e.pid));
  for (let p = t.parent.get(pid); p !== undefined; p = t.parent.get(p)) if (execd.has(p)) return p;
  return -1;
}

describe("the doctor with nothing but Node: no MIT tool on PATH, KRB5_CONFIG unset; and a clock 20 minutes ahead", function () {
  this.timeout(300_000);
  let lab: Lab;
  let cli: PulumiCli;
  let dir: string;
  let stateFile: string;
  let nodeOnlyPath: string;
  const started: string[] = [];
  const times: Record<string, number> = {};
  const front = { EX1: labAddr(62), EX2: labAddr(63) };
  const proxyAddr = labAddr(64);
  const proxyUrl = `https://${proxyAddr}/KdcProxy`;
  let proxyFlags: string[];
  let keytabTraces: Trace[] = [];

  async function frontdoor(args: string[]): Promise<void> {
    const r = await run("bash", [FRONTDOOR, ...args], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`scripts/frontdoor ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }
  const stopAll = (): void => {
    for (const addr of started.splice(0)) spawnSync("bash", [FRONTDOOR, "down", addr], { stdio: "ignore", timeout: 30_000 });
  };
  process.once("exit", stopAll);

  /** The environment `npm run lab-doctor` gives the doctor (the stack's backend, passphrase, stand-in state), with `path` and no KRB5_CONFIG. */
  function env(path: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const e = cli.environment({ EXCHANGE_STANDIN_STATE: stateFile, ...extra });
    if (path !== undefined) {
      e.PATH = path;
      delete e.KRB5_CONFIG;
    }
    return e;
  }

  /** `node dist/provider/cli.js <command> --stack no …` (scripts/lab-doctor's exec line), with a
   * full PATH and KRB5_CONFIG set, or only node, pulumi and the stand-in on PATH and traced. */
  async function command(args: string[], how: "full" | "node-only" | "ahead", allowed = [0, 1]): Promise<{ r: RunResult; trace?: Trace }> {
    const argv = [CLI, ...args.slice(0, 1), "--stack", "no", "--cwd", cli.projectDir, ...args.slice(1)];
    const t0 = Date.now();
    let r: RunResult;
    let trace: Trace | undefined;
    if (how === "node-only") {
      const file = join(dir, `strace-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
      r = await run(STRACE, ["-f", "-qq", "--seccomp-bpf", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", file, join(nodeOnlyPath, "node"), ...argv], { env: env(nodeOnlyPath), timeoutMs: 120_000 });
      trace = readTrace(file);
    } else if (how === "ahead") {
      r = await run("faketime", ["-f", AHEAD, process.execPath, ...argv], { env: env(undefined, { KRB5_CONFIG: lab.krb5Conf }), timeoutMs: 120_000 });
    } else {
      r = await run(process.execPath, argv, { env: env(undefined, { KRB5_CONFIG: lab.krb5Conf }), timeoutMs: 120_000 });
    }
    times[`${args[0]} ${how}${args.includes("--kdc-proxy") ? " (proxy)" : ""}`] = (Date.now() - t0) / 1000;
    assert.ok(allowed.includes(r.code), `${args[0]} (${how}) exit ${r.code}: ${r.stderr}${r.stdout.slice(0, 2000)}`);
    return { r, trace };
  }

  async function doctor(how: "full" | "node-only" | "ahead", flags: string[] = []): Promise<{ exit: number; report: DoctorReport; trace?: Trace }> {
    const { r, trace } = await command(["doctor", "--json", ...flags], how);
    return { exit: r.code, report: JSON.parse(r.stdout) as DoctorReport, trace };
  }

  /** Only pulumi and the Exchange shell are started by the doctor's (or keytab's) process, and
   * nothing anywhere in the tree starts or looks for a Kerberos tool or curl. */
  function assertStartsOnlyPulumiAndTheShell(t: Trace, what: string): void {
    const shell = standinExecutable();
    const tried = t.execs.filter((e) => FOREIGN.includes(basename(e.path)));
    assert.deepEqual(tried, [], `${what}: tried to start ${JSON.stringify(tried)}`);
    const rootExecs = t.execs.filter((e) => e.pid === t.root && e.ok).map((e) => e.path);
    assert.deepEqual(rootExecs, [join(nodeOnlyPath, "node")], `${what}: the traced process is the doctor's node`);
    // Every other program started, and by whom: a process is what it first exec'd (a later execve
    // in the same process is that program replacing itself: the stand-in's sh execs node). The
    // doctor's process starts pulumi and the shell; what the shell starts is the shell's business.
    const first = new Map<number, string>();
    for (const e of t.execs) if (e.ok && !first.has(e.pid)) first.set(e.pid, e.path);
    const children = [...first].filter(([pid]) => pid !== t.root).map(([pid, path]) => ({ pid, path, by: starter(t, pid) }));
    const pulumi = join(nodeOnlyPath, "pulumi");
    const byDoctor = [...new Set(children.filter((c) => c.by === t.root).map((c) => c.path))].sort();
    assert.ok(byDoctor.includes(pulumi), `${what}: pulumi was not started: ${JSON.stringify(children)}`);
    assert.deepEqual(byDoctor.filter((p) => p !== pulumi && p !== shell), [], `${what}: the doctor's process started more than pulumi and the Exchange shell: ${JSON.stringify(byDoctor)}`);
    const shells = new Set(children.filter((c) => c.path === shell).map((c) => c.pid));
    const underShell = (pid: number): boolean => {
      for (let p: number | undefined = pid; p !== undefined; p = t.parent.get(p)) if (shells.has(p)) return true;
      return false;
    };
    const elsewhere = children.filter((c) => c.by !== t.root && !underShell(c.pid));
    assert.deepEqual(elsewhere, [], `${what}: started by something other than the doctor or the Exchange shell`);
  }

  const stripTime = (r: DoctorReport): Omit<DoctorReport, "checkedAt"> => {
    const { checkedAt: _, ...rest } = r;
    return rest;
  };
  const finding = (r: DoctorReport, check: string): DoctorFinding[] => r.findings.filter((f) => f.check === check);

  before(async function () {
    const t0 = Date.now();
    assert.ok(existsSync(STRACE), "strace is missing: bash scripts/setup installs it");
    dir = mkdtempSync(join(tmpdir(), "node-only-"));
    stateFile = join(dir, "standin.json");
    seedServers(stateFile, SERVERS.map((name) => ({ name, version: "2019" as const })));
    // A PATH of symlinks to exactly node, pulumi and the Exchange shell.
    nodeOnlyPath = join(dir, "bin");
    const pulumi = join(REPO_ROOT, ".tools", "bin", "pulumi");
    assert.ok(existsSync(pulumi), `${pulumi}: bash scripts/setup builds it`);
    spawnSync("mkdir", [nodeOnlyPath]);
    symlinkSync(process.execPath, join(nodeOnlyPath, "node"));
    symlinkSync(pulumi, join(nodeOnlyPath, "pulumi"));
    symlinkSync(standinExecutable(), join(nodeOnlyPath, basename(standinExecutable())));
    const [l, c] = await Promise.all([startLab(labAddr(61)), PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } })]);
    lab = l;
    cli = c;
    proxyFlags = ["--kdc-proxy", proxyUrl, "--kdc-proxy-ca-file", lab.caFile];
    await cli.selectStack("no");
    // As the README's lab stack (examples/Pulumi.lab.yaml): krb5Config names the lab's krb5.conf,
    // which the doctor now reads for its kdc lines only.
    const all: Record<string, string> = {
      ...lab.stackConfig,
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:namespace": NAMESPACE,
      "exchange-kerberos:servers": JSON.stringify(SERVERS),
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": JSON.stringify([front.EX1, front.EX2]),
      "exchange-kerberos:asaName": ASA,
      "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
      "exchange-kerberos:krb5Config": lab.krb5Conf,
      "exchange-kerberos:httpsCaFile": lab.caFile,
    };
    const plain = Object.entries(all).filter(([k]) => !k.endsWith("Password"));
    await cli.run(["config", "set-all", "--stack", "no", ...plain.flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
    await cli.setConfig("exchange-kerberos:ldapBindPassword", all["exchange-kerberos:ldapBindPassword"], { secret: true });
    await cli.setConfig("exchange-kerberos:asaPassword", PASSWORD, { secret: true });
    started.push(proxyAddr);
    await Promise.all([cli.up(), frontdoor(["up", proxyAddr, "--lab", lab.addr, "--kdc-proxy", "--name", proxyAddr])]);
    // The front doors' keytabs, each written by `keytab` with nothing but node on PATH.
    for (const s of SERVERS) {
      const file = join(dir, `${s}.keytab`);
      const { trace } = await command(["keytab", "-o", file], "node-only", [0]);
      keytabTraces.push(trace!);
      started.push(front[s as keyof typeof front]);
      await frontdoor(["up", front[s as keyof typeof front], "--lab", lab.addr, "--keytab", file, "--name", NAMESPACE]);
    }
    times.setup = (Date.now() - t0) / 1000;
  });

  after(async function () {
    console.log(`      wall time (s): ${JSON.stringify(times)}`);
    await Promise.all(started.splice(0).map((addr) => run("bash", [FRONTDOOR, "down", addr]).catch(() => undefined)));
    if (cli) {
      await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await cli.dispose();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("keytab writes the front door's keytab starting only pulumi", () => {
    for (const t of keytabTraces) {
      assertStartsOnlyPulumiAndTheShell(t, "keytab");
      assert.ok(!t.execs.some((e) => e.ok && e.path === standinExecutable()), "keytab needs no Exchange");
    }
  });

  for (const via of ["the KDC", "the KDC proxy"] as const) {
    it(`doctor (${via}): the same report with only node, pulumi and the Exchange shell on PATH and KRB5_CONFIG unset, starting nothing else`, async () => {
      const flags = via === "the KDC proxy" ? proxyFlags : [];
      const full = await doctor("full", flags);
      const bare = await doctor("node-only", flags);
      assert.equal(full.exit, 0, `the full-PATH doctor says it will not work: ${JSON.stringify(full.report.findings.filter((f) => f.status !== "pass"))}`);
      assert.deepEqual(stripTime(bare.report), stripTime(full.report));
      assert.equal(bare.exit, full.exit);
      assert.deepEqual(finding(bare.report, "endpoint").map((f) => `${f.status}:${f.subject}`).sort(), [`pass:https://${NAMESPACE}/ at ${front.EX1}`, `pass:https://${NAMESPACE}/ at ${front.EX2}`]);
      const ticket = finding(bare.report, "ticket")[0];
      if (via === "the KDC proxy") assert.match(ticket.cause, /through the KDC proxy .* only/);
      else assert.match(ticket.cause, new RegExp(`KDC ${lab.addr.replace(/\./g, "\\.")}:88 \\(TCP\\): the kdc lines of ${lab.realm.replace(/\./g, "\\.")} in exchange-kerberos:krb5Config`));
      assertStartsOnlyPulumiAndTheShell(bare.trace!, `doctor via ${via}`);
      assert.ok(bare.trace!.execs.some((e) => e.ok && e.path === standinExecutable()), "the Exchange shell was started (checks 6 and 7)");
    });
  }

  for (const via of ["the KDC", "the KDC proxy"] as const) {
    it(`a clock 20 minutes ahead (${via}): MIT's kinit and curl --negotiate get in (kdc_timesync), and so does the doctor, warning CLOCK_OFFSET and blaming no key`, async () => {
      const ccache = `FILE:${join(dir, `cc-ahead-${via.length}`)}`;
      let conf = lab.krb5Conf;
      if (via === "the KDC proxy") {
        conf = join(dir, "krb5-proxy.conf");
        writeFileSync(conf, `[libdefaults]\n\tdefault_realm = ${lab.realm}\n\tdns_lookup_kdc = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n[realms]\n\t${lab.realm} = {\n\t\tkdc = ${proxyUrl}\n\t\thttp_anchors = FILE:${lab.caFile}\n\t}\n`);
      }
      const mitEnv = { ...process.env, KRB5_CONFIG: conf, KRB5CCNAME: ccache, LANG: "C" };
      const kinit = await run("faketime", ["-f", AHEAD, "kinit", `Administrator@${lab.realm}`], { env: mitEnv, input: `${lab.adminPassword}\n` });
      assert.equal(kinit.code, 0, `MIT kinit 20 minutes ahead: ${kinit.stderr}`);
      for (const addr of Object.values(front)) {
        const curl = await run("faketime", ["-f", AHEAD, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "--negotiate", "-u", ":", "--cacert", lab.caFile, "--resolve", `${NAMESPACE}:443:${addr}`, `https://${NAMESPACE}/mapi/`], { env: mitEnv });
        assert.equal(curl.stdout.trim(), "200", `curl --negotiate 20 minutes ahead at ${addr}: ${curl.stderr}`);
      }
      const d = await doctor("ahead", via === "the KDC proxy" ? proxyFlags : []);
      const bad = d.report.findings.filter((f) => f.status !== "pass");
      assert.equal(d.exit, 0, `the doctor disagrees with MIT and curl: ${JSON.stringify(bad)}`);
      assert.deepEqual(bad.map((f) => `${f.status}:${f.code}`), ["warn:CLOCK_OFFSET"]);
      const seconds = Number(/clock is (\d+) s ahead of the KDC's/.exec(bad[0].cause)?.[1]);
      assert.ok(seconds >= 1195 && seconds <= 1205, `measured ${bad[0].cause}`);
      assert.match(bad[0].cause, /refused: Kerberos allows 5 minutes/);
      assert.match(bad[0].fix ?? "", /synchronise this machine's clock/);
      assert.equal(finding(d.report, "endpoint").filter((f) => f.status === "pass").length, 2, "check 8 passes at both addresses: the AP-REQ carried the KDC's time");
    });
  }
});
