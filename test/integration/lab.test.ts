// The lab itself (scripts/lab through test/fixtures/lab.ts): two domain controllers side by side on
// two loopback addresses, each answering Kerberos, LDAPS and the Global Catalog with verification
// against its own CA, and DNS for its domain without forwarding anything else; `down` leaves no
// process and no folder.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "ldapts";
import { kinit, Lab, labAddr, run, startLab, stopLab } from "../fixtures/lab";
import { REPO_ROOT } from "../fixtures/pulumi-cli";
import { isRunning } from "../fixtures/process-tree";

const ADDRS = [process.env.LAB_TEST_ADDR_A ?? labAddr(2), process.env.LAB_TEST_ADDR_B ?? labAddr(3)];
const LAB_SCRIPT = path.join(REPO_ROOT, "scripts", "lab");

async function ldapsClient(url: string, ca: string | undefined): Promise<Client> {
  return new Client({ url, tlsOptions: ca === undefined ? {} : { ca: [ca] }, connectTimeout: 10_000, timeout: 10_000 });
}

async function dig(addr: string, ...query: string[]): Promise<string> {
  const r = await run("dig", ["+time=3", "+tries=1", `@${addr}`, ...query], { timeoutMs: 20_000 });
  assert.strictEqual(r.code, 0, `dig @${addr} ${query.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Processes (any) that hold a file of the lab's folder open. */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${dir}/`)) {
          found.push(pid);
          break;
        }
      } catch {
        // the fd or the process went away
      }
    }
  }
  return found;
}

