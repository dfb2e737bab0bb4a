// The session layer's pure parts: the fixed script forms, the result document, error mapping,
// sealing (checked against the stand-in's unsealing, which mirrors the module's), version detection.
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { AccessDeniedError, InvalidInputError, NotFoundError, UnreachableError } from "../../../provider/errors";
import { assertScriptText, bootstrapScript, EXECUTION_POLICY_SCRIPT, groupPolicyRefusal, operationScript, parseResult } from "../../../provider/exchange/channel";
import { outlookAnywhereProblems, type OutlookAnywhereSettings } from "../../../provider/exchange/outlook-anywhere-rules";
import { ExchangeCommandError, typedError } from "../../../provider/exchange/error-mapping";
import { sealParams, Secret } from "../../../provider/exchange/sealing";
import { FrameReader, framedScript, newFrameId } from "../../../provider/exchange/framing";
import { OPERATION_TABLE } from "../../../provider/exchange/operation-table";
import { recordProblems } from "../../../provider/exchange/wire-schema";
import { asaCredentialsOf, clientAccessNoun, parseAsaDisplay, versionFromAdminDisplayVersion } from "../../../provider/exchange/operations";
import { unseal } from "../../fixtures/exchange-standin/module";

describe("Exchange session protocol", () => {
  it("sends only the fixed script forms and refuses anything spliced", () => {
    assertScriptText(bootstrapScript("/opt/pkg/provider/exchange/ExchangeKerberos.psm1"));
    assertScriptText(operationScript("Get-EkServerState", { Server: "EX1'; Remove-Item C:\\ -Recurse" }));
    assert.throws(() => assertScriptText("Invoke-EkOperation -Name 'Get-EkVdirUrls' -ParamsBase64 'abc'; calc"), ExchangeCommandError);
    assert.throws(() => assertScriptText("Invoke-EkOperation -Name 'Remove-Mailbox' -ParamsBase64 'abc='"), ExchangeCommandError);
    assert.throws(() => assertScriptText("Get-ClientAccessService -Identity 'EX1'"), ExchangeCommandError);
  });

  it("seals a secret so that only the session's key opens it, never as readable text", () => {
    const key = randomBytes(64);
    const password = "it's ‘q’ “d” $x `n ; | ü\nline2";
    const found: string[] = [];
    const sealed = sealParams({ Account: "CORP\\ASA$", Password: new Secret(password) }, key, found) as { Password: { sealed: string } };
    assert.deepEqual(found, [password]);
    assert.ok(!JSON.stringify(sealed).includes("line2"));
    assert.equal(unseal(sealed.Password, key), password);
    assert.throws(() => unseal(sealed.Password, randomBytes(64)));
  });

  it("refuses a sealed value under a wrong key, and with any byte changed, every time (encrypt-then-MAC)", () => {
    const key = randomBytes(64);
    for (let i = 0; i < 3000; i++) {
      const sealed = sealParams(new Secret(`password-${i}`), key) as { sealed: string };
      assert.throws(() => unseal(sealed, randomBytes(64)), /does not authenticate/, `wrong key #${i}`);
    }
    const sealed = (sealParams(new Secret("Rotated „quoted“ `n $x"), key) as { sealed: string }).sealed;
    const bytes = Buffer.from(sealed, "base64");
    let tried = 0;
    for (let at = 0; at < bytes.length; at++) {
      for (const bit of [0x01, 0x80]) {
        const changed = Buffer.from(bytes);
        changed[at] ^= bit;
        assert.throws(() => unseal({ sealed: changed.toString("base64") }, key), /does not authenticate/, `byte ${at} flipped`);
        tried++;
      }
    }
    assert.ok(tried >= 2 * 64, `${tried} changed values tried`);
    assert.equal(unseal({ sealed }, key), "Rotated „quoted“ `n $x", "the untouched value still opens");
  });

  it("frames one line between fresh ids and reads its answer however the streams are chunked", () => {
    const id = newFrameId();
    assert.match(id, /^[0-9A-Za-z]{16}$/);
    assert.notEqual(newFrameId(), id);
    const lines = framedScript("Invoke-EkOperation -Name 'Get-EkServerInfo' -ParamsBase64 'e30='", id).trim().split(/\r?\n/);
    assert.deepEqual(lines, [`[Console]::Error.WriteLine("${id}")`, `[Console]::Out.WriteLine("${id}")`, "Invoke-EkOperation -Name 'Get-EkServerInfo' -ParamsBase64 'e30='", `[Console]::Error.WriteLine("${id}")`, `[Console]::Out.WriteLine("${id}")`]);
    const r = new FrameReader(id);
    const out = `stale\n${id}\nWARNING: x\nEK-RESULT-BEGIN e30= EK-RESULT-END\n${id}\n`;
    for (const ch of out.slice(0, -3)) r.push("stdout", ch);
    r.push("stderr", `${id}\n${id}\n`);
    assert.equal(r.answer(), undefined, "not complete until stdout shows the id twice");
    r.push("stdout", out.slice(-3));
    assert.deepEqual(r.answer(), { stdout: "WARNING: x\nEK-RESULT-BEGIN e30= EK-RESULT-END", stderr: "" });
    const e = new FrameReader(id);
    e.push("stdout", `${id}\n${id}\n`);
    e.push("stderr", `${id}\nInvoke-EkOperation: The term is not recognized\n${id}\n`);
    assert.deepEqual(e.answer(), { stdout: "", stderr: "Invoke-EkOperation: The term is not recognized" });
  });

  it("checks parameters against the operation table and narrows results by it", () => {
    const set = OPERATION_TABLE["Set-EkAsaCredential"].params;
    assert.deepEqual(recordProblems(set, { Server: "EX1", Noun: "ClientAccessService", Account: "C\\A$", Password: new Secret("p") }, "", "call"), []);
    assert.deepEqual(recordProblems(set, { Server: "EX1", Noun: "ClientAccessService", Account: "C\\A$", Password: { sealed: "AAAA" } }, "", "wire"), []);
    assert.deepEqual(recordProblems(set, { Server: "EX1", Noun: "Mailbox", Account: "C\\A$", Password: "p", Extra: 1 }, "", "call"), [
      "Extra is not a parameter (Server, Noun, Account, Password, CurrentPassword)",
      'Noun must be one of ClientAccessServer, ClientAccessService, not "Mailbox"',
      "Password must arrive as a Secret",
    ]);
    assert.deepEqual(recordProblems(OPERATION_TABLE["Set-EkVdirUrls"].params, { Server: "EX1", Noun: "ClientAccessServer", Owa: { InternalUrl: null, Url: "x" } }, "", "wire"), ["Owa.Url is not a parameter (InternalUrl, ExternalUrl)"]);
    const asa = OPERATION_TABLE["Set-EkAsaCredential"].result;
    // ConvertTo-Json unwraps a one-element array; an absent list is empty.
    assert.deepEqual(asa.read({ credentials: { account: "C\\A$", whenAddedUtc: "2026-01-02T10:00:00Z" }, raw: "" }, "Set-EkAsaCredential"), { credentials: [{ account: "C\\A$", whenAddedUtc: "2026-01-02T10:00:00Z" }], raw: "" });
    assert.deepEqual(asa.read({ server: "EX1" }, "Set-EkAsaCredential"), { credentials: [], raw: "" });
    assert.throws(() => asa.read("text", "Set-EkAsaCredential"), (e: unknown) => e instanceof ExchangeCommandError && /Set-EkAsaCredential: expected an object/.test(e.message));
    const state = OPERATION_TABLE["Get-EkServerState"].result;
    assert.throws(() => state.read({ urls: { owa: {} } }, "Get-EkServerState"), /Get-EkServerState urls.ecp: expected an object/);
  });

  it("reads the one marked result line, whatever else stdout printed", () => {
    const doc = Buffer.from(JSON.stringify({ ok: true, data: { a: "ü" } })).toString("base64");
    assert.deepEqual(parseResult(`WARNING: noise\nEK-RESULT-BEGIN ${doc} EK-RESULT-END\n`), { ok: true, data: { a: "ü" } });
    assert.equal(parseResult("nothing here"), undefined);
  });

  it("maps Exchange errors returned as data to typed errors carrying Exchange's message, without secrets", () => {
    const nf = typedError({ category: "NotSpecified", reason: "ManagementObjectNotFoundException", errorId: "x", message: "The operation couldn't be performed because object 'EX9\\owa (Default Web Site)' couldn't be found" }, "server EX9");
    assert.ok(nf instanceof NotFoundError && /couldn't be found/.test(nf.message) && /server EX9/.test(nf.message));
    assert.ok(typedError({ category: "PermissionDenied", reason: "", errorId: "", message: "denied" }, "s") instanceof AccessDeniedError);
    assert.ok(typedError({ category: "OpenError", reason: "PSRemotingTransportException", errorId: "", message: "WinRM" }, "s") instanceof UnreachableError);
    assert.ok(typedError({ category: "InvalidData", reason: "ParameterBindingArgumentTransformationException", errorId: "", message: "bad enum" }, "s") instanceof InvalidInputError);
    const scrubbed = typedError({ category: "InvalidArgument", reason: "ArgumentException", errorId: "", message: "credential hunter2-secret refused" }, "s", ["hunter2-secret"]);
    assert.ok(!scrubbed.message.includes("hunter2-secret"));
    // `throw '<text>'` in PowerShell: the text is also the FullyQualifiedErrorId; neither may carry a secret.
    const thrown = typedError({ category: "OperationStopped", reason: "RuntimeException", errorId: "netsh refused hunter2-secret", message: "netsh refused hunter2-secret" }, "s", ["hunter2-secret"]);
    assert.ok(thrown instanceof ExchangeCommandError && !thrown.message.includes("hunter2-secret"), thrown.message);
    assert.equal(thrown.fix, undefined, "the message is not repeated as the error id");
    const exchangeId = typedError({ category: "NotSpecified", reason: "TaskException", errorId: "[Server=EX1] hunter2-secret,Microsoft.Exchange.Management.SetClientAccessService", message: "failed" }, "s", ["hunter2-secret"]);
    assert.ok(/see Exchange's error/.test(exchangeId.message) && !exchangeId.message.includes("hunter2-secret"), exchangeId.message);
  });

  it("tells 2013, 2016, 2019 and SE apart and picks the cmdlet noun", () => {
    assert.equal(versionFromAdminDisplayVersion("Version 15.0 (Build 1497.2)"), "2013");
    assert.equal(versionFromAdminDisplayVersion("Version 15.1 (Build 2507.6)"), "2016");
    assert.equal(versionFromAdminDisplayVersion("Version 15.2 (Build 1544.4)"), "2019");
    assert.equal(versionFromAdminDisplayVersion("Version 15.2 (Build 2562.17)"), "SE");
    assert.throws(() => versionFromAdminDisplayVersion("Version 14.3 (Build 123.4)"), /not supported/);
    assert.equal(clientAccessNoun("2013"), "ClientAccessServer");
    assert.equal(clientAccessNoun("SE"), "ClientAccessService");
  });

  it("reads the ASA status from its en-US display text when the object arrives as text", () => {
    const creds = parseAsaDisplay("Latest: 1/2/2026 10:00:00 AM, CORP\\EXCH-ASA$, Previous: 12/1/2025 9:00:00 PM, CORP\\EXCH-ASA$");
    assert.deepEqual(creds.map((c) => c.account), ["CORP\\EXCH-ASA$", "CORP\\EXCH-ASA$"]);
    assert.deepEqual(creds.map((c) => c.whenAddedUtc), ["2026-01-02T10:00:00.000Z", "2025-12-01T21:00:00.000Z"], "read the same on every machine, whatever its time zone");
    assert.deepEqual(asaCredentialsOf({ credentials: [], raw: "Latest: <not set>, Previous: <not set>" }, "EX1"), [], "no credential is no credential");
  });

  it("display text it cannot read is an error with its own code, never \"no credential\" (a German or French session)", () => {
    for (const raw of ["Neueste: 02.01.2026 10:00:00, CORP\\EXCH-ASA$, Vorherige: <nicht festgelegt>", "Dernière : 02/01/2026 10:00:00, CORP\\EXCH-ASA$, Précédente : <non défini>"]) {
      assert.throws(() => asaCredentialsOf({ credentials: [], raw }, "EX1"), (e: unknown) => e instanceof ExchangeCommandError && e.code === "ASA_STATUS_UNREADABLE" && /EX1/.test(e.message), raw);
    }
    const objects = asaCredentialsOf({ credentials: [{ account: "CORP\\A$", whenAddedUtc: "2026-01-01T00:00:00Z" }, { account: "CORP\\A$", whenAddedUtc: "2026-02-01T00:00:00Z" }], raw: "" }, "EX1");
    assert.deepEqual(objects.map((c) => c.whenAddedUtc), ["2026-02-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"], "latest first");
  });

  it("names Group Policy when it keeps the module from loading (Restricted or AllSigned at MachinePolicy or UserPolicy), and nothing else", () => {
    const r = groupPolicyRefusal("EK-POLICY AllSigned Undefined AllSigned", "powershell.exe");
    assert.ok(r && r.code === "EXECUTION_POLICY_BY_GROUP_POLICY" && r.field === "exchange-kerberos:exchangeShell");
    assert.match(r.message, /AllSigned \(scope MachinePolicy, "Turn on Script Execution" under Computer Configuration\), which overrides the -ExecutionPolicy Bypass powershell\.exe is started with/);
    assert.match(groupPolicyRefusal("EK-POLICY Undefined Restricted Restricted", "pwsh")!.message, /Restricted \(scope UserPolicy, "Turn on Script Execution" under User Configuration\)/);
    assert.equal(groupPolicyRefusal("EK-POLICY RemoteSigned Undefined RemoteSigned", "pwsh"), undefined, "local scripts run");
    assert.equal(groupPolicyRefusal("EK-POLICY Undefined Undefined Bypass", "pwsh"), undefined);
    assert.equal(groupPolicyRefusal("", "pwsh"), undefined);
    assertScriptText(EXECUTION_POLICY_SCRIPT);
  });
});

describe("Outlook Anywhere's rules (what Set-OutlookAnywhere refuses)", () => {
  const base: OutlookAnywhereSettings = { internalHostname: "outlook.corp.example", internalClientsRequireSsl: true, internalClientAuthenticationMethod: "Negotiate", externalHostname: null, externalClientsRequireSsl: false, externalClientAuthenticationMethod: "Negotiate", sslOffloading: false };
  const rules = (over: Partial<OutlookAnywhereSettings>) => outlookAnywhereProblems({ ...base, ...over }).map((p) => p.rule);

  it("accepts TLS everywhere, and clients without TLS where SSL offloading is on", () => {
    assert.deepEqual(rules({}), []);
    assert.deepEqual(rules({ internalClientsRequireSsl: false, sslOffloading: true }), []);
    assert.deepEqual(rules({ externalHostname: "mail.corp.example", externalClientsRequireSsl: false, sslOffloading: true, externalClientAuthenticationMethod: "Ntlm" }), []);
  });

  it("refuses clients without TLS where SSL offloading is off, Basic without TLS, and no host name at all", () => {
    assert.deepEqual(rules({ internalClientsRequireSsl: false }), ["OA_SSL_OFFLOADING_REQUIRED"]);
    assert.deepEqual(rules({ externalHostname: "mail.corp.example" }), ["OA_SSL_OFFLOADING_REQUIRED"], "the external side counts once it has a host name");
    assert.deepEqual(rules({ internalClientsRequireSsl: false, sslOffloading: true, internalClientAuthenticationMethod: "Basic" }), ["OA_BASIC_OVER_HTTP"]);
    assert.deepEqual(rules({ externalClientAuthenticationMethod: "Basic" }), [], "no external host name: the external side is not checked");
    assert.deepEqual(rules({ internalHostname: null }), ["OA_NO_HOSTNAME"]);
    assert.deepEqual(rules({ internalHostname: "", externalHostname: "mail.corp.example", externalClientsRequireSsl: true }), [], "clearing the internal name with an external one is allowed");
  });
});
