// The one place that declares each Exchange operation ExchangeKerberos.psm1 runs: its name, its
// parameters (types, which are optional, which are secret and travel sealed), the shape of its
// result (narrowed from `unknown` at the session's boundary) and the cmdlets its PowerShell
// function may call. Everything else derives from this table:
//   - the session's allow-list (channel.ts: which names may appear in script text), and the
//     module's (the bootstrap hands it the names; Invoke-EkOperation refuses any other);
//   - the TypeScript types of each call's parameters and result (OperationParams, OperationResult);
//   - the stand-in's dispatch (test/fixtures/exchange-standin): it refuses a name not in the table
//     and parameters that do not fit it, and its behaviours are typed by it;
//   - the static check (test/unit/exchange/module-static.test.ts): each operation's function in the
//     module has exactly these parameters in its param block and calls exactly these cmdlets.
// How to add an operation: ARCHITECTURE.md, "Adding an Exchange operation".
import { param, result, type CallRecord, type ParamFields, type ResultOfSpec, type ResultSpec, type WireRecord } from "./wire-schema";

const { text, textOrNull, flag, texts, oneOf, secret, record, optional } = param;

/** Exchange 2013 manages the Client Access settings with *-ClientAccessServer, 2016 on with *-ClientAccessService. */
const noun = oneOf("ClientAccessServer", "ClientAccessService");

const vdirChange = optional(record({ InternalUrl: optional(textOrNull), ExternalUrl: optional(textOrNull) }));
const vdirUrls = result.record({ internalUrl: result.textOrNull, externalUrl: result.textOrNull });
const vdirState = result.record({
  owa: vdirUrls,
  ecp: vdirUrls,
  ews: vdirUrls,
  oab: vdirUrls,
  activeSync: vdirUrls,
  mapi: vdirUrls,
  outlookAnywhere: result.record({
    internalHostname: result.textOrNull,
    internalClientsRequireSsl: result.flag,
    /** What Set-OutlookAnywhere validates a change against (the resources check it at preview). */
    externalHostname: result.textOrNull,
    externalClientsRequireSsl: result.flag,
    sslOffloading: result.flag,
  }),
  autodiscoverInternalUri: result.textOrNull,
});
const asaState = result.record({
  credentials: result.list(result.record({ account: result.text, whenAddedUtc: result.text })),
  /** AlternateServiceAccountConfiguration as display text (some remote sessions deliver only that). */
  raw: result.text,
});
/** An error as Invoke-EkOperation reports one, for a part of an answer that failed alone. */
const partError = result.nullable(result.record({ category: result.text, reason: result.text, errorId: result.text, message: result.text }));
const outlookAuthState = result.record({
  outlookAnywhere: result.record({
    internalClientAuthenticationMethod: result.textOrNull,
    externalClientAuthenticationMethod: result.textOrNull,
    iisAuthenticationMethods: result.texts,
  }),
  mapi: result.record({ iisAuthenticationMethods: result.texts }),
});

const VDIR_GETS = ["Get-OwaVirtualDirectory", "Get-EcpVirtualDirectory", "Get-WebServicesVirtualDirectory", "Get-OabVirtualDirectory", "Get-ActiveSyncVirtualDirectory", "Get-MapiVirtualDirectory", "Get-OutlookAnywhere"] as const;
const VDIR_SETS = ["Set-OwaVirtualDirectory", "Set-EcpVirtualDirectory", "Set-WebServicesVirtualDirectory", "Set-OabVirtualDirectory", "Set-ActiveSyncVirtualDirectory", "Set-MapiVirtualDirectory", "Set-OutlookAnywhere"] as const;
const CAS_GETS = ["Get-ClientAccessServer", "Get-ClientAccessService"] as const;
const CAS_SETS = ["Set-ClientAccessServer", "Set-ClientAccessService"] as const;
/**
 * What unsealing a secret into a PSCredential calls (New-EkCredential, ConvertFrom-EkSealed): only
 * New-Object, since the SecureString is built with method calls and no cmdlet ever gets the plain text.
 */
const UNSEAL = ["New-Object"] as const;

