// The fixed-script channel: the only script text the session ever sends, and the one result line
// it reads back (ExchangeKerberos.psm1 is the other half).
//   First the key handoff (sealing.ts): the shell makes an RSA key pair and answers its public
//   half; the session sends the sealing key encrypted to it, and the shell puts it where the module
//   reads it at import (EK_SESSION_KEY in its own environment, which the module clears).
//   The bootstrap loads the module: from its path (a local process), or, over ssh, from its text,
//   since the management host has no copy; path or text, and the table's operation names, travel as
//   base64.
//   Each call is `Invoke-EkOperation -Name '<operation>' -ParamsBase64 '<base64 of UTF-8 JSON>'`.
// Only base64 characters and operation names from the table ever reach script text
// (assertScriptText enforces it), so no value, and no password, is ever parsed as PowerShell or
// passed as a process argument; secrets are sealed even inside the base64 (sealing.ts). The answer
// is one stdout line `EK-RESULT-BEGIN <base64 JSON> EK-RESULT-END`.
import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidInputError, type KerberosRolloutError } from "../errors";
import { ExchangeCommandError, type OperationError } from "./error-mapping";
import { OPERATION_NAMES, type OperationName } from "./operation-table";

/** The module, found from the compiled file (dist/provider/exchange) or the source tree. */
export function modulePath(): string {
  const candidates = [
    path.join(__dirname, "ExchangeKerberos.psm1"),
    path.join(__dirname, "..", "..", "..", "provider", "exchange", "ExchangeKerberos.psm1"),
  ];
  const hit = candidates.find((c) => fs.existsSync(c));
  if (!hit) {
    throw new ExchangeCommandError(`the operations module ExchangeKerberos.psm1 is missing (looked in ${candidates.join(", ")})`, "reinstall pulumi-exchange-kerberos");
  }
  return hit;
}

export function toBase64Json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64");
}

