// What Set-OutlookAnywhere refuses, so that a resource's check can refuse it at preview instead of
// `up` failing half-way. Sources: Microsoft's Set-OutlookAnywhere reference ("You need to use the
// value $true for this parameter [SSLOffloading] if you don't require TLS connections for internal
// or external Outlook Anywhere clients"); the rest from a public copy of Exchange's cmdlet code
// (SetRpcHttp.PrepareDataObject, not Microsoft's documentation): Basic authentication is refused
// for clients that are not required to use TLS, and the directory must keep an internal or an
// external host name. Each rule applies to the side (internal, external) whose host name is set.

/** Outlook Anywhere's settings that the rules read, as the server holds them or after a change. */
export interface OutlookAnywhereSettings {
  internalHostname: string | null;
  internalClientsRequireSsl: boolean;
  internalClientAuthenticationMethod: string | null;
  externalHostname: string | null;
  externalClientsRequireSsl: boolean;
  externalClientAuthenticationMethod: string | null;
  sslOffloading: boolean;
}

export type OutlookAnywhereRule = "OA_BASIC_OVER_HTTP" | "OA_SSL_OFFLOADING_REQUIRED" | "OA_NO_HOSTNAME";

export interface OutlookAnywhereProblem {
  rule: OutlookAnywhereRule;
  /** The cause, naming the settings involved. */
  reason: string;
}

const set = (h: string | null): boolean => h !== null && h !== "";
const isBasic = (m: string | null): boolean => (m ?? "").toLowerCase() === "basic";

/** What Exchange would refuse in these settings (empty: it accepts them). */
export function outlookAnywhereProblems(s: OutlookAnywhereSettings): OutlookAnywhereProblem[] {
  const out: OutlookAnywhereProblem[] = [];
  const sides = [
    { name: "internal", host: s.internalHostname, ssl: s.internalClientsRequireSsl, method: s.internalClientAuthenticationMethod },
    { name: "external", host: s.externalHostname, ssl: s.externalClientsRequireSsl, method: s.externalClientAuthenticationMethod },
  ];
  for (const side of sides) {
    if (set(side.host) && isBasic(side.method) && !side.ssl) {
      out.push({ rule: "OA_BASIC_OVER_HTTP", reason: `${side.name} clients would use Basic authentication without being required to use TLS (${side.name}ClientsRequireSsl false), which Exchange refuses: the password would cross the network in clear text` });
    }
  }
  const plain = sides.filter((side) => set(side.host) && !side.ssl).map((side) => side.name);
  if (!s.sslOffloading && plain.length > 0) {
    out.push({ rule: "OA_SSL_OFFLOADING_REQUIRED", reason: `${plain.join(" and ")} clients would not be required to use TLS while SSLOffloading is $false (the virtual directory requires SSL), which Exchange refuses: SSLOffloading must be $true wherever clients are not required to use TLS` });
  }
  if (!set(s.internalHostname) && !set(s.externalHostname)) {
    out.push({ rule: "OA_NO_HOSTNAME", reason: "Outlook Anywhere would have neither an internal nor an external host name, which Exchange refuses: clearing InternalHostname needs an ExternalHostname" });
  }
  return out;
}
