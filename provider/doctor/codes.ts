// Every code a doctor finding carries (`doctor --json` → `code`), with what it means. The same
// convention as the errors' codes (provider/error-codes.ts): short, UPPER_SNAKE, listed in the
// README (the doctor's table), never renamed or reused once published. Check 4 reports the ticket
// layer's codes with TICKET_ before them, check 5 the verifier's as they are: both are listed here,
// so the type below refuses a code that is not. test/unit/doctor-codes.test.ts checks the README.

export const DOCTOR_CODES = {
  OK: "the check passed",
  NOT_CHECKED: "skip: the check's input is missing (the directory could not be read, no servers configured…)",
  // 1. DNS
  DNS_NAME_MISSING: "the namespace does not resolve at the domain's DNS server",
  DNS_WRONG_ADDRESS: "the namespace resolves to other addresses than the declared ones",
  DNS_UNREACHABLE: "the domain's DNS server does not answer",
  DNS_SERVER_UNKNOWN: "no DNS server of the domain could be found",
  // 2. SPNs
  SPN_MISSING: "an HTTP/<name> SPN is not on the ASA",
  SPN_DUPLICATE: "an SPN is on the ASA and on another account in the forest",
  SPN_WRONG_ACCOUNT: "an SPN is on another account, not on the ASA",
  GC_ERROR: "the Global Catalog could not be searched",
  // 3. ASA account
  ASA_MISSING: "the ASA does not exist",
  ASA_NOT_A_COMPUTER: "the account the servers hold as ASA is a user or managed service account, not the computer account Microsoft's how-to prescribes",
  ASA_DISABLED: "the ASA is disabled",
  ASA_NO_AES: "msDS-SupportedEncryptionTypes of the ASA allows no AES",
  ASA_NO_PASSWORD: "the ASA has no password set",
  ASA_RC4_ALLOWED: "warn: the ASA still allows RC4",
  ASA_PASSWORD_DUE_SOON: "warn: the ASA's password reaches its maximum age (asaPasswordMaxAgeDays) within a week",
  ASA_PASSWORD_OVERDUE: "warn: the ASA's password is older than its maximum age (asaPasswordMaxAgeDays); drift counts it as drift",
  // 4. with kdcProxyUrl: the KDC proxy (MS-KKDCP)
  KDC_PROXY_UNREACHABLE: "the KDC proxy does not answer TLS, or dropped the request",
  KDC_PROXY_TIMEOUT: "no answer came through the KDC proxy in time",
  KDC_PROXY_CERT_EXPIRED: "the KDC proxy's certificate has expired",
  KDC_PROXY_CERT_NAME_MISMATCH: "the KDC proxy's certificate does not name its host",
  KDC_PROXY_CERT_UNTRUSTED: "the KDC proxy's certificate is not trusted",
  KDC_PROXY_REALM_REFUSED: "the KDC proxy does not serve the realm, or its KDC is of another realm",
  KDC_PROXY_KDC_UNREACHABLE: "the KDC proxy reached no KDC",
  KDC_PROXY_NOT_FOUND: "nothing answers at the KDC proxy's path (HTTP 404)",
  KDC_PROXY_ERROR: "the KDC proxy answered with another HTTP error, or with no KDC answer",
  KDC_PROXY_URL_INVALID: "exchange-kerberos:kdcProxyUrl is not an https:// URL",
  KDC_PROXY_CA_FILE_UNREADABLE: "exchange-kerberos:kdcProxyCaFile cannot be read",
  // 4. service tickets
  KERBEROS_LOGON_FAILED: "the doctor's user could not get a TGT",
  TICKET_SPN_UNKNOWN: "the KDC does not know the SPN",
  TICKET_SPN_NOT_UNIQUE: "the KDC finds the SPN on more than one account",
  TICKET_NO_COMMON_ETYPE: "the KDC and the ASA share no encryption type",
  TICKET_CLOCK_SKEW: "the clocks differ by more than 5 minutes",
  TICKET_KDC_UNREACHABLE: "no KDC answered",
  TICKET_NOT_IN_CACHE: "kvno succeeded but the ticket is not in the cache",
  TICKET_KVNO_FAILED: "kvno failed otherwise",
  // 5. the ticket decrypts with the ASA password
  KRB_AP_ERR_MODIFIED: "the ticket does not decrypt with a key derived from the ASA password",
  STALE_TICKET: "the ticket predates the ASA's last password set",
  RC4_TICKET: "the ticket is RC4-encrypted (the ASA lacks AES keys)",
  UNSUPPORTED_ETYPE: "the ticket's encryption type is not AES or RC4",
  WRONG_SERVICE: "the ticket is for another service",
  MALFORMED: "the ticket, or the ASA name it is checked against, does not parse",
  NO_ASA_PASSWORD: "skip: the ASA password is not known to the doctor",
  NO_TICKET: "skip: there is no ticket to check",
  // 6. the ASA credential on every server
  SERVER_NO_ASA: "a server holds no ASA credential",
  SERVER_WRONG_ASA: "a server holds the credential of another account",
  SERVER_ASA_STALE: "a server holds an older password of the ASA",
  SERVER_ASA_TIME_UNKNOWN: "a server's credential cannot be compared with the time AD's password was set",
  EXCHANGE_UNREACHABLE: "Exchange could not be reached",
  EXCHANGE_ERROR: "Exchange answered with an error",
  NO_SERVERS: "no Exchange servers are configured",
  // 7. Negotiate and URLs
  OA_CLIENT_AUTH_NOT_NEGOTIATE: "Outlook Anywhere's client authentication is not Negotiate",
  OA_IIS_NO_NEGOTIATE: "Outlook Anywhere's IIS authentication lacks Negotiate",
  MAPI_NO_NEGOTIATE: "MAPI over HTTP does not offer Negotiate",
  URL_NOT_NAMESPACE: "a URL Outlook uses is not on the namespace (warn for URLs it does not use)",
  // 8. the HTTPS endpoint
  CERT_EXPIRED: "the endpoint's certificate has expired",
  CERT_NOT_YET_VALID: "the endpoint's certificate is not valid yet",
  CERT_UNTRUSTED: "the endpoint's certificate is not trusted",
  CERT_NAME_MISMATCH: "the endpoint's certificate does not name the host",
  ENDPOINT_UNREACHABLE: "the endpoint does not answer",
  NEGOTIATE_NOT_OFFERED: "a path does not offer Negotiate",
  TOKEN_REJECTED: "a path refuses the doctor's Kerberos token",
  MUTUAL_AUTH_MISSING: "a path accepts the token but sends no AP-REP",
  MUTUAL_AUTH_FAILED: "the AP-REP does not verify",
  CA_FILE_UNREADABLE: "exchange-kerberos:httpsCaFile cannot be read",
  RC4_SESSION_KEY: "skip: the session key is RC4, which check 8 does not implement",
} as const satisfies Record<string, string>;

export type DoctorCode = keyof typeof DOCTOR_CODES;
