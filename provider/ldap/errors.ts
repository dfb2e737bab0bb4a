// Turns what ldapts and Node's socket layer throw into our typed error family, with the object
// (a DN or the server URL) and the fix in the message. Server diagnostic text is kept (it often
// holds the Windows error code an admin can search for) but scrubbed of every registered secret.
import * as ldapts from "ldapts";
import {
  AccessDeniedError,
  AlreadyExistsError,
  ConflictError,
  InvalidInputError,
  KerberosRolloutError,
  NotFoundError,
  UnreachableError,
} from "../errors";
import { redact } from "../secrets";

/** What the caller was doing, for the message: `"modify"`, and on what: a DN or a URL. */
export interface ErrorContext {
  op: string;
  object: string;
  /** The server the operation went to. */
  url?: string;
  bindUser?: string;
  /** Overrides the default fix for a NotFound / AlreadyExists / Conflict. */
  fix?: string;
}

const TLS_TRUST = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
const NET = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/** True for failures of the connection itself (worth a reconnect), not of the operation. */
export function isConnectionError(e: unknown): boolean {
  if (e instanceof ldapts.ResultCodeError) return e instanceof ldapts.UnavailableError || e instanceof ldapts.BusyError;
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code;
  return (
    (code !== undefined && NET.has(code)) ||
    /Connection closed|Socket error|socket connection not established|Connection timeout|Operation timed out|socket hang up|dropped connection/i.test(e.message)
  );
}

