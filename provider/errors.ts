// The typed error family shared by the LDAP and PowerShell transports. An error is data: a stable
// `code` (provider/error-codes.ts, listed in docs/reference/error-codes.md), the `field` where there is
// one, the `reason` (the cause alone) and the `fix`. Its message is built from those in one place,
// `formatProblem`, and no code reads a message back: callers branch on `instanceof` and `code`,
// and reuse `reason` and `fix`. No message may ever contain a password: build reasons from names
// and DNs only.
import type { ErrorCode } from "./error-codes";

/** What a problem is made of; every message the package shows is built from these. */
export interface Problem {
  /** The input or config key the problem is about, as the user wrote it. */
  field?: string;
  /** The cause alone, without the field and the fix. */
  reason: string;
  /** What to do about it. */
  fix?: string;
}

/**
 * The one message builder: "FIELD: REASON. Fix: FIX", on one line (a reason quoting a server's
 * message may hold line breaks; the CLI shows each problem as one line).
 */
export function formatProblem(p: Problem): string {
  const text = `${p.field ? `${p.field}: ` : ""}${p.reason}${p.fix ? `. Fix: ${p.fix}` : ""}`;
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** The field (if any) and the cause of `e`, without the fix: for a message that wraps it. */
export function causeOf(e: KerberosRolloutError): string {
  return formatProblem({ field: e.field, reason: e.reason });
}

export interface ErrorOptions {
  /** The stable code; omitted, the class's own (`NOT_FOUND`, `CONFLICT`…). */
  code?: ErrorCode;
  cause?: unknown;
}

export abstract class KerberosRolloutError extends Error {
  readonly code: ErrorCode;
  /** The cause alone, without the field and the fix. */
  readonly reason: string;
  /** What the admin should do about it (the message shows it after "Fix:"). */
  readonly fix?: string;
  /** The input or config key it is about, where there is one. */
  readonly field?: string;

  constructor(reason: string, fix?: string, options: ErrorOptions & { field?: string } = {}) {
    super(formatProblem({ field: options.field, reason, fix }), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    // A raise site that names no code gets its class's (`static defaultCode`): the kind of error.
    this.code = options.code ?? (new.target as unknown as { defaultCode: ErrorCode }).defaultCode;
    this.reason = reason;
    this.fix = fix;
    if (options.field !== undefined) this.field = options.field;
  }
}

/** The object the resource manages is not there (deleted by hand, wrong DN, wrong server). */
export class NotFoundError extends KerberosRolloutError {
  static readonly defaultCode: ErrorCode = "NOT_FOUND";
}

/** The object exists already and the resource was not told to adopt it. */
export class AlreadyExistsError extends KerberosRolloutError {
  static readonly defaultCode: ErrorCode = "ALREADY_EXISTS";
}

/** The directory or Exchange holds something that contradicts the declared state (an SPN held by
 * another account, a record of another type on the node). */
export class ConflictError extends KerberosRolloutError {
  static readonly defaultCode: ErrorCode = "CONFLICT";
}

/** The bind account or the Exchange credential lacks the rights for the operation. */
export class AccessDeniedError extends KerberosRolloutError {
  static readonly defaultCode: ErrorCode = "ACCESS_DENIED";
}

/** The server did not answer, refused TLS, or its certificate is not trusted. */
export class UnreachableError extends KerberosRolloutError {
  static readonly defaultCode: ErrorCode = "UNREACHABLE";
}

/** A declared value is malformed; raised by `check` before anything changes. */
export class InvalidInputError extends KerberosRolloutError {
  static readonly defaultCode: ErrorCode = "INVALID_INPUT";
  declare readonly field: string;

  constructor(field: string, reason: string, fix?: string, options: ErrorOptions = {}) {
    super(reason, fix, { ...options, field });
  }

  /** The same refusal under another name for the field (a config key for a component argument). */
  renamed(field: string): InvalidInputError {
    return new InvalidInputError(field, this.reason, this.fix, { code: this.code, cause: this.cause });
  }
}

/**
 * A warning from inside the provider: one line on stderr, which the engine shows with the run's
 * output (a dynamic provider has no engine connection of its own to log through). Built by the
 * same builder as every error message.
 */
export function warn(reason: string, fix?: string): void {
  console.warn(`warning: ${formatProblem({ reason, fix })}`);
}
