// Every code an error of the family (errors.ts) carries, with what it means. A code is part of the
// package's interface, like ActiveDirectoryDsc's message ids and the doctor's finding codes
// (docs/reference/doctor.md): short, UPPER_SNAKE, listed in docs/reference/error-codes.md (generated
// from this list by scripts/docs.ts), and never renamed or reused once
// published; a new cause gets a new code. A code names the kind of cause; the error's `field` says
// which input it is about, so one code serves every field with that cause (VALUE_EMPTY).
// test/unit/error-codes.test.ts checks that every code is used, documented and unique, also
// against the doctor's codes.

export const ERROR_CODES = {
  // The kind of error, for a raise site that names no code of its own.
  NOT_FOUND: "the object is not there",
  ALREADY_EXISTS: "the object exists already and is not ours",
  CONFLICT: "the directory or Exchange holds something that contradicts the declared state",
  ACCESS_DENIED: "the account used lacks the right",
  UNREACHABLE: "the server did not answer, or the session to it ended",
  INVALID_INPUT: "a declared value was refused",
  EXCHANGE_COMMAND_FAILED: "Exchange or PowerShell failed in a way none of the other kinds covers",
  KERBEROS_FORMAT: "bytes do not parse as the Kerberos structure they claim to be (DER, ccache, keytab, ticket, GSS token)",
  INTEGRITY_CHECK_FAILED: "a Kerberos message does not decrypt with the key: it was encrypted with another",
  ETYPE_NOT_IMPLEMENTED: "a Kerberos encryption type other than AES128/AES256-CTS-HMAC-SHA1-96",

  // Values of any field.
  VALUE_EMPTY: "the value is empty, or the list has no element",
  NOT_A_STRING: "the value is not a string",
  NOT_A_BOOLEAN: "the value is not true or false",
  NOT_A_NUMBER: "the value is not a whole decimal or 0x-hex number",
  NUMBER_OUT_OF_RANGE: "the number is outside the range the setting takes",
  NOT_A_LIST: "the value is not a list",
  NOT_AN_OBJECT: "the value is not an object",
  NOT_JSON: "the config value is not JSON",
  DUPLICATE_VALUE: "a list names the same value twice",
  VALUE_NOT_ALLOWED: "the value is not one of those the field takes",
  UNKNOWN_SETTING: "a key of an object input that the resource does not know",
  TEXT_NOT_ONE_LINE: "the text has line breaks or control characters, or is too long",

  // Names, addresses and URLs.
  NOT_A_DNS_NAME: "not a fully qualified DNS name",
  NOT_A_RELATIVE_DNS_NAME: "not a DNS name relative to the zone",
  NON_ASCII_NAME: "a DNS name with characters outside ASCII (give its xn-- form)",
  NAME_TOO_LONG: "a DNS name longer than 253 characters",
  NAME_TRAILING_DOT: "a host name written with a trailing dot",
  NAME_INCLUDES_ZONE: "a record name that repeats its zone",
  NAMESPACE_NOT_IN_ZONE: "the namespace does not lie in the DNS zone given",
  NOT_AN_IPV4_ADDRESS: "not an IPv4 address",
  NOT_AN_IPV6_ADDRESS: "not an IPv6 address",
  NOT_AN_ABSOLUTE_URL: "not an absolute URL",
  NOT_HTTPS: "a virtual directory URL that is not https://",
  URL_HAS_CREDENTIALS: "a URL that carries a user name or password",
  NOT_A_TTL: "not a DNS TTL in whole seconds",
  NOT_A_FILE_PATH: "not a file path",

  // Distinguished names and accounts.
  INVALID_DN: "not a distinguished name (RFC 4514)",
  DN_MULTI_VALUED_RDN: "a container DN with a multi-valued RDN",
  DN_NOT_A_CONTAINER: "a container DN with a component other than OU=, CN= or DC=",
  DN_NOT_IN_DOMAIN: "a DN that does not end in the domain's DC= components",
  DN_BAD_DC_LABEL: "a DC= component that is not a DNS label",
  DN_NAMES_NO_OBJECT: "a DN that names no object inside a domain",
  DN_NO_DOMAIN_COMPONENTS: "a DN without DC= components",
  INVALID_COMPUTER_NAME: "not a NetBIOS computer name",
  COMPUTER_NAME_TRAILING_DOLLAR: "a computer name given with its sAMAccountName's trailing $",
  COMPUTER_NAME_TOO_LONG: "a computer name longer than 15 characters",
  COMPUTER_NAME_ALL_DIGITS: "a computer name of digits only",
  INVALID_SAM_ACCOUNT_NAME: "not a sAMAccountName",
  INVALID_ACCOUNT_REFERENCE: "neither a SID, a DN nor a sAMAccountName",
  NOT_A_SID: "not a domain account SID",
  NOT_A_DOMAIN_ACCOUNT_NAME: "not DOMAIN\\NAME$",
  INVALID_SPN: "not a service principal name (service/host[:port][/name])",
  INVALID_PRINCIPAL: "not a Kerberos principal name",
  INVALID_REALM: "not a Kerberos realm name",
  INVALID_USER_NAME: "not a user name",
  INVALID_KVNO: "not a key version number",
  NOT_A_KRB5_CONF_VALUE: "a value that cannot be written into a krb5.conf (space, brace, quote, # or ;)",
  NOT_A_KDC_PROXY_URL: "exchange-kerberos:kdcProxyUrl is not a KDC proxy URL (https://<name>/KdcProxy)",
  KPSSVC_MISSING: "the server named for the KDC proxy has no KDC Proxy Server service (kpssvc)",
  CERTIFICATE_NOT_IN_STORE: "the certificate named by its thumbprint is not in the server's computer Personal store",

  // Passwords and encryption types.
  PASSWORD_TOO_LONG: "a password longer than AD accepts (256 characters)",
  PASSWORD_CONTROL_CHARACTER: "a password with a control character",
  PASSWORD_REFUSED: "the directory refused the password (policy, or an unencrypted connection)",
  NOT_AN_ETYPE_MASK: "not a msDS-SupportedEncryptionTypes bit mask",
  ETYPES_ALLOW_DES: "encryption types that enable DES",
  ETYPES_WITHOUT_AES: "encryption types without AES (RC4 only)",

  // Connection settings (stack config).
  SETTING_MISSING: "a required setting is not set",
  SETTINGS_INCOMPLETE: "a setting that needs another one is set without it",
  NOT_AN_LDAP_URL: "not an ldap:// or ldaps:// URL",
  PLAIN_TEXT_LDAP: "the bind password would cross the network in clear text",
  LDAP_CA_FILE_UNREADABLE: "the CA file for the domain controller's certificate cannot be read",

  // The directory.
  LDAP_CERT_UNTRUSTED: "the domain controller's TLS certificate is not trusted or does not name it",
  LDAP_UNREACHABLE: "the domain controller does not answer",
  LDAP_TLS_FAILED: "the TLS handshake with the domain controller failed",
  LDAP_CONNECTION_LOST: "the connection to the domain controller broke during an operation",
  LDAP_BIND_REFUSED: "the domain controller refused the bind user or password",
  LDAP_ACCESS_DENIED: "the bind user lacks the right for an operation",
  LDAP_SIGNING_REQUIRED: "the domain controller requires an encrypted, signed connection",
  LDAP_NO_SUCH_OBJECT: "the object is not in the directory",
  LDAP_ALREADY_EXISTS: "the object is in the directory already",
  LDAP_CONSTRAINT_VIOLATION: "the change conflicts with what the object holds",
  LDAP_UNWILLING_TO_PERFORM: "the domain controller is unwilling to perform the change",
  LDAP_VALUE_REJECTED: "the directory rejected a DN or value (syntax, schema)",
  LDAP_RESULT_ERROR: "another LDAP result code",
  LDAP_OPERATION_FAILED: "an LDAP operation failed without a result code",
  NOT_A_DOMAIN_CONTROLLER: "the LDAP server is not an Active Directory domain controller",
  NETBIOS_NAME_UNREADABLE: "the domain's NetBIOS name cannot be read",
  OU_NOT_FOUND: "the OU for the ASA does not exist",
  OU_OUTSIDE_DOMAIN: "the OU lies outside the domain's naming context",
  OU_NOT_A_CONTAINER: "the object given as OU is neither an OU nor a container",
  NO_RIGHT_TO_CREATE_COMPUTERS: "the bind user may not create computer objects in the OU",
  NO_RIGHT_TO_CREATE_NAMES: "the bind user may not create names in the DNS zone",
  NO_RIGHT_TO_WRITE_RECORDS: "the bind user may not write the DNS name's records",
  NAME_TAKEN: "an object of another class holds the ASA's DN",
  SAM_ACCOUNT_NAME_TAKEN: "the ASA's sAMAccountName belongs to an account that is not a computer",
  SAM_ACCOUNT_NAME_DUPLICATE: "more than one account has the sAMAccountName",
  ASA_EXISTS: "the ASA's computer account exists and adopt is not set",
  ASA_NOT_FOUND: "the ASA does not exist",
  ASA_NO_KEY_VERSION: "the ASA has no msDS-KeyVersionNumber (no password set)",
  ASA_PASSWORD_UNKNOWN: "the ASA's password is neither a stack output nor in config",
  ACCOUNT_NOT_FOUND: "the account named is not in the domain",
  ACCOUNT_IN_OTHER_DOMAIN: "the account lies in another domain than the domain controller's",
  OBJECT_GONE: "the object the stack manages no longer exists",
  OBJECT_VANISHED: "the object disappeared right after it was written",
  SPN_ALREADY_HELD: "the account holds the SPN already and adopt is not set",
  SPN_HELD_ELSEWHERE: "another account holds the SPN",
  SPN_HELD_TWICE: "the SPN is on the managed account and on another",
  SPN_REFUSED: "the directory refused to add the SPN",
  DNS_ZONE_NOT_FOUND: "the DNS zone is not in the directory",
  DNS_ZONE_DUPLICATE: "the DNS zone is in more than one partition",
  DNS_ZONE_NO_SOA: "the zone apex has no SOA record",
  DNS_RECORDS_EXIST: "the name has records of the declared type already and adopt is not set",
  CNAME_AT_APEX: "a CNAME at the zone apex",
  CNAME_MULTIPLE_TARGETS: "a CNAME with more than one target",
  CNAME_BESIDE_RECORDS: "a CNAME declared on a name that has other records",
  RECORDS_BESIDE_CNAME: "records declared on a name that is a CNAME",

  // Exchange.
  NO_EXCHANGE_SERVERS_FOUND: "discover found no Exchange servers in the Configuration partition",
  ASA_CREDENTIAL_NOT_LATEST: "a server accepted the ASA credential but another is its latest",
  FOREIGN_ASA_CREDENTIALS: "a server holds ASA credentials of another account and adopt is not set",

  // Kerberos tools (the doctor, the keytab command).
  KERBEROS_TOOL_MISSING: "an MIT Kerberos program (kinit, kvno) is not installed",
  KERBEROS_TOOL_FAILED: "an MIT Kerberos program failed",
  KDC_UNKNOWN_USER: "the KDC does not know the user",
  KDC_PASSWORD_REFUSED: "the KDC refused the user's password",
  KDC_LOGON_DENIED: "the user's account cannot log on (disabled, locked, expired)",
  KDC_UNREACHABLE: "no KDC of the realm answered",
  CLOCK_SKEW: "this machine's clock and the KDC's differ by more than 5 minutes",
  CCACHE_VERSION_UNSUPPORTED: "a credential cache file format other than 0x0503/0x0504",
  CCACHE_NOT_A_FILE: "a credential cache that is not a FILE: cache",

  // The package as installed (package-install.ts, resources/dynamic.ts).
  PACKAGE_NOT_IN_PROJECT: "the program's directory cannot load pulumi-exchange-kerberos by its own name, where Pulumi replays the stored provider code",
  PACKAGE_VERSION_MISMATCH: "the program's directory loads another version of pulumi-exchange-kerberos than the program runs",
  STATE_FROM_NEWER_VERSION: "a resource's state was written by a newer version of pulumi-exchange-kerberos than the one installed",
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;
