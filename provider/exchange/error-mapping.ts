// Error mapping: what Exchange (or PowerShell) reports, returned as data by the module's
// Invoke-EkOperation, becomes one of our typed errors, with every secret scrubbed out of the text.
import {
  AccessDeniedError,
  AlreadyExistsError,
  InvalidInputError,
  KerberosRolloutError,
  NotFoundError,
  UnreachableError,
} from "../errors";
import { redact, registerSecret } from "../secrets";

/** An Exchange (or PowerShell) error that fits none of the typed categories; carries Exchange's message. */
export class ExchangeCommandError extends KerberosRolloutError {
  static readonly defaultCode = "EXCHANGE_COMMAND_FAILED";
}

/** An error as the module returns it: PowerShell's ErrorRecord, flattened. */
export interface OperationError {
  category: string;
  reason: string;
  errorId: string;
  message: string;
}

/** Redacts a message (Exchange may echo what it was given), registering `secrets` first. */
export function scrub(message: string, secrets: readonly (string | undefined)[]): string {
  for (const s of secrets) registerSecret(s);
  return redact(message);
}

/**
 * What New-PSSession and Invoke-Command -ComputerName answer where PowerShell cannot load a WSMan
 * client library (pwsh 7.3 and later on Linux and macOS ship none: PowerShell/PowerShell#17390).
 * WSManTransportManager.cs throws PSRemotingTransportException(WSManClientDllNotAvailable) from the
 * DllNotFoundException, and that exception's default ErrorRecord (remotingexceptions.cs,
 * SetDefaultErrorRecord) carries ResourceUnavailable and the id of PSRemotingDataStructureException,
 * to which PowerShell appends the cmdlet's type. Only a synchronous failure to set up the transport
 * carries this id: a server that does not answer fails the open later, as PSSessionOpenFailed.
 */
const NO_WSMAN_CLIENT = /^System\.Management\.Automation\.Remoting\.PSRemotingDataStructureException,Microsoft\.PowerShell\.Commands\.(NewPSSessionCommand|InvokeCommandCommand)$/;

/** The three ways out, for every place that meets a PowerShell without WSMan (preview, doctor, discover). */
export const NO_WSMAN_FIX =
  "run pulumi on Windows, whose Windows PowerShell 5.1 and PowerShell 7 have WSMan; or set exchange-kerberos:exchangeTransport ssh to run PowerShell on a Windows management host (docs/ssh-transport.md); " +
  "or give pwsh a WSMan client (the community module PSWSMan installs one; users report it no longer works with PowerShell 7.4 and later: PowerShell/PowerShell#20806, #25110)";

/** Maps an error returned as data to our typed family. `what` names the object (server, vdir). */
export function typedError(err: OperationError, what: string, secrets: readonly (string | undefined)[] = []): KerberosRolloutError {
  const msg = scrub(err.message, secrets);
  const text = `${what}: Exchange says: ${msg}`;
  const cat = err.category;
  const reason = err.reason;
  if (NO_WSMAN_CLIENT.test(err.errorId)) {
    return new UnreachableError(`${what}: PowerShell on this machine has no WSMan client, which Exchange's remote session needs; PowerShell says: ${msg} (WSMAN_CLIENT_MISSING)`, NO_WSMAN_FIX, { code: "WSMAN_CLIENT_MISSING" });
  }
  if (reason === "CommandNotFoundException") {
    return new ExchangeCommandError(text, "the cmdlet does not exist in this Exchange version or for this role; check the server's version (Get-ExchangeServer) and the account's Exchange roles");
  }
  if (cat === "ObjectNotFound" || /NotFound/i.test(reason)) {
    return new NotFoundError(text, "check the server name (Get-ExchangeServer lists them) and that the virtual directory exists in Default Web Site");
  }
  if (cat === "PermissionDenied" || cat === "SecurityError" || /UnauthorizedAccess|AccessDenied/i.test(reason)) {
    return new AccessDeniedError(text, "run as a member of Organization Management (or a role group with the Client Access and virtual directory cmdlets)");
  }
  if (cat === "OpenError" || cat === "ConnectionError" || cat === "ResourceUnavailable" || /Transport|Remoting/i.test(reason)) {
    return new UnreachableError(text, "check exchange-kerberos:exchangeEndpoint and that http://<server>/PowerShell/ answers for the configured authentication");
  }
  if (cat === "ResourceExists") {
    return new AlreadyExistsError(text, "adopt the existing object or remove it first");
  }
  if (cat === "InvalidArgument" || cat === "InvalidData" || cat === "InvalidType" || /ParameterBinding/i.test(reason)) {
    return new InvalidInputError(what, `Exchange refused a value: ${msg}`, "correct the value named in Exchange's message");
  }
  // The error id is scrubbed like the message: for `throw '<text>'` PowerShell makes the text itself
  // the FullyQualifiedErrorId (about_Throw), so it is the message again, and then not repeated.
  const id = scrub(err.errorId, secrets);
  return new ExchangeCommandError(text, id !== "" && err.errorId !== err.message ? `see Exchange's error ${id}` : undefined);
}
