// Exchange's own rules (issue 29), each enforced by the stand-in (a TEST DOUBLE, not Exchange) as
// Exchange and Windows enforce it, and each met by the provider: the ASA credential set and its
// passwords read only in a session on the server itself; a Restricted execution policy and the
// Group Policy that overrides the shell's; the session's culture; Outlook Anywhere's combinations;
// the ASA status that needs the Remote Registry service; runspaces that count until Remove-PSSession.
// (The KDC proxy and IIS's binding: kdc-proxy-server.test.ts.) Sources: the stand-in's README.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { asaBindingImpl } from "../../../provider/resources/asa-binding";
import { exchangeVirtualDirectoryUrlsImpl } from "../../../provider/resources/exchange-virtual-directory-urls";
import { outlookAnywhereAuthImpl } from "../../../provider/resources/outlook-anywhere-auth";
import type { ResourceImpl } from "../../../provider/resources/dynamic";
import { KerberosRolloutError } from "../../../provider/errors";
import { bootstrapScript, modulePath, operationScript, parseResult } from "../../../provider/exchange/channel";
import { closeExchangeSessions } from "../../../provider/exchange/session";
import { exchangeServer, getAsaCredentials, getOutlookAuth, getVdirUrls, setVdirUrls, testAsaCredentials } from "../../../provider/exchange/operations";
import { Secret } from "../../../provider/exchange/sealing";
import { framedScript, newFrameId } from "../../../provider/exchange/framing";
import { editServer, getServer, mutateState, readState, readTranscript, setFaults, standinExecutable } from "../../fixtures/exchange-standin/state";
import { startStandin, type Harness } from "./standin-harness";

async function check(impl: ResourceImpl, news: Record<string, unknown>) {
  return impl.check({}, news);
}

async function create(impl: ResourceImpl, news: Record<string, unknown>) {
  const r = await check(impl, news);
  assert.deepEqual(r.failures ?? [], []);
  return impl.create(r.inputs);
}

const THREE = [
  { name: "EX1", version: "2019" as const },
  { name: "EX2", version: "2016" as const },
  { name: "EX3", version: "2013" as const },
];

const code = (c: string) => (e: unknown) => e instanceof KerberosRolloutError && e.code === c;

