// Outlook outside the network: a client that reaches no domain controller gets its tickets through
// a KDC proxy (MS-KKDCP). One lab (Samba AD DC), one rollout through the real pulumi CLI (Exchange
// is the stand-in, a TEST DOUBLE), the lab's Apache front door with mod_auth_gssapi for the one
// server, and the lab's real KDC proxy: FreeIPA's kdcproxy under Apache's mod_wsgi
// (scripts/frontdoor --kdc-proxy). The client's krb5.conf names no reachable KDC. The judge is a
// real client: MIT kinit and curl --negotiate with a krb5.conf naming ONLY the proxy
// (krb5-k5tls). The doctor (the command, --json, --kdc-proxy) must agree, and name each injected
// proxy fault with its cause and fix: unreachable, TLS not trusted, TLS not naming the host, the
// realm refused, a timeout, no KDC behind it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DoctorFinding, DoctorReport } from "../../provider/doctor";
import { seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import { Lab, labAddr, run, startLab } from "../fixtures/lab";
import { PulumiCli, REPO_ROOT } from "../fixtures/pulumi-cli";

const NAMESPACE = "outlook.corp.example";
const ASA = "KP-ASA";
const SERVER = "EX1";
const PASSWORD = "Kdc-Proxy-Asa-7d1e0b3c-Outside!";
const CLI = join(REPO_ROOT, "dist", "provider", "cli.js");
const FRONTDOOR = join(REPO_ROOT, "scripts", "frontdoor");

describe("KDC proxy: the doctor and curl --negotiate get tickets only through the lab's real kdcproxy", function () {
  this.timeout(300_000);
  let lab: Lab;
  let cli: PulumiCli;
  let dir: string;
  let stateFile: string;
  let noKdcConf: string;
  let otherCa: string;
  let blackhole: Server | undefined;
  const held: Socket[] = [];
  const started: string[] = [];
  const times: Record<string, number> = {};
  // Addresses (labAddr numbers free for this suite: 12, 26 and up).
  const front = labAddr(26);
  const proxy = { good: labAddr(27), wrongName: labAddr(28), otherRealm: labAddr(29), deadKdc: labAddr(30), slowKdc: labAddr(31) };
  const hangingKdc = labAddr(32);
  const nothing = { proxy: labAddr(34), kdc: labAddr(35), kdcBehindProxy: labAddr(33) };
  const url = (addr: string): string => `https://${addr}/KdcProxy`;

  async function frontdoor(args: string[]): Promise<void> {
    const r = await run("bash", [FRONTDOOR, ...args], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`scripts/frontdoor ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }
  async function startProxy(addr: string, extra: string[] = []): Promise<void> {
    started.push(addr);
    await frontdoor(["up", addr, "--lab", lab.addr, "--kdc-proxy", "--name", addr, ...extra]);
  }
  const stopAll = (): void => {
    for (const addr of started.splice(0)) spawnSync("bash", [FRONTDOOR, "down", addr], { stdio: "ignore", timeout: 30_000 });
  };
  process.once("exit", stopAll);

  /** A krb5.conf for the client outside: the realm's only KDC is the proxy at `addr`. */
  function proxyOnlyConf(addr: string, ca: string): string {
    const file = join(dir, `krb5-proxy-${addr}.conf`);
    writeFileSync(
      file,
      `[libdefaults]\n\tdefault_realm = ${lab.realm}\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n` +
        `[realms]\n\t${lab.realm} = {\n\t\tkdc = ${url(addr)}\n\t\thttp_anchors = FILE:${ca}\n\t}\n`,
    );
    return file;
  }

  /** The real client: kinit through the proxy only (killed after `timeoutMs`), then curl --negotiate to the front door. */
  async function client(conf: string, timeoutMs = 30_000): Promise<{ kinit: boolean; curl: string; stderr: string }> {
    const ccache = `FILE:${join(dir, `cc-${Date.now()}-${Math.random().toString(36).slice(2)}`)}`;
    const env = { ...process.env, KRB5_CONFIG: conf, KRB5CCNAME: ccache, LANG: "C" };
    let kinit;
    try {
      kinit = await run("kinit", [`Administrator@${lab.realm}`], { env, input: `${lab.adminPassword}\n`, timeoutMs });
    } catch (e) {
      return { kinit: false, curl: "000", stderr: String(e) };
    }
    if (kinit.code !== 0) return { kinit: false, curl: "000", stderr: kinit.stderr };
    const r = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "--negotiate", "-u", ":", "--cacert", lab.caFile, "--resolve", `${NAMESPACE}:443:${front}`, `https://${NAMESPACE}/mapi/`], { env });
    return { kinit: true, curl: r.stdout.trim() || "000", stderr: r.stderr };
  }

  async function doctor(flags: string[]): Promise<{ exit: number; report: DoctorReport }> {
    const r = await run(process.execPath, [CLI, "doctor", "--stack", "kp", "--cwd", cli.projectDir, "--json", ...flags], {
      env: cli.environment({ EXCHANGE_STANDIN_STATE: stateFile }),
      timeoutMs: 120_000,
    });
    assert.ok(r.code === 0 || r.code === 1, `the doctor could not run (exit ${r.code}): ${r.stderr}`);
    return { exit: r.code, report: JSON.parse(r.stdout) as DoctorReport };
  }
  const proxyFinding = (report: DoctorReport): DoctorFinding | undefined => report.findings.find((f) => f.check === "kdcProxy");
  const posts = (addr: string): number => {
    try {
      return readFileSync(join(REPO_ROOT, ".lab", "frontdoor", addr, "log", "access.log"), "utf8").split("\n").filter((l) => l.includes('"POST /KdcProxy ') && / 200 /.test(l)).length;
    } catch {
      return 0;
    }
  };

  interface FaultCase {
    name: string;
    flags: string[];
    conf: string;
    code: string;
    cause: RegExp;
    fix: RegExp;
    /** The client's kinit is killed after this long (no ticket); MIT retries a failing proxy. */
    clientTimeoutMs?: number;
  }
  function faultCases(): FaultCase[] {
    return [
      {
        name: "proxy unreachable",
        flags: ["--kdc-proxy", url(nothing.proxy), "--kdc-proxy-ca-file", lab.caFile],
        conf: proxyOnlyConf(nothing.proxy, lab.caFile),
        code: "KDC_PROXY_UNREACHABLE",
        cause: new RegExp(`does not answer TLS at ${nothing.proxy.replace(/\./g, "\\.")}:443: .*ECONNREFUSED`),
        fix: /publish the KDC proxy there .*KPSSVC.*open TCP 443/,
      },
      {
        name: "TLS not trusted",
        flags: ["--kdc-proxy", url(proxy.good), "--kdc-proxy-ca-file", otherCa],
        conf: proxyOnlyConf(proxy.good, otherCa),
        code: "KDC_PROXY_CERT_UNTRUSTED",
        cause: /is not trusted here: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/,
        fix: /a CA the clients trust.*kdcProxyCaFile/,
      },
      {
        name: "TLS not naming the host",
        flags: ["--kdc-proxy", url(proxy.wrongName), "--kdc-proxy-ca-file", lab.caFile],
        conf: proxyOnlyConf(proxy.wrongName, lab.caFile),
        code: "KDC_PROXY_CERT_NAME_MISMATCH",
        cause: new RegExp(`does not name ${proxy.wrongName.replace(/\./g, "\\.")} \\(DNS:kdcproxy\\.elsewhere\\.example\\)`),
        fix: /subjectAltName holds .*Specify KDC proxy servers for Kerberos clients/,
      },
      {
        name: "realm refused",
        flags: ["--kdc-proxy", url(proxy.otherRealm), "--kdc-proxy-ca-file", lab.caFile],
        conf: proxyOnlyConf(proxy.otherRealm, lab.caFile),
        code: "KDC_PROXY_REALM_REFUSED",
        cause: /does not serve the realm CORP\.EXAMPLE \(HTTP 503: "Can't find remote/,
        fix: /configure the proxy for CORP\.EXAMPLE/,
      },
      {
        name: "proxy times out",
        flags: ["--kdc-proxy", url(proxy.slowKdc), "--kdc-proxy-ca-file", lab.caFile, "--kdc-proxy-timeout-ms", "4000"],
        conf: proxyOnlyConf(proxy.slowKdc, lab.caFile),
        code: "KDC_PROXY_TIMEOUT",
        cause: /did not answer within 4 s/,
        fix: /proxy server's load and its path to a domain controller/,
        clientTimeoutMs: 6000,
      },
      {
        name: "no KDC behind the proxy",
        // kdcproxy gives up on a refused KDC after about 17 s (2 s, then 15 s more): more than that
        // but less than the default, so a loaded machine cannot turn it into a timeout.
        flags: ["--kdc-proxy", url(proxy.deadKdc), "--kdc-proxy-ca-file", lab.caFile, "--kdc-proxy-timeout-ms", "45000"],
        conf: proxyOnlyConf(proxy.deadKdc, lab.caFile),
        code: "KDC_PROXY_KDC_UNREACHABLE",
        cause: /reached no KDC behind it \(HTTP 503: "Remote unavailable/,
        fix: /reach a domain controller of CORP\.EXAMPLE on TCP 88/,
        clientTimeoutMs: 20_000,
      },
    ];
  }

  type Client = Awaited<ReturnType<typeof client>>;
  type Doctor = Awaited<ReturnType<typeof doctor>>;
  const runs: {
    baseline?: Promise<[Client, Doctor]>;
    happy?: Promise<{ d: Doctor; through: number; c: Client }>;
    faults: Promise<{ c: FaultCase; d: Doctor; cl: Client }>[];
  } = { faults: [] };
  /** Starts `fn` now, records its wall time, and keeps a rejection for the test that awaits it. */
  function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const p = fn().finally(() => (times[name] = (Date.now() - t0) / 1000));
    p.catch(() => undefined);
    return p;
  }

  before(async function () {
    const t0 = Date.now();
    dir = mkdtempSync(join(tmpdir(), "kdc-proxy-"));
    stateFile = join(dir, "standin.json");
    seedServers(stateFile, [{ name: SERVER, version: "2019" as const }]);
    // A KDC that accepts and never answers, for the proxy that times out.
    blackhole = createServer((s) => {
      held.push(s);
      s.on("error", () => undefined);
    });
    await new Promise<void>((resolve, reject) => blackhole!.once("error", reject).listen(88, hangingKdc, resolve));
    const [l, c] = await Promise.all([startLab(labAddr(12)), PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } })]);
    lab = l;
    cli = c;
    noKdcConf = join(dir, "krb5-no-kdc.conf");
    writeFileSync(noKdcConf, `[libdefaults]\n\tdefault_realm = ${lab.realm}\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n[realms]\n\t${lab.realm} = {\n\t\tkdc = ${nothing.kdc}\n\t}\n`);
    otherCa = join(dir, "other-ca.pem");
    const ca = await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "other-ca.key"), "-out", otherCa, "-days", "2", "-subj", "/CN=Not the lab CA"]);
    assert.equal(ca.code, 0, ca.stderr);
    await cli.selectStack("kp");
    const values: Record<string, string> = {
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:namespace": NAMESPACE,
      "exchange-kerberos:servers": JSON.stringify([SERVER]),
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": JSON.stringify([front]),
      "exchange-kerberos:asaName": ASA,
      "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
      "exchange-kerberos:krb5Config": noKdcConf,
      "exchange-kerberos:httpsCaFile": lab.caFile,
    };
    // The plain values in one `pulumi config set-all`; the secrets through standard input.
    const all: Record<string, string> = { ...lab.stackConfig, ...values };
    const plain = Object.entries(all).filter(([k]) => !k.endsWith("Password"));
    await cli.run(["config", "set-all", "--stack", "kp", ...plain.flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
    await cli.setConfig("exchange-kerberos:ldapBindPassword", all["exchange-kerberos:ldapBindPassword"], { secret: true });
    await cli.setConfig("exchange-kerberos:asaPassword", PASSWORD, { secret: true });
    // The proxies start while pulumi up runs: they need only the lab.
    await Promise.all([
      cli.up(),
      startProxy(proxy.good),
      startProxy(proxy.wrongName, ["--cert-name", "kdcproxy.elsewhere.example"]),
      startProxy(proxy.otherRealm, ["--proxy-realm", "OTHER.EXAMPLE"]),
      startProxy(proxy.deadKdc, ["--proxy-kdc", `${nothing.kdcBehindProxy}:88`]),
      startProxy(proxy.slowKdc, ["--proxy-kdc", `${hangingKdc}:88`]),
    ]);
    const keytab = join(dir, `${SERVER}.keytab`);
    const k = await run(process.execPath, [CLI, "keytab", "--stack", "kp", "--cwd", cli.projectDir, "-o", keytab], { env: cli.environment({ EXCHANGE_STANDIN_STATE: stateFile }), timeoutMs: 60_000 });
    assert.equal(k.code, 0, k.stderr);
    started.push(front);
    await frontdoor(["up", front, "--lab", lab.addr, "--keytab", keytab, "--name", NAMESPACE]);
    times.setup = (Date.now() - t0) / 1000;
    // Every case runs at once (they share nothing but the lab and the stack, which they only
    // read); each test below awaits and judges its own.
    runs.baseline = timed("no KDC, no proxy", () => Promise.all([client(noKdcConf), doctor([])]));
    runs.happy = timed("through the proxy", async () => {
      const before = posts(proxy.good);
      const d = await doctor(["--kdc-proxy", url(proxy.good), "--kdc-proxy-ca-file", lab.caFile]);
      const through = posts(proxy.good) - before;
      return { d, through, c: await client(proxyOnlyConf(proxy.good, lab.caFile)) };
    });
    runs.faults = faultCases().map((c) => timed(c.name, async () => {
      const [d, cl] = await Promise.all([doctor(c.flags), client(c.conf, c.clientTimeoutMs)]);
      return { c, d, cl };
    }));
  });

  after(async function () {
    console.log(`      wall time (s): ${JSON.stringify(times)}`);
    for (const s of held) s.destroy();
    blackhole?.close();
    await Promise.all(started.splice(0).map((addr) => run("bash", [FRONTDOOR, "down", addr]).catch(() => undefined)));
    if (cli) {
      await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await cli.dispose();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("without the proxy, with a krb5.conf naming no reachable KDC, neither kinit nor the doctor gets a ticket", async () => {
    const [c, d] = await runs.baseline!;
    assert.equal(c.kinit, false, "kinit got a TGT with no reachable KDC: the case was not made");
    assert.equal(d.exit, 1);
    const codes = d.report.findings.filter((f) => f.check === "ticket").map((f) => f.code);
    assert.ok(codes.length > 0 && codes.every((x) => x === "KERBEROS_LOGON_FAILED"), JSON.stringify(codes));
    assert.equal(proxyFinding(d.report), undefined);
  });

  it("through the real kdcproxy: the doctor gets the TGT and every service ticket only through it, and the front door accepts them; so does curl --negotiate", async () => {
    const { d, through, c } = await runs.happy!;
    const bad = d.report.findings.filter((f) => f.status !== "pass");
    assert.equal(d.exit, 0, `the doctor says it will not work: ${JSON.stringify(bad)}`);
    const pf = proxyFinding(d.report);
    assert.equal(pf?.status, "pass");
    assert.match(pf!.cause, /relays MS-KKDCP to a KDC of CORP\.EXAMPLE \(it answered KDC_ERR_PREAUTH_REQUIRED\)/);
    const ticket = d.report.findings.find((f) => f.check === "ticket" && f.subject === `HTTP/${NAMESPACE}`);
    assert.equal(ticket?.status, "pass");
    assert.match(ticket!.cause, new RegExp(`through the KDC proxy ${url(proxy.good).replace(/\./g, "\\.")} only`));
    assert.equal(d.report.findings.find((f) => f.check === "decrypt")?.status, "pass");
    const endpoint = d.report.findings.filter((f) => f.check === "endpoint");
    assert.deepEqual(endpoint.map((f) => `${f.status}:${f.subject}`), [`pass:https://${NAMESPACE}/ at ${front}`]);
    assert.match(endpoint[0].cause, /AP-REP verified/);
    // The probe, the AS exchange (pre-authentication makes it two) and one TGS exchange: the KDC
    // named in the stack's krb5.conf does not exist, so every ticket came through the proxy.
    assert.ok(through >= 4, `the proxy relayed ${through} messages for the doctor`);
    assert.equal(c.kinit, true, `kinit through the proxy failed: ${c.stderr}`);
    assert.equal(c.curl, "200", `curl --negotiate through the proxy: ${c.curl} ${c.stderr}`);
  });

  it("each proxy fault: the client gets no ticket, and the doctor names it with its cause and fix", async () => {
    const results = await Promise.all(runs.faults);
    for (const { c, d, cl } of results) {
      assert.equal(cl.kinit, false, `${c.name}: kinit got a TGT through the faulty proxy: the case was not made`);
      assert.equal(d.exit, 1, `${c.name}: the doctor says it will work`);
      const f = proxyFinding(d.report);
      assert.equal(f?.status, "fail", `${c.name}: ${JSON.stringify(f)}`);
      assert.equal(f!.code, c.code, `${c.name}: ${JSON.stringify(f)}`);
      assert.match(f!.cause, c.cause, c.name);
      assert.match(f!.fix ?? "", c.fix, c.name);
      // No ticket was asked for any other way.
      assert.ok(d.report.findings.filter((x) => x.check === "ticket").every((x) => x.code === "NOT_CHECKED"), c.name);
      assert.ok(d.report.findings.filter((x) => x.check === "endpoint").every((x) => x.status !== "pass"), c.name);
    }
  });
});