/** The KDC proxy operations run their commands on another server (Invoke-EkOnServer). */
const ON_SERVER = ["Invoke-Command"] as const;
/** What both KDC proxy operations read there; native commands by their netsh subcommand. */
const KDC_PROXY_READS = ["Get-Service", "Test-Path", "Get-ItemProperty", "netsh http show urlacl", "netsh http show sslcert"] as const;
const kdcProxyState = result.record({
  server: result.text,
  status: result.text,
  startType: result.text,
  /** "0", "1", or null when the value is absent. */
  httpsClientAuth: result.textOrNull,
  disallowUnprotectedPasswordAuth: result.textOrNull,
  urlReserved: result.flag,
  /** "<thumbprint> {<appid>}", or null when nothing is bound. */
  sslBinding: result.textOrNull,
  certificateFound: result.flag,
});

interface OperationSpec {
  readonly params: ParamFields;
  readonly result: ResultSpec<unknown>;
  readonly cmdlets: readonly string[];
}

/** Keeps each entry's literal types while checking it is an OperationSpec. */
function operations<const T extends Record<string, OperationSpec>>(table: T): T {
  return table;
}

export const OPERATION_TABLE = operations({
  /** Opens the Exchange session this PowerShell process works in (once per process). */
  "Connect-EkExchange": {
    params: {
      Connection: oneOf("remote", "local"),
      Endpoint: text,
      /** The server the session must run on (the ASA operations'), as ;TargetServer= in the URI. */
      TargetServer: optional(text),
      /** The session's culture and UI culture (New-PSSessionOption); absent: the operating system's. */
      Culture: optional(text),
      Authentication: text,
      User: optional(text),
      Password: optional(secret),
    },
    result: result.record({ connection: result.text }),
    cmdlets: ["Add-PSSnapin", "New-PSSessionOption", "New-PSSession", "Import-PSSession", "Import-Module", "Out-Null", ...UNSEAL],
  },
  /** Closes the Exchange session (Remove-PSSession) before the shell ends, freeing its runspace. */
  "Disconnect-EkExchange": {
    params: {},
    result: result.record({ closed: result.flag }),
    cmdlets: ["Remove-PSSession"],
  },
  /**
   * Name, FQDN and version of each server asked, in one round trip (the checks of a preview come
   * one at a time, so the first asks for every server the stack names). A server Exchange cannot
   * find answers with its error instead, as Invoke-EkOperation reports one.
   */
  "Get-EkServerInfo": {
    params: { Servers: texts },
    result: result.list(
      result.record({
        requested: result.text,
        name: result.text,
        fqdn: result.text,
        adminDisplayVersion: result.text,
        errorCategory: result.textOrNull,
        errorReason: result.textOrNull,
        errorId: result.textOrNull,
        errorMessage: result.textOrNull,
      }),
    ),
    cmdlets: ["Get-ExchangeServer"],
  },
  /** A present property is set (null clears it), an absent one is left alone; answers as the urls of Get-EkServerState. */
  "Set-EkVdirUrls": {
    params: {
      Server: text,
      Noun: noun,
      Owa: vdirChange,
      Ecp: vdirChange,
      Ews: vdirChange,
      Oab: vdirChange,
      ActiveSync: vdirChange,
      Mapi: vdirChange,
      AutodiscoverInternalUri: optional(textOrNull),
      OutlookAnywhere: optional(record({ InternalHostname: textOrNull, InternalClientsRequireSsl: flag })),
    },
    result: vdirState,
    cmdlets: [...VDIR_SETS, ...CAS_SETS, ...VDIR_GETS, ...CAS_GETS],
  },
  /**
   * Sets the credentials to exactly Password (latest) and CurrentPassword; answers as the asa of
   * Get-EkServerState. Only in a session on the server itself (TargetServer).
   */
  "Set-EkAsaCredential": {
    params: { Server: text, Noun: noun, Account: text, Password: secret, CurrentPassword: optional(secret) },
    result: asaState,
    cmdlets: [...CAS_SETS, ...CAS_GETS, ...UNSEAL],
  },
  "Remove-EkAsaCredential": {
    params: { Server: text, Noun: noun },
    result: asaState,
    cmdlets: [...CAS_SETS, ...CAS_GETS],
  },
  /**
   * Which credentials hold Password, compared on the server (a session on it: TargetServer): only
   * true/false comes back; raw is the configuration's display text when no objects arrived.
   */
  "Test-EkAsaCredential": {
    params: { Server: text, Noun: noun, Password: secret },
    result: result.record({ credentials: result.list(result.record({ account: result.text, whenAddedUtc: result.text, holdsPassword: result.flag })), raw: result.text }),
    cmdlets: [...CAS_GETS, ...UNSEAL],
  },
  /**
   * Everything the three Exchange resources read on one server, in one round trip, each Exchange
   * object read once: the vdir URLs, the ASA credentials and the Outlook Anywhere/MAPI authentication
   * (what Set-EkVdirUrls, Set-EkAsaCredential and Set-EkOutlookAuth answer after a write). Each
   * part fails alone: null, with its error in <part>Error.
   */
  "Get-EkServerState": {
    params: { Server: text, Noun: noun },
    result: result.record({
      urls: result.nullable(vdirState),
      asa: result.nullable(asaState),
      auth: result.nullable(outlookAuthState),
      urlsError: partError,
      asaError: partError,
      authError: partError,
    }),
    cmdlets: [...VDIR_GETS, ...CAS_GETS],
  },
  /** Each setting in its own call; answers as the auth of Get-EkServerState. */
  "Set-EkOutlookAuth": {
    params: {
      Server: text,
      OutlookAnywhere: optional(record({ InternalClientAuthenticationMethod: optional(text), ExternalClientAuthenticationMethod: optional(text), IISAuthenticationMethods: optional(texts) })),
      Mapi: optional(record({ IISAuthenticationMethods: optional(texts) })),
    },
    result: outlookAuthState,
    cmdlets: ["Set-OutlookAnywhere", "Set-MapiVirtualDirectory", "Get-OutlookAnywhere", "Get-MapiVirtualDirectory"],
  },
  /**
   * The KDC Proxy Server service on a Windows server (not Exchange), reached with Invoke-Command
   * from this process. Thumbprint: "" or the certificate to look for in Cert:\LocalMachine\My.
   */
  "Get-EkKdcProxy": {
    params: { Server: text, Url: text, IpPort: text, Thumbprint: text },
    result: kdcProxyState,
    cmdlets: [...ON_SERVER, ...KDC_PROXY_READS],
  },
  /** Sets what is given (a null Settings value removes it, a null binding deletes it); answers as Get-EkKdcProxy. */
  "Set-EkKdcProxy": {
    params: {
      Server: text,
      Url: text,
      IpPort: text,
      HttpsClientAuth: optional(textOrNull),
      DisallowUnprotectedPasswordAuth: optional(textOrNull),
      UrlReserved: optional(flag),
      /** "<thumbprint> {<appid>}", or null for no binding. */
      SslBinding: optional(textOrNull),
      /** The {appid} whose binding SslBinding may replace or delete (this resource's own); another's is never touched. */
      SslBindingOwner: optional(text),
      StartType: optional(oneOf("Automatic", "Manual", "Disabled")),
      Status: optional(oneOf("Running", "Stopped")),
    },
    result: kdcProxyState,
    cmdlets: [
      ...ON_SERVER,
      ...KDC_PROXY_READS,
      "New-Item",
      "Out-Null",
      "Set-ItemProperty",
      "Remove-ItemProperty",
      "Set-Service",
      "Start-Service",
      "Stop-Service",
      "Restart-Service",
      "netsh http add urlacl",
      "netsh http delete urlacl",
      "netsh http add sslcert",
      "netsh http delete sslcert",
    ],
  },
});

type Table = typeof OPERATION_TABLE;
export type OperationName = keyof Table;
/** An operation's parameters as the provider passes them (secrets as Secret). */
export type OperationParams<Op extends OperationName> = CallRecord<Table[Op]["params"]>;
/** The same as they travel and the module (or the stand-in) receives them (secrets sealed). */
export type OperationWireParams<Op extends OperationName> = WireRecord<Table[Op]["params"]>;
/** An operation's result, narrowed by the table. */
export type OperationResult<Op extends OperationName> = ResultOfSpec<Table[Op]["result"]>;

export const OPERATION_NAMES = Object.keys(OPERATION_TABLE) as OperationName[];

export function isOperationName(name: string): name is OperationName {
  return Object.prototype.hasOwnProperty.call(OPERATION_TABLE, name);
}

/** The client-access noun the parameters take. */
export type ClientAccessNoun = OperationParams<"Get-EkServerState">["Noun"];