describe("lab: two Samba AD DCs side by side (scripts/lab)", function () {
  this.timeout(120_000);
  const labs: Lab[] = [];
  let tmp: string;

  before(async function () {
    this.timeout(15 * 60_000); // a fresh machine provisions the domain image first
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lab-test-"));
    labs.push(...(await Promise.all(ADDRS.map((a) => startLab(a)))));
  });

  after(async function () {
    for (const lab of labs) await stopLab(lab);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("describes each lab with its own address, CA, krb5.conf and stack config", function () {
    assert.deepStrictEqual(labs.map((l) => l.addr), ADDRS);
    for (const lab of labs) {
      assert.strictEqual(lab.realm, "CORP.EXAMPLE");
      assert.strictEqual(lab.baseDn, "DC=corp,DC=example");
      assert.strictEqual(lab.ldapUrl, `ldaps://${lab.addr}`);
      assert.strictEqual(lab.stackConfig["exchange-kerberos:ldapUrl"], lab.ldapUrl);
      assert.strictEqual(lab.stackConfig["exchange-kerberos:ldapCaFile"], lab.caFile);
      assert.strictEqual(lab.stackConfig["exchange-kerberos:gcUrl"], lab.gcUrl);
      assert.match(fs.readFileSync(lab.krb5Conf, "utf8"), new RegExp(`kdc = ${lab.addr.replace(/\./g, "\\.")}\\n`));
    }
    assert.notStrictEqual(fs.readFileSync(labs[0].caFile, "utf8"), fs.readFileSync(labs[1].caFile, "utf8"));
    assert.notStrictEqual(labs[0].adminPassword, labs[1].adminPassword);
  });

  it("binds every listening socket to the lab's own address only", async function () {
    for (const lab of labs) {
      const r = await run("bash", [LAB_SCRIPT, "status", lab.addr]);
      assert.strictEqual(r.code, 0, r.stderr);
      const sockets = r.stdout.split("\n").filter((l) => /^\s+(tcp|udp) /.test(l)).map((l) => l.trim().split(/\s+/)[1]);
      for (const port of ["53", "88", "636", "3269"]) assert.ok(sockets.includes(`${lab.addr}:${port}`), `${lab.addr}:${port} not in ${sockets}`);
      assert.deepStrictEqual(sockets.filter((s) => !s.startsWith(`${lab.addr}:`)), []);
    }
  });

  it("kinit Administrator works against each KDC, and a wrong password fails", async function () {
    for (const lab of labs) {
      const cc = path.join(tmp, `cc-${lab.addr}`);
      await kinit(lab, `Administrator@${lab.realm}`, lab.adminPassword, cc);
      const klist = await run("klist", [], { env: { ...process.env, KRB5CCNAME: `FILE:${cc}`, KRB5_CONFIG: lab.krb5Conf } });
      assert.strictEqual(klist.code, 0, klist.stderr);
      assert.match(klist.stdout, /Default principal: Administrator@CORP\.EXAMPLE/);
      assert.match(klist.stdout, /krbtgt\/CORP\.EXAMPLE@CORP\.EXAMPLE/);
      await assert.rejects(kinit(lab, `Administrator@${lab.realm}`, `${lab.adminPassword}x`, path.join(tmp, "cc-bad")), /kinit Administrator@CORP\.EXAMPLE failed/);
    }
    // Each lab has its own admin password: one lab's does not open the other.
    await assert.rejects(kinit(labs[1], `Administrator@${labs[1].realm}`, labs[0].adminPassword, path.join(tmp, "cc-cross")));
  });

  it("serves LDAPS and the Global Catalog with a certificate that verifies against the lab's CA", async function () {
    for (const lab of labs) {
      const ca = fs.readFileSync(lab.caFile, "utf8");
      const ldap = await ldapsClient(lab.ldapUrl, ca);
      try {
        await ldap.bind(lab.adminUser, lab.adminPassword);
        const { searchEntries } = await ldap.search(lab.baseDn, {
          scope: "sub",
          filter: "(servicePrincipalName=HTTP/legacy.corp.example)",
          attributes: ["sAMAccountName", "servicePrincipalName"],
        });
        assert.deepStrictEqual(searchEntries.map((e) => [e.dn, e.sAMAccountName]), [[`CN=LEGACYWEB,OU=Servers,${lab.baseDn}`, "LEGACYWEB$"]]);
        const ous = await ldap.search(lab.baseDn, { scope: "one", filter: "(objectClass=organizationalUnit)", attributes: ["ou"] });
        const names = ous.searchEntries.map((e) => String(e.ou)).sort();
        for (const ou of ["Exchange Security Groups", "Service Accounts"]) assert.ok(names.includes(ou), `no OU=${ou} in ${names}`);
        const groups = await ldap.search(`OU=Exchange Security Groups,${lab.baseDn}`, { scope: "one", filter: "(objectClass=group)", attributes: ["cn"] });
        assert.ok(groups.searchEntries.length >= 2, "fewer than two groups in OU=Exchange Security Groups");
      } finally {
        await ldap.unbind();
      }

      const gc = await ldapsClient(lab.gcUrl, ca);
      try {
        await gc.bind(lab.adminUser, lab.adminPassword);
        const { searchEntries } = await gc.search("", { scope: "sub", filter: "(sAMAccountName=LEGACYWEB$)", attributes: ["servicePrincipalName"] });
        assert.strictEqual(searchEntries.length, 1);
        assert.ok([searchEntries[0].servicePrincipalName].flat().includes("HTTP/legacy.corp.example"));
      } finally {
        await gc.unbind();
      }

      // Verification is really on: the system's trust store does not know the lab's CA ...
      const untrusted = await ldapsClient(lab.ldapUrl, undefined);
      await assert.rejects(untrusted.bind(lab.adminUser, lab.adminPassword), /certificate/);
      // ... and the certificate names dc1.<domain> as well as the address.
      const byName = new Client({ url: lab.ldapUrl, tlsOptions: { ca: [ca], servername: lab.dcHost }, connectTimeout: 10_000 });
      await byName.bind(lab.adminUser, lab.adminPassword);
      await byName.unbind();
      const wrongName = new Client({ url: lab.ldapUrl, tlsOptions: { ca: [ca], servername: `nothere.${lab.domain}` }, connectTimeout: 10_000 });
      await assert.rejects(wrongName.bind(lab.adminUser, lab.adminPassword), /altnames|does not match/i);
    }
    // The labs have separate CAs: one's does not verify the other's certificate.
    const crossed = await ldapsClient(labs[1].ldapUrl, fs.readFileSync(labs[0].caFile, "utf8"));
    await assert.rejects(crossed.bind(labs[1].adminUser, labs[1].adminPassword), /certificate/);
  });

  it("answers DNS for its domain with its own address", async function () {
    for (const lab of labs) {
      for (const name of [lab.dcHost, `legacy.${lab.domain}`, lab.domain]) {
        const out = await dig(lab.addr, "+short", name, "A");
        assert.strictEqual(out.trim(), lab.addr, `${name} @${lab.addr}`);
      }
      const srv = await dig(lab.addr, "+short", `_ldap._tcp.${lab.domain}`, "SRV");
      assert.match(srv, new RegExp(`389 ${lab.dcHost.replace(/\./g, "\\.")}\\.`));
    }
  });

  it("does not forward: an outside name gets no answer, recursion is not offered, no forwarder is configured", async function () {
    for (const lab of labs) {
      const out = await dig(lab.addr, "example.com", "A");
      assert.match(out, /status: (NXDOMAIN|REFUSED|SERVFAIL)/, out);
      assert.match(out, /ANSWER: 0,/, out);
      const flags = /;; flags: ([a-z ]*);/.exec(out)?.[1].split(" ") ?? [];
      assert.ok(flags.includes("qr") && !flags.includes("ra"), `flags: ${flags}`);
      const fw = await run("testparm", ["-s", "--parameter-name=dns forwarder", path.join(lab.dir, "etc", "smb.conf")]);
      assert.strictEqual(fw.code, 0, fw.stderr);
      assert.strictEqual(fw.stdout.trim(), "");
    }
  });

  it("`down` stops every process of the lab and deletes its folder, leaving the other lab up", async function () {
    const [first, second] = labs;
    const rootPid = fs.readFileSync(path.join(first.dir, "run", "lab.pid"), "utf8").trim();
    assert.ok(processesUsing(first.dir).length > 1, "expected the lab's processes to hold its files open");
    const down = await run("bash", [LAB_SCRIPT, "down", first.addr], { timeoutMs: 60_000 });
    assert.strictEqual(down.code, 0, down.stderr);
    assert.ok(!isRunning(Number(rootPid)), `root samba ${rootPid} still alive`);
    assert.deepStrictEqual(processesUsing(first.dir), []);
    assert.ok(!fs.existsSync(first.dir), `${first.dir} still there`);
    const status = await run("bash", [LAB_SCRIPT, "status", first.addr]);
    assert.strictEqual(status.code, 3, status.stdout);
    assert.strictEqual((await dig(second.addr, "+short", second.dcHost, "A")).trim(), second.addr);
  });
});
