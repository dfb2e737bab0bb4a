// Before the first operation (against the stand-in, a TEST DOUBLE): the sealing key crosses in the
// channel and only there; the module loads from its text as it does over ssh; and PowerShell
// remoting refuses what it refuses from where the shell runs — no WSMan client (pwsh 7.3+ on
// Linux), or a key-based SSH logon without a credential (the second hop).
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { bootstrapScript, inlineBootstrapScript, KEY_REQUEST_SCRIPT, keyDeliveryScript, modulePath, operationScript, parsePublicKeyAnswer, parseResult } from "../../../provider/exchange/channel";
import { encryptSealKey, newSealKey, sealSecret, SESSION_KEY_ENV } from "../../../provider/exchange/sealing";
import { exchangeServer } from "../../../provider/exchange/operations";
import { ShellProcess } from "../../../provider/exchange/shell-process";
import { readTranscript, seedWindowsHosts, standinExecutable } from "../../fixtures/exchange-standin/state";
import { sessionKeysFile } from "../../fixtures/exchange-standin/session-setup";
import { NO_WSMAN_ENV, NO_WSMAN_MESSAGE } from "../../fixtures/exchange-standin/remoting";
import { startStandin, type Harness } from "./standin-harness";

const USER = "CORP\\svc-exchange";
const KDC = { Server: "GW1", Url: "https://+:443/KdcProxy", IpPort: "0.0.0.0:443", Thumbprint: "A".repeat(40) };
const PASSWORD = "Setup'pw$`1";