export function mapLdapError(e: unknown, ctx: ErrorContext): KerberosRolloutError {
  if (e instanceof KerberosRolloutError) return e;
  const detail = redact(e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").trim();
  const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
  const where = ctx.url ?? "the directory";
  const opts = { cause: e };

  if (code !== undefined && TLS_TRUST.has(code)) {
    return new UnreachableError(
      `the TLS certificate of ${where} is not trusted (${code}: ${detail})`,
      code === "ERR_TLS_CERT_ALTNAME_INVALID"
        ? "use the host name the DC's certificate was issued to in ldapUrl, not an IP address or alias"
        : "set exchange-kerberos:ldapCaFile to the PEM file of the CA that issued the DC's certificate",
      { ...opts, code: "LDAP_CERT_UNTRUSTED" },
    );
  }
  if (code !== undefined && NET.has(code)) {
    return new UnreachableError(`cannot reach ${where} (${code})`, "check exchange-kerberos:ldapUrl, that the DC is running and that the LDAPS port (636, or 389 for StartTLS) is open from here", { ...opts, code: "LDAP_UNREACHABLE" });
  }
  if (e instanceof Error && /EPROTO|wrong version number|TLS|SSL/i.test(`${code} ${e.message}`) && !(e instanceof ldapts.ResultCodeError)) {
    return new UnreachableError(`TLS with ${where} failed (${detail})`, "ldaps:// URLs need the LDAPS port (636); for port 389 use ldap:// with StartTLS", { ...opts, code: "LDAP_TLS_FAILED" });
  }
  if (isConnectionError(e)) {
    return new UnreachableError(`the connection to ${where} failed during ${ctx.op} of ${ctx.object} (${detail})`, "check that the DC is running; the operation can be retried", { ...opts, code: "LDAP_CONNECTION_LOST" });
  }
  if (e instanceof ldapts.InvalidCredentialsError) {
    return new AccessDeniedError(`${where} refused the bind as ${ctx.bindUser ?? "the configured user"}: wrong user name or password, or the account is locked or disabled`, "check exchange-kerberos:ldapBindUser (a DN, user@domain or DOMAIN\\user) and set the password with pulumi config set --secret exchange-kerberos:ldapBindPassword", { ...opts, code: "LDAP_BIND_REFUSED" });
  }
  if (e instanceof ldapts.InsufficientAccessError) {
    return new AccessDeniedError(`${ctx.bindUser ?? "the bind user"} may not ${ctx.op} ${ctx.object} (${detail})`, "delegate the right on that object or its container to the bind user, or bind as an account that has it", { ...opts, code: "LDAP_ACCESS_DENIED" });
  }
  if (e instanceof ldapts.StrongAuthRequiredError || e instanceof ldapts.ConfidentialityRequiredError) {
    return new AccessDeniedError(`${where} requires an encrypted, signed connection for ${ctx.op} of ${ctx.object} (${detail})`, "use an ldaps:// URL or StartTLS (exchange-kerberos:ldapStartTls true)", { ...opts, code: "LDAP_SIGNING_REQUIRED" });
  }
  if (e instanceof ldapts.NoSuchObjectError) {
    return new NotFoundError(`${ctx.object} does not exist (${ctx.op})`, ctx.fix ?? "check the DN; if it was deleted by hand, run pulumi refresh", { ...opts, code: "LDAP_NO_SUCH_OBJECT" });
  }
  if (e instanceof ldapts.AlreadyExistsError) {
    return new AlreadyExistsError(`${ctx.object} already exists`, ctx.fix ?? "set adopt: true to take it over, or choose another name", { ...opts, code: "LDAP_ALREADY_EXISTS" });
  }
  if (e instanceof ldapts.ConstraintViolationError || e instanceof ldapts.TypeOrValueExistsError || e instanceof ldapts.NoSuchAttributeError) {
    return new ConflictError(`${ctx.op} of ${ctx.object} conflicts with what the directory holds (${detail})`, ctx.fix ?? "run pulumi refresh and try again; if it persists, compare the object with the declared state", { ...opts, code: "LDAP_CONSTRAINT_VIOLATION" });
  }
  if (e instanceof ldapts.UnwillingToPerformError) {
    return new ConflictError(`${where} is unwilling to ${ctx.op} ${ctx.object} (${detail})`, ctx.fix ?? "check the domain's password policy and that the connection is encrypted", { ...opts, code: "LDAP_UNWILLING_TO_PERFORM" });
  }
  if (e instanceof ldapts.InvalidDNSyntaxError || e instanceof ldapts.NamingViolationError || e instanceof ldapts.InvalidSyntaxError || e instanceof ldapts.ObjectClassViolationError) {
    return new InvalidInputError(ctx.object, `the directory rejected ${ctx.op} (${detail})`, ctx.fix ?? "check the DN and the values against the schema", { code: "LDAP_VALUE_REJECTED" });
  }
  if (e instanceof ldapts.ResultCodeError) {
    return new ConflictError(`${ctx.op} of ${ctx.object} failed with LDAP result ${e.code} (${detail})`, ctx.fix ?? "see the server's message above", { ...opts, code: "LDAP_RESULT_ERROR" });
  }
  return new UnreachableError(`${ctx.op} of ${ctx.object} on ${where} failed (${detail})`, "check the DC and the connection settings", { ...opts, code: "LDAP_OPERATION_FAILED" });
}

/**
 * A DC that accepted the TCP connection on 636 (or took a StartTLS request) and then reset it or
 * refused TLS. Windows DCs listen on 636 whether or not they can do TLS: they serve LDAPS only
 * once a certificate for their FQDN with the Server Authentication EKU is in the computer store
 * (from AD CS, or installed by hand), and until then reset the handshake (Microsoft's "Enable LDAP
 * over SSL with a third-party certification authority", KB 321051; AskDS, "Troubleshooting LDAP
 * Over SSL"). "Check that port 636 is open" would send the admin to the firewall.
 */
export function noTlsCertificate(url: string, e: unknown): UnreachableError {
  const detail = redact(e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").trim();
  return new UnreachableError(
    `${url} accepted the connection but refused or reset TLS (${detail}): this DC has no LDAPS certificate`,
    "give the DC a certificate for its FQDN with the Server Authentication EKU (AD CS's Kerberos Authentication or Domain Controller template, or one installed by hand in the computer store; no restart needed), or point exchange-kerberos:ldapUrl at a DC that has one",
    { cause: e, code: "LDAP_NO_TLS_CERTIFICATE" },
  );
}
