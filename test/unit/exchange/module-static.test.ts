// The static check of the operations module: no PowerShell runs here, so the module must at least
// parse as PowerShell and call only cmdlets and parameters that exist in Exchange 2013/2016/2019
// (test/fixtures/exchange-cmdlets.json, written from Microsoft's cmdlet reference), each call
// within one parameter set.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { modulePath } from "../../../provider/exchange/channel";
import { OPERATION_NAMES, OPERATION_TABLE } from "../../../provider/exchange/operation-table";
import { analyzeModule, checkAgainstCatalog, checkAgainstOperationTable, parsePowerShell, PowerShellSyntaxError, reachableCmdlets, type Catalog } from "./powershell-static";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");
const catalog = JSON.parse(fs.readFileSync(path.join(ROOT, "test", "fixtures", "exchange-cmdlets.json"), "utf8")) as Catalog;
const source = fs.readFileSync(modulePath(), "utf8");

async function problemsOf(ps: string): Promise<string[]> {
  return checkAgainstCatalog(await analyzeModule(ps), catalog);
}

describe("ExchangeKerberos.psm1, read statically", () => {
  it("parses with a real PowerShell grammar (tree-sitter-powershell), without one error", async () => {
    const root = await parsePowerShell(source);
    assert.ok(root.descendantsOfType("function_statement").length >= 10, "the tree holds the module's functions");
  });

  it("is plain ASCII (Windows PowerShell reads a BOM-less .psm1 in the ANSI code page)", () => {
    const bad = [...source].findIndex((ch) => ch.charCodeAt(0) > 0x7e && ch !== "\n");
    assert.equal(bad, -1, `non-ASCII character at offset ${bad}`);
  });

  it("calls only cmdlets and parameters of the catalog, each call within one parameter set", async () => {
    const a = await analyzeModule(source);
    assert.ok(a.calls.some((c) => c.name === "Set-ClientAccessService"), "the analysis found the module's cmdlet calls");
    assert.deepEqual(checkAgainstCatalog(a, catalog), []);
  });

  it("never combines the ASA and the Identity parameter sets of Set-ClientAccessServer/Service", async () => {
    const asa = ["AlternateServiceAccountCredential", "RemoveAlternateServiceAccountCredentials", "CleanUpInvalidAlternateServiceAccountCredentials"];
    const calls = (await analyzeModule(source)).calls.filter((c) => /^Set-ClientAccessServ(er|ice)$/.test(c.name));
    assert.equal(calls.length, 6, "autodiscover URI, add and remove ASA, for both nouns");
    for (const c of calls) {
      const usesAsa = c.params.some((p) => asa.includes(p));
      assert.ok(!(usesAsa && c.params.includes("AutoDiscoverServiceInternalUri")), `line ${c.line} mixes the parameter sets`);
    }
  });

  it("uses Set-ClientAccessService only in functions that also handle 2013 with Set-ClientAccessServer", async () => {
    const calls = (await analyzeModule(source)).calls;
    for (const c of calls.filter((x) => /^(Get|Set)-ClientAccessService$/.test(x.name))) {
      const older = c.name.replace("Service", "Server");
      assert.ok(calls.some((x) => x.inFunction === c.inFunction && x.name === older), `${c.inFunction} calls ${c.name} without a 2013 branch`);
    }
  });

  it("matches the operation table: each operation's function has the entry's parameters and calls exactly its cmdlets", async () => {
    const a = await analyzeModule(source);
    assert.ok(OPERATION_NAMES.length >= 10 && OPERATION_NAMES.every((op) => a.functions.has(op.toLowerCase())));
    assert.deepEqual(checkAgainstOperationTable(a, OPERATION_TABLE), []);
  });

  it("dispatches by the names the session hands it, and names no operation itself", async () => {
    const a = await analyzeModule(source);
    const named = a.calls.filter((c) => c.inFunction === "Invoke-EkOperation" && OPERATION_NAMES.some((op) => op.toLowerCase() === c.name.toLowerCase()));
    assert.deepEqual(named, [], "Invoke-EkOperation keeps no list of its own");
    const dispatch = /function Invoke-EkOperation \{[\s\S]*?\n\}/.exec(source)?.[0] ?? "";
    assert.match(dispatch, /if \(\$script:EkOperations -cnotcontains \$Name\) \{ throw/, "an operation the session did not name is refused before anything runs");
    assert.match(source, /^param\(\[string\] \$Operations\)$/m, "the module takes the names as its -ArgumentList");
  });

  it("binds each operation's parameters as a cmdlet does ([CmdletBinding()]): a parameter the function does not declare fails, instead of landing in $args", async () => {
    // about_Functions_CmdletBindingAttribute: only with the attribute do unknown parameters make
    // binding fail; a simple function takes them silently into $args.
    const a = await analyzeModule(source);
    const simple = OPERATION_NAMES.filter((op) => !a.functions.get(op.toLowerCase())?.attributes.includes("CmdletBinding"));
    assert.deepEqual(simple, [], "operations that are simple functions");
    const probe = await analyzeModule("function F {\n    [CmdletBinding()]\n    param([string] $A)\n}\nfunction G {\n    param($B)\n}\n");
    assert.deepEqual([probe.functions.get("f")?.attributes, probe.functions.get("g")?.attributes], [["CmdletBinding"], []], "the analysis reads the attribute");
  });

  it("never writes a password to a stream nor hands it to a cmdlet: the unsealed value becomes a SecureString by method calls", async () => {
    const a = await analyzeModule(source);
    const unseal = a.calls.filter((c) => c.name === "ConvertFrom-EkSealed");
    assert.deepEqual(unseal.map((c) => c.inFunction), ["New-EkCredential"]);
    assert.ok(!a.calls.some((c) => /^Write-(Host|Output|Verbose|Debug|Information|Warning)$/i.test(c.name)));
    // Module logging records every cmdlet's parameter values (about_Eventlogs, "Logging Module
    // Events"): ConvertTo-SecureString -AsPlainText would log the password.
    assert.deepEqual(a.calls.filter((c) => c.name === "ConvertTo-SecureString").map((c) => c.line), [], "ConvertTo-SecureString calls");
    assert.deepEqual(reachableCmdlets(a, "ConvertFrom-EkSealed"), new Set(["New-Object"]));
  });

  it("reserves the KDC proxy's URL for Network Service by its SDDL alias, not by its English account name", async () => {
    // user="NT authority\Network Service" (Microsoft's article) resolves only where Windows shows
    // English account names; sddl=D:(A;;GX;;;NS) is the same grant in every display language.
    const a = await analyzeModule(source);
    const add = a.calls.filter((c) => c.name === "netsh http add urlacl");
    assert.deepEqual(add.map((c) => c.params), [["url", "sddl"]]);
    assert.match(source, /netsh http add urlacl "url=\$Url" "sddl=D:\(A;;GX;;;NS\)"/);
  });

  it("reaches the KDC proxy server only with Invoke-Command, values in -ArgumentList, and runs only documented netsh http commands there", async () => {
    const a = await analyzeModule(source);
    const invoke = a.calls.filter((c) => c.name === "Invoke-Command");
    assert.equal(invoke.length, 2, "with and without the session's credential");
    for (const c of invoke) {
      assert.equal(c.inFunction, "Invoke-EkOnServer");
      assert.ok(c.params.includes("ArgumentList") && c.params.includes("ScriptBlock") && c.params.includes("ComputerName"));
    }
    const netsh = a.calls.filter((c) => c.name.startsWith("netsh "));
    assert.deepEqual([...new Set(netsh.map((c) => c.name))].sort(), ["netsh http add sslcert", "netsh http add urlacl", "netsh http delete sslcert", "netsh http delete urlacl", "netsh http show sslcert", "netsh http show urlacl"]);
    assert.ok(netsh.every((c) => ["Get-EkKdcProxy", "Set-EkKdcProxy"].includes(c.inFunction)));
    assert.ok(catalog.native?.netsh.doc.startsWith("https://learn.microsoft.com/"));
  });

  it("opens the session as Microsoft's own scripts do: serializationLevel=Full, TargetServer when named, the culture pinned, and closes it with Remove-PSSession", async () => {
    // ConnectFunctions.ps1 (_NewExchangeRunspace) and RollAlternateServiceAccountPassword.ps1.
    assert.match(source, /\$uri = 'http:\/\/' \+ \$Endpoint \+ '\/powershell\?serializationLevel=Full'/);
    assert.match(source, /\$uri = \$uri \+ ';TargetServer=' \+ \$TargetServer/);
    assert.match(source, /\$option = New-PSSessionOption -Culture \$Culture -UICulture \$Culture/);
    const a = await analyzeModule(source);
    const open = a.calls.filter((c) => c.name === "New-PSSession");
    assert.equal(open.length, 2, "with and without the session's credential");
    assert.ok(open.every((c) => c.params.includes("SessionOption")), "every session gets the option that pins its culture");
    assert.deepEqual(a.calls.filter((c) => c.name === "Remove-PSSession").map((c) => c.inFunction), ["Disconnect-EkExchange"]);
  });

  it("never casts a WhenAddedUTC that may be null ([datetime]$null throws): each loop skips such a credential first", () => {
    const casts = [...source.matchAll(/\[datetime\]\$c\.WhenAddedUTC/g)];
    assert.equal(casts.length, 2, "ConvertTo-EkAsaState and Test-EkAsaCredential");
    for (const cast of casts) {
      const loop = source.lastIndexOf("foreach ($c in", cast.index);
      assert.match(source.slice(loop, cast.index), /if \(\$null -eq \$c -or \$null -eq \$c\.WhenAddedUTC\) \{ continue \}/);
    }
  });

  it("reads each part of Get-EkServerState on its own: the ASA status (Remote Registry) fails alone", () => {
    const body = /function Get-EkServerState \{[\s\S]*?\n\}/.exec(source)?.[0] ?? "";
    assert.equal((body.match(/\btry \{/g) ?? []).length, 4, "the status, the client access object without it, Outlook Anywhere and MAPI, the URLs");
    for (const part of ["asaError", "authError", "urlsError"]) assert.match(body, new RegExp(`\\$state\\.${part} = \\(ConvertTo-EkError \\$_\\)`), part);
  });

  it("the catalog cites Microsoft's reference for every cmdlet", () => {
    for (const [name, def] of Object.entries({ ...catalog.exchange, ...catalog.powershell })) {
      assert.match(def.doc, /^https:\/\/learn\.microsoft\.com\/powershell\/module\//, name);
      assert.ok(Object.keys(def.parameterSets).length > 0, name);
    }
    assert.deepEqual(catalog.exchange["Set-ClientAccessService"].versions, ["2016", "2019", "SE"]);
  });
});

describe("the static check refuses broken PowerShell", () => {
  const refuses = (ps: string, line: number) => assert.rejects(parsePowerShell(ps), (e: unknown) => e instanceof PowerShellSyntaxError && new RegExp(`^line ${line}:`).test((e as Error).message));

  it("an unterminated string, including one closed by a typographic quote of the other kind", async () => {
    await refuses("Get-ExchangeServer -Identity 'EX1\n", 1);
    await refuses('$a = "abc\u2019\n', 1);
  });

  it("an unterminated here-string or block comment", async () => {
    await refuses("$h = @'\nline\n '@\n", 1);
    await refuses("<# never closed\n", 1);
  });

  it("unbalanced braces and parentheses", async () => {
    await refuses("function F { if ($x) { }\n", 1);
    await refuses("function F { ($x }\n", 1);
    await refuses("$x)\n", 1);
  });

  it("a cmdlet that is not in the catalog, or a parameter it does not have", async () => {
    assert.match((await problemsOf("Set-ClientAccessArray -Identity 'x'\n")).join(), /Set-ClientAccessArray is neither/);
    assert.match((await problemsOf("Set-OutlookAnywhere -Identity 'x' -ClientAuthMethod Ntlm\n")).join(), /no parameter -ClientAuthMethod/);
  });

  it("a call that mixes parameter sets", async () => {
    assert.match((await problemsOf("Set-ClientAccessService -Identity 'EX1' -AutoDiscoverServiceInternalUri $u -AlternateServiceAccountCredential $c\n")).join(), /different parameter sets/);
    assert.match((await problemsOf("Set-OutlookAnywhere -Identity 'x' -DefaultAuthenticationMethod Ntlm -IISAuthenticationMethods Ntlm\n")).join(), /different parameter sets/);
  });

  it("an operation whose param block or cmdlets differ from its operation table entry", async () => {
    const table = { "Get-EkThing": { params: { Server: {}, Noun: {} }, cmdlets: ["Get-ExchangeServer", "Get-ClientAccessService"] } };
    const problems = checkAgainstOperationTable(await analyzeModule("function Get-EkThing {\n param([string] $Server)\n Get-ExchangeServer -Identity $Server\n Set-OutlookAnywhere -Identity $Server\n}\n"), table);
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems.join("\n"), /param block \(Server\) is not the table's parameters \(Server, Noun\)/);
    assert.match(problems.join("\n"), /calls Set-OutlookAnywhere, which its table entry does not list/);
    assert.match(problems.join("\n"), /lists Get-ClientAccessService, which the function never calls/);
    assert.match(checkAgainstOperationTable(await analyzeModule("function Get-EkOther { }\n"), table).join(), /no such function/);
  });

  it("a netsh command Microsoft does not document, a key it does not take, or an argument that is not one quoted key=value", async () => {
    assert.match((await problemsOf('netsh http add iplisten "ipaddress=0.0.0.0"\n')).join(), /netsh http add iplisten is not a netsh command in exchange-cmdlets.json/);
    assert.match((await problemsOf('netsh http add urlacl "url=$Url" "owner=x"\n')).join(), /has no parameter owner=/);
    assert.match((await problemsOf("netsh http add sslcert ipport=$IpPort\n")).join(), /is given ipport=\$IpPort, not one quoted "key=value" argument/);
    assert.deepEqual(await problemsOf('netsh http delete sslcert "ipport=$IpPort"\n'), []);
  });

  it("a call to a function of the module with a parameter its param block lacks", async () => {
    assert.match((await problemsOf("function Get-EkThing {\n param([string] $Server)\n}\nGet-EkThing -Srv 'x'\n")).join(), /Get-EkThing has no parameter -Srv/);
  });
});