describe("Exchange's rule: the ASA credential is set, and its passwords read, only on the server itself (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    // exchangeEndpoint: every other operation goes through EX1's shared sessions.
    h = await startStandin(THREE, { exchangeEndpoint: "EX1" });
  });
  after(async () => h.done());

  it("binds every server of an exchangeEndpoint site, each in a session running on that server (TargetServer)", async () => {
    for (const s of ["EX2", "EX3"]) {
      const b = await create(asaBindingImpl, { server: s, account: "CORP\\EXCH-ASA$", password: `pw-${s}`, adPassword: "pw-ad" });
      assert.deepEqual(getServer(h.stateFile, s).asa.map((c) => c.password), [`pw-${s}`, "pw-ad"], `${s} holds the new and AD's password`);
      assert.deepEqual((await asaBindingImpl.read(b.id, b.outs)).props.drift, [], `${s}: read through the shared session (the status)`);
      const proof = await testAsaCredentials(await exchangeServer(s), `pw-${s}`);
      assert.deepEqual(proof.map((c) => c.holdsPassword), [true, false], `${s}: the doctor's comparison, on the server too`);
    }
    const lines = h.scriptLines().filter((l) => l.includes("'Connect-EkExchange'")).map((l) => JSON.parse(Buffer.from(/-ParamsBase64 '([^']+)'/.exec(l)![1], "base64").toString("utf8")) as { Endpoint: string; TargetServer?: string });
    assert.deepEqual(lines.filter((p) => p.TargetServer !== undefined).map((p) => [p.Endpoint, p.TargetServer]).sort(), [["ex2.corp.example", "ex2.corp.example"], ["ex3.corp.example", "ex3.corp.example"]], "as RollAlternateServiceAccountPassword.ps1: http://<fqdn>/powershell?…;TargetServer=<fqdn>");
    assert.ok(lines.some((p) => p.Endpoint === "EX1" && p.TargetServer === undefined), "the shared session at the endpoint");
  });

  it("the stand-in refuses the write and the password read in a session on another server (CannotManipulateAlternateServiceAccountsRemotely), and allows the removal there", async () => {
    const ex1 = await exchangeServer("EX1");
    const call = (op: "Set-EkAsaCredential" | "Test-EkAsaCredential", params: Record<string, unknown>) => ex1.session.call(op, { Server: "EX2", Noun: "ClientAccessService", ...params } as never, { what: "test", idempotent: true });
    await assert.rejects(call("Set-EkAsaCredential", { Account: "CORP\\EXCH-ASA$", Password: new Secret("x") }), /CannotManipulateAlternateServiceAccountsRemotely|can't be managed remotely.*ex1\.corp\.example.*ex2\.corp\.example/);
    await assert.rejects(call("Test-EkAsaCredential", { Password: new Secret("x") }), /can't be managed remotely/);
    const removed = await ex1.session.call("Remove-EkAsaCredential", { Server: "EX2", Noun: "ClientAccessService" }, { what: "test", idempotent: true });
    assert.deepEqual(removed.credentials, [], "a removal needs no password: Exchange does it from any server");
  });

  it("exchangeConnection local: refused at preview with its own code (the snap-in runs as the user, Exchange manages the ASA only as LocalSystem), and the stand-in refuses it too", async () => {
    const f = (await check(asaBindingImpl, { server: "EX1", account: "CORP\\EXCH-ASA$", password: "pw", exchange: { connection: "local" } })).failures ?? [];
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.equal(f[0].property, "exchange-kerberos:exchangeConnection");
    assert.match(f[0].reason, /is local: binding the ASA credential needs a remote session running on the server itself, as LocalSystem.*Fix: remove exchange-kerberos:exchangeConnection/);
    // The snap-in on EX1 itself: past the preview, create refuses before it writes; and Exchange's
    // own refusal (the shell does not run as LocalSystem).
    mutateState(h.stateFile, (s) => {
      s.localServer = "EX1";
    });
    await assert.rejects(asaBindingImpl.create({ server: "EX1", account: "CORP\\EXCH-ASA$", password: "pw", exchange: { connection: "local" } }), code("ASA_NEEDS_REMOTE_SESSION"));
    assert.deepEqual(getServer(h.stateFile, "EX1").asa, []);
    const local = await exchangeServer("EX1", { connection: "local" });
    await assert.rejects(local.session.call("Set-EkAsaCredential", { Server: "EX1", Noun: "ClientAccessService", Account: "CORP\\EXCH-ASA$", Password: new Secret("x") }, { what: "test", idempotent: true }), /Only processes running under LocalSystem account can manage Alternate Service Account settings for a computer/);
  });
});

describe("Windows' rule: the execution policy, Restricted on a Windows client unless the shell bypasses it, and Group Policy above both (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX1", version: "2019" }]);
  });
  after(async () => h.done());
  afterEach(async () => {
    await closeExchangeSessions();
    mutateState(h.stateFile, (s) => delete s.executionPolicy);
  });

  it("a shell started without -ExecutionPolicy Bypass cannot load the module (Restricted, the Windows client default); the provider's shell can", async () => {
    const id = newFrameId();
    const child = spawn(standinExecutable(), ["-NoLogo", "-NoProfile", "-NonInteractive", "-NoExit", "-Command", "-"], { env: process.env, stdio: "pipe" });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdin.end(framedScript(bootstrapScript(modulePath()), id));
    await new Promise((r) => child.once("close", r));
    assert.match(err, /ExchangeKerberos\.psm1 cannot be loaded because running scripts is disabled on this system/);
    assert.deepEqual((await getOutlookAuth(await exchangeServer("EX1"))).mapi.iisAuthenticationMethods, ["Ntlm", "OAuth", "Negotiate"], "the provider's shell runs with -ExecutionPolicy Bypass");
  });

  it("Group Policy's MachinePolicy or UserPolicy overrides -ExecutionPolicy Bypass: the run stops with its own code, naming the scope and the policy", async () => {
    mutateState(h.stateFile, (s) => {
      s.executionPolicy = { machinePolicy: "AllSigned" };
    });
    await assert.rejects(exchangeServer("EX1"), (e: unknown) => code("EXECUTION_POLICY_BY_GROUP_POLICY")(e) && /AllSigned \(scope MachinePolicy, "Turn on Script Execution" under Computer Configuration\).*overrides the -ExecutionPolicy Bypass/.test((e as Error).message));
    await closeExchangeSessions();
    mutateState(h.stateFile, (s) => {
      s.executionPolicy = { userPolicy: "Restricted" };
    });
    await assert.rejects(exchangeServer("EX1"), (e: unknown) => code("EXECUTION_POLICY_BY_GROUP_POLICY")(e) && /Restricted \(scope UserPolicy/.test((e as Error).message));
    await closeExchangeSessions();
    mutateState(h.stateFile, (s) => {
      s.executionPolicy = { machinePolicy: "RemoteSigned" };
    });
    assert.equal((await exchangeServer("EX1")).version, "2019", "a policy that runs local scripts is no obstacle");
  });
});

