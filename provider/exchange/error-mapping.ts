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

/** Maps an error returned as data to our typed family. `what` names the object (server, vdir). */
export function typedError(err: OperationError, what: string, secrets: readonly (string | undefined)[] = []): KerberosRolloutError {
  const msg = scrub(err.message, secrets);
  const text = `${what}: Exchange says: ${msg}`;
  const cat = err.category;
  const reason = err.reason;
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