describe("the session's setup lines and PowerShell remoting's own refusals (stand-in)", function () {
  this.timeout(60_000);
  let h: Harness;
  const inherited = randomBytes(64).toString("base64");
  before(async () => {
    process.env[SESSION_KEY_ENV] = inherited;
    h = await startStandin([{ name: "EX16", version: "2016" }], { exchangeUser: USER, exchangePassword: PASSWORD }, { requiredCredential: { user: USER, password: PASSWORD }, localServer: "EX16" });
    seedWindowsHosts(h.stateFile, [{ name: "GW1" }]);
  });
  after(async () => {
    delete process.env[SESSION_KEY_ENV];
    await h.done();
  });

  /** A shell of our own on the stand-in, with `env` added to this process's. */
  async function shell(env: Record<string, string> = {}): Promise<{ run: (script: string) => Promise<string>; key: Buffer; close: () => void }> {
    const { [SESSION_KEY_ENV]: _dropped, ...base } = process.env;
    const p = new ShellProcess(standinExecutable(), { ...base, ...env });
    const run = (script: string) => p.invoke(script, 20_000);
    const key = newSealKey();
    const pub = parsePublicKeyAnswer(await run(KEY_REQUEST_SCRIPT));
    assert.ok(pub);
    assert.match(await run(keyDeliveryScript(encryptSealKey(key, pub.modulus, pub.exponent))), /EK-KEY-SET/);
    return { run, key, close: () => p.kill() };
  }

  it("the session's shells inherit no EK_SESSION_KEY: the module gets its key through the handoff, a fresh one per shell", async () => {
    const ex = await exchangeServer("EX16");
    assert.equal(ex.version, "2016", "Connect-EkExchange unsealed the credential with the key that crossed");
    const pids = readTranscript(h.stateFile).flatMap((e) => (e.t === "start" ? [e.pid] : []));
    assert.ok(pids.length > 0);
    for (const pid of pids) {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      assert.ok(!environ.some((v) => v.startsWith(`${SESSION_KEY_ENV}=`)), `the shell ${pid} got a key in its environment`);
    }
    const keys = fs.readFileSync(sessionKeysFile(h.stateFile), "utf8").split("\n").filter(Boolean);
    assert.ok(keys.length > 0 && !keys.includes(inherited));
    assert.equal(new Set(keys).size, keys.length);
    const scripts = readTranscript(h.stateFile).flatMap((e) => (e.t === "script" ? [e.text] : []));
    assert.ok(!scripts.some((t) => keys.some((k) => t.includes(k))), "no key in any script line");
  });

  it("a key delivered before it was asked for, or after the module's import, never becomes the module's", async () => {
    const p = new ShellProcess(standinExecutable(), process.env);
    try {
      await assert.rejects(p.invoke(keyDeliveryScript(randomBytes(256).toString("base64")), 20_000), /null-valued expression/);
    } finally {
      p.kill();
    }
    const late = new ShellProcess(standinExecutable(), (({ [SESSION_KEY_ENV]: _d, ...e }) => e)(process.env));
    try {
      const run = (s: string) => late.invoke(s, 20_000);
      const key = newSealKey();
      const pub = parsePublicKeyAnswer(await run(KEY_REQUEST_SCRIPT));
      assert.match(await run(bootstrapScript(modulePath())), /EK-MODULE-LOADED/);
      await run(keyDeliveryScript(encryptSealKey(key, pub!.modulus, pub!.exponent)));
      const r = parseResult(await run(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX16", Authentication: "Kerberos", User: USER, Password: sealSecret(key, PASSWORD) })));
      assert.ok(r && !r.ok && /no sealing key/.test(r.error.message), JSON.stringify(r));
    } finally {
      late.kill();
    }
  });

  it("loads the module from its text as over ssh, and refuses any text that is not ExchangeKerberos.psm1", async () => {
    const s = await shell();
    try {
      assert.match(await s.run(inlineBootstrapScript(fs.readFileSync(modulePath(), "utf8"))), /EK-MODULE-LOADED/);
      const r = parseResult(await s.run(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX16", Authentication: "Kerberos", User: USER, Password: sealSecret(s.key, PASSWORD) })));
      assert.deepEqual(r, { ok: true, data: { connection: "remote", server: "EX16" } });
    } finally {
      s.close();
    }
    const other = await shell();
    try {
      await assert.rejects(other.run(inlineBootstrapScript(`${fs.readFileSync(modulePath(), "utf8")}\n# changed`)), /not provider\/exchange\/ExchangeKerberos\.psm1/);
    } finally {
      other.close();
    }
  });

  it("without a WSMan client, New-PSSession and Invoke-Command fail as pwsh 7.3+ on Linux does; the snap-in is not remoting", async () => {
    const s = await shell({ [NO_WSMAN_ENV]: "1" });
    try {
      await s.run(bootstrapScript(modulePath()));
      const r = parseResult(await s.run(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX16", Authentication: "Kerberos", User: USER, Password: sealSecret(s.key, PASSWORD) })));
      assert.deepEqual(r, { ok: false, error: { category: "ResourceUnavailable", reason: "PSRemotingTransportException", errorId: "System.Management.Automation.Remoting.PSRemotingDataStructureException,Microsoft.PowerShell.Commands.NewPSSessionCommand", message: NO_WSMAN_MESSAGE } });
      // The snap-in on an Exchange server is no remoting; its Invoke-Command to the KDC proxy server is.
      assert.ok(parseResult(await s.run(operationScript("Connect-EkExchange", { Connection: "local", Endpoint: "localhost", Authentication: "Kerberos" })))?.ok);
      const kdc = parseResult(await s.run(operationScript("Get-EkKdcProxy", KDC)));
      assert.ok(kdc && !kdc.ok && kdc.error.errorId.endsWith(",Microsoft.PowerShell.Commands.InvokeCommandCommand") && kdc.error.message === NO_WSMAN_MESSAGE, JSON.stringify(kdc));
    } finally {
      s.close();
    }
  });

  it("after a key-based SSH logon, a session without -Credential cannot reach the next server (the second hop); with one it can", async () => {
    const auth = path.join(h.dir, "ssh-user-auth");
    fs.writeFileSync(auth, "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7y\n");
    const keyLogon = { SSH_CONNECTION: "127.0.23.1 50000 127.0.23.61 2222", SSH_USER_AUTH: auth };
    const s = await shell(keyLogon);
    try {
      await s.run(bootstrapScript(modulePath()));
      const bare = parseResult(await s.run(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX16", Authentication: "Kerberos" })));
      assert.ok(bare && !bare.ok && bare.error.errorId === "1312,PSSessionOpenFailed" && /A specified logon session does not exist/.test(bare.error.message), JSON.stringify(bare));
      const withCredential = parseResult(await s.run(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX16", Authentication: "Kerberos", User: USER, Password: sealSecret(s.key, PASSWORD) })));
      assert.ok(withCredential?.ok, JSON.stringify(withCredential));
      // Invoke-Command -ComputerName from the session opened with a credential passes it on.
      const kdc = parseResult(await s.run(operationScript("Get-EkKdcProxy", KDC)));
      assert.ok(kdc?.ok, JSON.stringify(kdc));
    } finally {
      s.close();
    }
    // The snap-in's session has no credential to pass on: Invoke-Command from a key logon fails.
    const local = await shell(keyLogon);
    try {
      await local.run(bootstrapScript(modulePath()));
      assert.ok(parseResult(await local.run(operationScript("Connect-EkExchange", { Connection: "local", Endpoint: "localhost", Authentication: "Kerberos" })))?.ok);
      const kdc = parseResult(await local.run(operationScript("Get-EkKdcProxy", KDC)));
      assert.ok(kdc && !kdc.ok && kdc.error.errorId === "1312,PSSessionStateBroken", JSON.stringify(kdc));
    } finally {
      local.close();
    }
    fs.writeFileSync(auth, "password\n");
    const pw = await shell(keyLogon);
    try {
      await pw.run(bootstrapScript(modulePath()));
      const r = parseResult(await pw.run(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX16", Authentication: "Kerberos", User: USER, Password: sealSecret(pw.key, PASSWORD) })));
      assert.ok(r?.ok, "a password logon has network credentials");
    } finally {
      pw.close();
    }
  });
});