describe("Exchange's rule: what the session formats follows its culture (stand-in, a German machine)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX2", version: "2016" }], {}, { culture: "de-DE" });
  });
  after(async () => h.done());

  it("reads the ASA status on a German machine: the session's culture is pinned to en-US, so the status arrives as objects, not German text", async () => {
    const b = await create(asaBindingImpl, { server: "EX2", account: "CORP\\EXCH-ASA$", password: "pw" });
    const read = await asaBindingImpl.read(b.id, b.outs);
    assert.equal(read.id, b.id, "the binding is found, not taken for deleted");
    assert.deepEqual(read.props.drift, []);
    const cultures = h.scriptLines().filter((l) => l.includes("'Connect-EkExchange'")).map((l) => (JSON.parse(Buffer.from(/-ParamsBase64 '([^']+)'/.exec(l)![1], "base64").toString("utf8")) as { Culture?: string }).Culture);
    assert.ok(cultures.length > 0 && cultures.every((c) => c === "en-US"), JSON.stringify(cultures));
  });

  it("the stand-in: a session whose culture is not pinned gets the status as German display text", async () => {
    const child = spawn(standinExecutable(), ["-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-NoExit", "-Command", "-"], { env: process.env, stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stdin.write(framedScript(bootstrapScript(modulePath()), newFrameId()));
    child.stdin.write(framedScript(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX2", Authentication: "Kerberos" }), newFrameId()));
    child.stdin.end(framedScript(operationScript("Get-EkServerState", { Server: "EX2", Noun: "ClientAccessService" }), newFrameId()));
    await new Promise((r) => child.once("close", r));
    const results = [...out.matchAll(/EK-RESULT-BEGIN \S+ EK-RESULT-END/g)].map((m) => parseResult(m[0]));
    const state = results.at(-1) as { ok: true; data: { asa: { credentials: unknown[]; raw: string } } };
    assert.deepEqual(state.data.asa.credentials, []);
    assert.match(state.data.asa.raw, /^Neueste: \d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d, CORP\\EXCH-ASA\$, Vorherige: <nicht festgelegt>$/);
  });

  it("skips a credential Exchange cannot parse (no WhenAddedUTC) instead of failing the whole read", async () => {
    editServer(h.stateFile, "EX2", (s) => {
      s.asa.push({ userName: "", password: "", whenAddedUtc: "", unreadable: true });
    });
    const creds = await getAsaCredentials(await exchangeServer("EX2"));
    assert.deepEqual(creds.map((c) => c.account), ["CORP\\EXCH-ASA$"]);
  });
});

describe("Exchange's rule: Set-OutlookAnywhere validates the combination (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([
      { name: "EX16", version: "2016" },
      // Exchange 2013's defaults: clients need not use TLS (SSL offloading on), Basic for outside.
      { name: "EX13", version: "2013" },
      // Outlook Anywhere never configured: neither host name.
      { name: "NEW16", version: "2016", rpc: { internalHostname: null } },
    ]);
  });
  after(async () => h.done());

  it("refuses at preview clients not required to use TLS where SSL offloading is off, naming the field; accepts them where it is on", async () => {
    const f = (await check(exchangeVirtualDirectoryUrlsImpl, { server: "EX16", namespace: "outlook.corp.example", outlookAnywhereInternalClientsRequireSsl: false })).failures ?? [];
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.equal(f[0].property, "outlookAnywhereInternalClientsRequireSsl");
    assert.match(f[0].reason, /on EX16, internal clients would not be required to use TLS while SSLOffloading is \$false.*Fix: require TLS for those clients.*-SSLOffloading \$true/);
    // Exchange itself refuses what the check refused: nothing changes.
    await assert.rejects(setVdirUrls(await exchangeServer("EX16"), { outlookAnywhere: { internalHostname: "outlook.corp.example", internalClientsRequireSsl: false } }), /SSL offloading is disabled/);
    assert.equal(getServer(h.stateFile, "EX16").rpc.internalHostname, "ex16.corp.example");
    const ok = await create(exchangeVirtualDirectoryUrlsImpl, { server: "EX13", namespace: "outlook.corp.example", outlookAnywhereInternalClientsRequireSsl: false });
    assert.equal(getServer(h.stateFile, "EX13").rpc.internalClientsRequireSsl, false);
    await exchangeVirtualDirectoryUrlsImpl.delete(ok.id, ok.outs);
  });

  it("refuses at preview Basic for clients not required to use TLS", async () => {
    const f = (await check(outlookAnywhereAuthImpl, { server: "EX13", internalClientAuthenticationMethod: "Basic" })).failures ?? [];
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.equal(f[0].property, "internalClientAuthenticationMethod");
    assert.match(f[0].reason, /internal clients would use Basic authentication without being required to use TLS/);
    assert.deepEqual((await check(outlookAnywhereAuthImpl, { server: "EX16", internalClientAuthenticationMethod: "Basic" })).failures ?? [], [], "where TLS is required, Basic is Exchange's to allow");
  });

  it("destroy keeps the internal host name where the server had none and no external one: Exchange cannot clear the last", async () => {
    const before = getServer(h.stateFile, "NEW16");
    const r = await create(exchangeVirtualDirectoryUrlsImpl, { server: "NEW16", namespace: "outlook.corp.example" });
    await exchangeVirtualDirectoryUrlsImpl.delete(r.id, r.outs);
    const after = getServer(h.stateFile, "NEW16");
    assert.equal(after.rpc.internalHostname, "outlook.corp.example");
    assert.deepEqual(after.vdirs, before.vdirs, "every URL is back");
  });
});