function base64Text(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** Loads the module, handing it the operations it may run (the table's names, comma-separated). */
export function bootstrapScript(moduleFile: string, operations: readonly string[] = OPERATION_NAMES): string {
  const decode = (b64: string) => `([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('${b64}')))`;
  return (
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; " +
    `Import-Module -Name ${decode(base64Text(moduleFile))} -ArgumentList ${decode(base64Text(operations.join(",")))} -DisableNameChecking -Force; ` +
    "[Console]::Out.WriteLine('EK-MODULE-LOADED')"
  );
}

/**
 * The module loaded from its text (the ssh transport: the file is on this machine, not on the
 * management host). A dynamic module from a script block is the same module: its own scope for
 * $script: variables, Export-ModuleMember, the operation names as its parameter.
 */
export function inlineBootstrapScript(moduleText: string, operations: readonly string[] = OPERATION_NAMES): string {
  const decode = (b64: string) => `([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('${b64}')))`;
  return (
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; " +
    `New-Module -Name ExchangeKerberos -ScriptBlock ([System.Management.Automation.ScriptBlock]::Create(${decode(base64Text(moduleText))})) -ArgumentList ${decode(base64Text(operations.join(",")))} | Import-Module -DisableNameChecking -Force; ` +
    "[Console]::Out.WriteLine('EK-MODULE-LOADED')"
  );
}

/**
 * The shell's half of the key handoff: a fresh RSA key pair that never leaves the process, its
 * public half answered as base64 (.NET's big-endian modulus and exponent). RSACryptoServiceProvider
 * is in Windows PowerShell 5.1's .NET Framework and in PowerShell 7's .NET on every platform.
 */
export const KEY_REQUEST_SCRIPT =
  "$EkKeyExchange = New-Object -TypeName System.Security.Cryptography.RSACryptoServiceProvider -ArgumentList 2048; " +
  "$EkPublicKey = $EkKeyExchange.ExportParameters($false); " +
  "[Console]::Out.WriteLine('EK-PUBLIC-KEY ' + [System.Convert]::ToBase64String($EkPublicKey.Modulus) + ' ' + [System.Convert]::ToBase64String($EkPublicKey.Exponent))";

/** The public key the shell answered: base64 modulus and exponent. */
export function parsePublicKeyAnswer(stdout: string): { modulus: string; exponent: string } | undefined {
  const m = /EK-PUBLIC-KEY ([A-Za-z0-9+/]+={0,2}) ([A-Za-z0-9+/]+={0,2})/.exec(stdout);
  return m ? { modulus: m[1], exponent: m[2] } : undefined;
}

/**
 * The session's half: the sealing key, RSA-OAEP-encrypted to the shell's key (Decrypt(…, $true) is
 * OAEP with SHA-1), decrypted there into the variable the module reads at import; the key pair is
 * then dropped. Script block logging records this line: it holds only the ciphertext.
 */
export function keyDeliveryScript(encryptedKeyB64: string): string {
  return (
    `$env:EK_SESSION_KEY = [System.Convert]::ToBase64String($EkKeyExchange.Decrypt([System.Convert]::FromBase64String('${encryptedKeyB64}'), $true)); ` +
    "$EkKeyExchange.Dispose(); Remove-Variable -Name EkKeyExchange, EkPublicKey; [Console]::Out.WriteLine('EK-KEY-SET')"
  );
}

export function operationScript(op: OperationName, params: unknown): string {
  return `Invoke-EkOperation -Name '${op}' -ParamsBase64 '${toBase64Json(params)}'`;
}

const B64 = "[A-Za-z0-9+/]*={0,2}";
const DECODE = `\\(\\[System\\.Text\\.Encoding\\]::UTF8\\.GetString\\(\\[System\\.Convert\\]::FromBase64String\\('(${B64})'\\)\\)\\)`;
/** The bootstrap line; groups: the module path, the operation names (both base64). */
export const BOOTSTRAP_FORM = new RegExp(
  "^\\$ErrorActionPreference = 'Stop'; \\$ProgressPreference = 'SilentlyContinue'; " +
    `Import-Module -Name ${DECODE} -ArgumentList ${DECODE} -DisableNameChecking -Force; ` +
    "\\[Console\\]::Out\\.WriteLine\\('EK-MODULE-LOADED'\\)$",
);
/** The bootstrap from the module's text; groups: the module text, the operation names (both base64). */
export const INLINE_BOOTSTRAP_FORM = new RegExp(
  "^\\$ErrorActionPreference = 'Stop'; \\$ProgressPreference = 'SilentlyContinue'; " +
    `New-Module -Name ExchangeKerberos -ScriptBlock \\(\\[System\\.Management\\.Automation\\.ScriptBlock\\]::Create\\(${DECODE}\\)\\) -ArgumentList ${DECODE} \\| Import-Module -DisableNameChecking -Force; ` +
    "\\[Console\\]::Out\\.WriteLine\\('EK-MODULE-LOADED'\\)$",
);
/** The key delivery line; group: the encrypted key (base64). */
export const KEY_DELIVERY_FORM = new RegExp(`^${escapeRegExp(keyDeliveryScript("\u0000")).replace("\u0000", `(${B64})`)}$`);
/** An operation line; groups: the name, the parameters (base64 JSON). */
export const OPERATION_FORM = new RegExp(`^Invoke-EkOperation -Name '([A-Za-z-]+)' -ParamsBase64 '(${B64})'$`);

/**
 * Asked only when the module did not load: the execution policy Group Policy sets for the computer
 * and for the user, and the one in effect (Get-ExecutionPolicy; "Undefined" where none is set).
 */
export const EXECUTION_POLICY_SCRIPT =
  "[Console]::Out.WriteLine('EK-POLICY ' + (Get-ExecutionPolicy -Scope MachinePolicy) + ' ' + (Get-ExecutionPolicy -Scope UserPolicy) + ' ' + (Get-ExecutionPolicy))";

/**
 * The refusal to report when Group Policy keeps the shell from loading the module. The shell runs
 * with -ExecutionPolicy Bypass (Process scope); only the MachinePolicy and UserPolicy scopes, which
 * the "Turn on Script Execution" policy sets, take precedence over it, and of their values
 * Restricted (the policy disabled) and AllSigned (the module is not signed) refuse the module
 * (about_Execution_Policies).
 */
export function groupPolicyRefusal(answer: string, shell: string): KerberosRolloutError | undefined {
  const m = /EK-POLICY (\w+) (\w+) (\w+)/.exec(answer);
  if (!m) return undefined;
  const [machine, user] = [m[1], m[2]];
  const scope = machine !== "Undefined" ? { name: "MachinePolicy", policy: machine, node: "Computer Configuration" } : user !== "Undefined" ? { name: "UserPolicy", policy: user, node: "User Configuration" } : undefined;
  if (!scope || !["Restricted", "AllSigned"].includes(scope.policy)) return undefined;
  return new InvalidInputError(
    "exchange-kerberos:exchangeShell",
    `Group Policy sets PowerShell's execution policy to ${scope.policy} (scope ${scope.name}, "Turn on Script Execution" under ${scope.node}), which overrides the -ExecutionPolicy Bypass ${shell} is started with, so it cannot load the operations module ExchangeKerberos.psm1 (nor the module Import-PSSession makes)`,
    `have the policy allow local scripts ("Allow local scripts and remote signed scripts", RemoteSigned) for this ${scope.name === "MachinePolicy" ? "computer" : "user"}, or run pulumi on a machine the policy does not cover`,
    { code: "EXECUTION_POLICY_BY_GROUP_POLICY" },
  );
}

/** The last line of defence: refuses any script text that is not one of our fixed forms. */
export function assertScriptText(text: string): void {
  const op = OPERATION_FORM.exec(text);
  const fixed = text === KEY_REQUEST_SCRIPT || KEY_DELIVERY_FORM.test(text) || BOOTSTRAP_FORM.test(text) || INLINE_BOOTSTRAP_FORM.test(text) || text === EXECUTION_POLICY_SCRIPT;
  if (fixed || (op && (OPERATION_NAMES as string[]).includes(op[1]))) return;
  throw new ExchangeCommandError("refusing to send script text that is not one of the fixed forms (a value would have been spliced into PowerShell)");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export type Outcome = { ok: true; data: unknown } | { ok: false; error: OperationError };

/** Finds the one marked result line in what stdout printed. */
export function parseResult(stdout: string): Outcome | undefined {
  const m = /EK-RESULT-BEGIN ([A-Za-z0-9+/=]*) EK-RESULT-END/.exec(stdout);
  if (!m) return undefined;
  const doc: unknown = JSON.parse(Buffer.from(m[1], "base64").toString("utf8"));
  if (typeof doc !== "object" || doc === null || typeof (doc as { ok?: unknown }).ok !== "boolean") {
    throw new ExchangeCommandError("the operations module answered with a malformed result document");
  }
  const d = doc as { ok: boolean; data?: unknown; error?: Partial<OperationError> };
  if (d.ok) return { ok: true, data: d.data ?? null };
  const e = d.error ?? {};
  return {
    ok: false,
    error: { category: String(e.category ?? ""), reason: String(e.reason ?? ""), errorId: String(e.errorId ?? ""), message: String(e.message ?? "") },
  };
}
