// Errors of the Kerberos codecs and crypto, in the shared family (provider/errors.ts). Callers
// branch on `instanceof` and `code`. Messages name the structure and the field, never a key or a
// password.
import { ErrorOptions, KerberosRolloutError } from "../errors";

/** Bytes that do not parse as the format they claim to be (DER, ccache, keytab). */
export class KerberosFormatError extends KerberosRolloutError {
  static readonly defaultCode = "KERBEROS_FORMAT";
  /** Which format: "DER", "ccache", "keytab", "Ticket", "EncTicketPart"… */
  readonly format: string;

  constructor(format: string, reason: string, fix?: string, options?: ErrorOptions) {
    super(`${format}: ${reason}`, fix, options);
    this.format = format;
  }
}

/** The HMAC of an encrypted message did not match (RFC 3961 §5.3): the key is not the one the
 * sender used. For a service ticket this is KRB_AP_ERR_MODIFIED. */
export class IntegrityError extends KerberosRolloutError {
  static readonly defaultCode = "INTEGRITY_CHECK_FAILED";
}

/** An encryption type this module does not implement (RFC 3961 §8 numbers). */
export class UnsupportedEtypeError extends KerberosRolloutError {
  static readonly defaultCode = "ETYPE_NOT_IMPLEMENTED";
  readonly etype: number;

  constructor(etype: number, reason: string, fix?: string, options?: ErrorOptions) {
    super(reason, fix, options);
    this.etype = etype;
  }
}