describe("Windows' rule: the ASA status opens the server's registry remotely (Remote Registry off, stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX2", version: "2016" }]);
  });
  after(async () => h.done());

  it("fails only the binding's read; the URLs and Negotiate are read, and binding still works (it reads on the server itself)", async () => {
    const urls = await create(exchangeVirtualDirectoryUrlsImpl, { server: "EX2", namespace: "outlook.corp.example" });
    const auth = await create(outlookAnywhereAuthImpl, { server: "EX2" });
    const bind = await create(asaBindingImpl, { server: "EX2", account: "CORP\\EXCH-ASA$", password: "pw" });
    editServer(h.stateFile, "EX2", (s) => {
      s.remoteRegistry = false;
    });
    const [u, a, b] = await Promise.allSettled([exchangeVirtualDirectoryUrlsImpl.read(urls.id, urls.outs), outlookAnywhereAuthImpl.read(auth.id, auth.outs), asaBindingImpl.read(bind.id, bind.outs)]);
    assert.equal(u.status, "fulfilled", String((u as PromiseRejectedResult).reason));
    assert.equal(a.status, "fulfilled", String((a as PromiseRejectedResult).reason));
    assert.equal(b.status, "rejected");
    assert.match(String((b as PromiseRejectedResult).reason), /ServiceAccounts on ex2\.corp\.example: The network path was not found/);
    const again = await asaBindingImpl.update(bind.id, { ...bind.outs, drift: ["x"] }, { server: "EX2", account: "CORP\\EXCH-ASA$", password: "pw2" });
    assert.equal(again.outs.latestAccount, "CORP\\EXCH-ASA$", "the bind reads back on the server itself");
    assert.deepEqual(getServer(h.stateFile, "EX2").asa.map((c) => c.password), ["pw2"]);
    assert.equal((await getVdirUrls(await exchangeServer("EX2"))).owa.internalUrl, "https://outlook.corp.example/owa");
  });
});

describe("Exchange's rule: a runspace counts against PowerShellMaxConcurrency until Remove-PSSession (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX2", version: "2016" }], { exchangeTimeoutMs: "1500" }, { maxRunspacesPerUser: 1 });
  });
  after(async () => h.done());
  const open = () => Object.values(readState(h.stateFile).liveSessions ?? {}).flat().length;

  it("closing the sessions removes each PSSession first: its runspace is free at once, and the next run opens one again", async () => {
    await getOutlookAuth(await exchangeServer("EX2"));
    assert.equal(open(), 1);
    await closeExchangeSessions();
    assert.equal(open(), 0, "Remove-PSSession freed the runspace");
    assert.ok(readTranscript(h.stateFile).some((e) => e.t === "cmdlet" && e.op === "Disconnect-EkExchange" && e.cmdlet === "Remove-PSSession"));
    assert.equal((await exchangeServer("EX2")).version, "2016", "under a limit of one runspace, a new session opens");
  });

  it("the stand-in keeps the runspace of a shell killed in a call (a timeout) until it expires: the next session is refused over the limit", async () => {
    await closeExchangeSessions();
    const h2 = await exchangeServer("EX2");
    setFaults(h.stateFile, { delayMs: 4000 });
    await assert.rejects(getOutlookAuth(h2), /did not answer within 1500 ms/);
    setFaults(h.stateFile, undefined);
    assert.equal(open(), 1, "the killed shell's runspace still counts");
    await assert.rejects(getOutlookAuth(await exchangeServer("EX2")), /maximum number of connections allowed : 1/);
    mutateState(h.stateFile, (s) => {
      s.liveSessions = {};
    });
  });
});

describe("Exchange's rules hold the provider to one session per server only for the ASA (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin(THREE, { exchangeEndpoint: "EX1" });
  });
  after(async () => h.done());

  it("reads and every other write go through the endpoint's shared sessions", async () => {
    await create(exchangeVirtualDirectoryUrlsImpl, { server: "EX2", namespace: "outlook.corp.example" });
    await create(outlookAnywhereAuthImpl, { server: "EX3" });
    assert.deepEqual(readState(h.stateFile).counters.sessionsPerEndpoint, { EX1: 1 });
  });
});
