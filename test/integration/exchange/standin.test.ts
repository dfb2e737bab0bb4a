// The Exchange stand-in (a TEST DOUBLE) enforces the Exchange behaviour the provider relies on;
// these tests prove the double refuses what Exchange refuses, so the resource tests mean something.
import * as assert from "node:assert/strict";
import { InvalidInputError, NotFoundError } from "../../../provider/errors";
import { exchangeServer, setOutlookAuth, setVdirUrls, setAsaCredentials, type ServerHandle } from "../../../provider/exchange/operations";
import { bind, loadCatalog, PsError, type CmdletContext } from "../../fixtures/exchange-standin/exchange";
import { emptyState, getServer, newServer, readTranscript } from "../../fixtures/exchange-standin/state";
import { startStandin, type Harness } from "./standin-harness";
import { standinExecutable } from "../../fixtures/exchange-standin/state";
import { bootstrapScript, modulePath, operationScript, parseResult } from "../../../provider/exchange/channel";
import { ShellProcess, ShellReportedError } from "../../../provider/exchange/shell-process";

describe("the Exchange stand-in (test double) refuses what Exchange refuses", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX13", version: "2013" }, { name: "EX16", version: "2016" }]);
  });
  after(async () => h.done());

  it("speaks the session's framing and refuses script text that is not one of our fixed forms, as PowerShell refuses an unknown command", async () => {
    const shell = new ShellProcess(standinExecutable(), process.env);
    try {
      await assert.rejects(shell.invoke("Get-ExchangeServer -Identity 'EX16'", 20000), (e: unknown) => e instanceof ShellReportedError && /not recognized/.test(e.message));
      await assert.rejects(shell.invoke(operationScript("Get-EkServerInfo", { Servers: ["EX16"] }), 20000), /Invoke-EkOperation.*not recognized/, "the module must be loaded first");
    } finally {
      shell.kill();
    }
  });

  it("refuses an operation the bootstrap did not name or the operation table does not hold, and parameters that do not fit the table", async () => {
    const shell = new ShellProcess(standinExecutable(), process.env);
    const answer = async (script: string) => parseResult(await shell.invoke(script, 20000));
    try {
      // Loaded with one operation only: the others are refused as the module refuses them.
      assert.match(await shell.invoke(bootstrapScript(modulePath(), ["Connect-EkExchange", "Get-EkServerInfo", "Test-EkAsaCredential", "Remove-Mailbox"]), 20000), /EK-MODULE-LOADED/);
      assert.deepEqual(await answer(operationScript("Connect-EkExchange", { Connection: "remote", Endpoint: "EX16", Authentication: "Kerberos" })), { ok: true, data: { connection: "remote", server: "EX16" } });
      const refused = async (script: string, re: RegExp) => {
        const r = await answer(script);
        assert.ok(r && !r.ok && re.test(r.error.message), JSON.stringify(r));
      };
      await refused(operationScript("Get-EkServerState", { Server: "EX16", Noun: "ClientAccessService" }), /unknown operation Get-EkServerState/);
      await refused("Invoke-EkOperation -Name 'Remove-Mailbox' -ParamsBase64 'e30='", /unknown operation Remove-Mailbox/);
      await refused(operationScript("Get-EkServerInfo", { Servers: ["EX16"], Identity: "EX16" }), /Identity is not a parameter/);
      await refused(operationScript("Get-EkServerInfo", {}), /Servers is missing/);
      await refused(operationScript("Get-EkServerInfo", { Servers: "EX16" }), /Servers must be an array of strings/);
      await refused(operationScript("Test-EkAsaCredential", { Server: "EX16", Noun: "ClientAccessService", Password: "plain" }), /Password must arrive sealed/);
      const ok = await answer(operationScript("Get-EkServerInfo", { Servers: ["EX16", "EX99"] }));
      assert.ok(ok?.ok, JSON.stringify(ok));
      const [found, missing] = ok.data as { requested: string; name?: string; errorReason?: string }[];
      assert.deepEqual([found.requested, found.name, missing.requested, missing.errorReason], ["EX16", "EX16", "EX99", "ManagementObjectNotFoundException"], "one server not found fails only its own answer");
    } finally {
      shell.kill();
    }
  });

  it("(the session itself) refuses parameters that do not fit the table before anything is sent: a password not passed as a Secret", async () => {
    const ex = await exchangeServer("EX16");
    const before = readTranscript(h.stateFile).length;
    await assert.rejects(ex.session.call("Test-EkAsaCredential", { Server: "EX16", Noun: "ClientAccessService", Password: "plain" as never }, { what: "test", idempotent: true }), /Password must arrive as a Secret/);
    assert.ok(!readTranscript(h.stateFile).slice(before).some((e) => e.t === "script" && e.text.includes("Test-EkAsaCredential")), "nothing was sent");
  });

  it("an authentication method outside the enum, naming the valid ones", async () => {
    const ex = await exchangeServer("EX16");
    await assert.rejects(setOutlookAuth(ex, { mapi: { iisAuthenticationMethods: ["Ntlm", "Kerberos"] } }), (e: unknown) => e instanceof InvalidInputError && /Basic, Ntlm, Negotiate, OAuth/.test(e.message));
    await assert.rejects(setOutlookAuth(ex, { outlookAnywhere: { iisAuthenticationMethods: ["OAuth"] } }), InvalidInputError);
  });

  it("a URL that is not absolute", async () => {
    const ex = await exchangeServer("EX16");
    await assert.rejects(setVdirUrls(ex, { owa: { internalUrl: "outlook/owa" } }), (e: unknown) => e instanceof InvalidInputError && /System\.Uri/.test(e.message));
    assert.equal(getServer(h.stateFile, "EX16").vdirs.owa.internalUrl, "https://ex16.corp.example/owa");
  });

  it("Set-ClientAccessService on an Exchange 2013 server, and a virtual directory identity that does not exist", async () => {
    const ex13 = await exchangeServer("EX13");
    const wrongNoun: ServerHandle = { ...ex13, noun: "ClientAccessService" };
    await assert.rejects(setAsaCredentials(wrongNoun, "CORP\\ASA$", "pw"), /not recognized|can't manage EX13/);
    assert.deepEqual(getServer(h.stateFile, "EX13").asa, []);
    await assert.rejects(setVdirUrls({ ...ex13, server: "EX404" }, { owa: { internalUrl: "https://outlook.corp.example/owa" } }), NotFoundError);
  });

  it("an ASA user name that is not DOMAIN\\NAME$", async () => {
    const ex = await exchangeServer("EX16");
    await assert.rejects(setAsaCredentials(ex, "EXCH-ASA", "pw"), /DOMAIN\\ACCOUNT\$/);
  });

  it("a call combining the ASA and the Identity parameter sets, or a parameter that does not exist", () => {
    const ctx: CmdletContext = { state: emptyState(), session: { runsOn: newServer({ name: "EX16", version: "2016" }), local: false, culture: "en-US" }, endpointVersion: "2016", record: () => undefined, deprecated: () => undefined, now: () => new Date().toISOString() };
    const catalog = loadCatalog();
    assert.throws(
      () => bind(catalog, ctx, "Set-ClientAccessService", { Identity: "EX16", AutoDiscoverServiceInternalUri: "https://a.corp.example/x", AlternateServiceAccountCredential: { userName: "CORP\\A$", password: "x" } }),
      (e: unknown) => e instanceof PsError && /AmbiguousParameterSet/.test(e.errorId),
    );
    assert.throws(() => bind(catalog, ctx, "Set-OutlookAnywhere", { Identity: "EX16\\Rpc (Default Web Site)", ClientAuthMethod: "Ntlm" }), (e: unknown) => e instanceof PsError && /NamedParameterNotFound/.test(e.errorId));
    assert.throws(() => bind(catalog, { ...ctx, endpointVersion: "2013" }, "Get-ClientAccessService", { Identity: "EX13" }), (e: unknown) => e instanceof PsError && e.reason === "CommandNotFoundException");
  });
});
