// The typed error family shared by the LDAP and PowerShell transports. Callers branch on
// `instanceof`, never on message text. Every message names the object, the field where there is
// one, and the fix. No message may ever contain a password: build messages from names and DNs only.

export abstract class KerberosRolloutError extends Error {
  /** What the admin should do about it, already part of `message`. */
  readonly fix?: string;

  constructor(message: string, fix?: string, options?: { cause?: unknown }) {
    super(fix ? `${message}. Fix: ${fix}` : message, options);
    this.name = new.target.name;
    this.fix = fix;
  }
}

/** The object the resource manages is not there (deleted by hand, wrong DN, wrong server). */
export class NotFoundError extends KerberosRolloutError {}

/** The object exists already and the resource was not told to adopt it. */
export class AlreadyExistsError extends KerberosRolloutError {}

/** The directory or Exchange holds something that contradicts the declared state (an SPN held by
 * another account, a record of another type on the node). */
export class ConflictError extends KerberosRolloutError {}

/** The bind account or the Exchange credential lacks the rights for the operation. */
export class AccessDeniedError extends KerberosRolloutError {}

/** The server did not answer, refused TLS, or its certificate is not trusted. */
export class UnreachableError extends KerberosRolloutError {}

/** A declared value is malformed; raised by `check` before anything changes. */
export class InvalidInputError extends KerberosRolloutError {
  readonly field: string;
  /** The cause alone, without the field and the fix. */
  readonly reason: string;

  constructor(field: string, message: string, fix?: string) {
    super(`${field}: ${message}`, fix);
    this.field = field;
    this.reason = message;
  }

  /** The same refusal under another name for the field (a config key for a component argument). */
  renamed(field: string): InvalidInputError {
    return new InvalidInputError(field, this.reason, this.fix);
  }
}

/**
 * A warning from inside the provider: one line on stderr, which the engine shows with the run's
 * output (a dynamic provider has no engine connection of its own to log through).
 */
export function warn(message: string): void {
  console.warn(`warning: ${message}`);
}
