// The fixed-script channel: the only script text the session ever sends, and the one result line
// it reads back (ExchangeKerberos.psm1 is the other half).
//   The bootstrap loads the module; its path and the table's operation names travel as base64.
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
  if (BOOTSTRAP_FORM.test(text) || text === EXECUTION_POLICY_SCRIPT || (op && (OPERATION_NAMES as string[]).includes(op[1]))) return;
  throw new ExchangeCommandError("refusing to send script text that is not one of the fixed forms (a value would have been spliced into PowerShell)");
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
