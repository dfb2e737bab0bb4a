// Doctor check 1: the namespace resolves, at the domain's own DNS server (a domain controller,
// asked directly), to the declared addresses.
import { lookup, Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import type { DoctorOptions } from "./options";
import { CONFIG_NAMESPACE } from "../settings";
import { message, Report } from "./report";

/** The DNS server to ask: configured, else the DC's address from the LDAP URL. */
export async function dnsServerFor(o: DoctorOptions): Promise<string> {
  if (o.dnsServer) return o.dnsServer;
  const host = new URL(o.ldap.url).hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) return host;
  return (await lookup(host)).address;
}

/** Check 1; resolves to the addresses found (for check 8), [] when none. */
export async function checkDns(o: DoctorOptions, r: Report): Promise<string[]> {
  const name = o.namespace;
  let server: string;
  try {
    server = await dnsServerFor(o);
  } catch (e) {
    r.add("dns", name, "fail", "DNS_SERVER_UNKNOWN", `cannot find the domain's DNS server: ${message(e)}`, `set ${CONFIG_NAMESPACE}:dnsServer (or --dns-server) to a domain controller's address`);
    return [];
  }
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  resolver.setServers([server]);
  const found: string[] = [];
  const errors: string[] = [];
  for (const q of [resolver.resolve4.bind(resolver), resolver.resolve6.bind(resolver)]) {
    try {
      found.push(...(await q(name)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (code !== "ENODATA" && code !== "ENOTFOUND") errors.push(code || message(e));
      else if (code === "ENOTFOUND") errors.push("NXDOMAIN");
    }
  }
  const want = (o.dnsAddresses ?? []).map((a) => a.toLowerCase());
  const got = found.map((a) => a.toLowerCase());
  const recordFix = want.length ? `create the A/AAAA record ${name} → ${want.join(", ")} in the AD zone (pulumi up creates it with DnsRecord)` : `create an A record for ${name} in the AD zone`;
  if (got.length === 0) {
    const why = errors.includes("NXDOMAIN") ? "NXDOMAIN" : errors.length ? errors.join(", ") : "no A/AAAA record";
    const unreachable = errors.some((c) => c === "ETIMEOUT" || c === "ECONNREFUSED");
    r.add(
      "dns",
      name,
      "fail",
      unreachable ? "DNS_UNREACHABLE" : "DNS_NAME_MISSING",
      unreachable ? `the DNS server ${server} did not answer for ${name} (${why})` : `${name} does not resolve at the domain's DNS server ${server} (${why}): clients cannot reach the namespace, nor ask for its ticket`,
      unreachable ? `check that ${server} is a DNS server of the domain, or set ${CONFIG_NAMESPACE}:dnsServer` : recordFix,
    );
    return [];
  }
  if (want.length === 0) {
    r.pass("dns", name, `resolves at ${server} to ${got.join(", ")} (no addresses declared to compare)`);
    return got;
  }
  const missing = want.filter((a) => !got.includes(a));
  const extra = got.filter((a) => !want.includes(a));
  if (missing.length || extra.length) {
    r.add(
      "dns",
      name,
      "fail",
      "DNS_WRONG_ADDRESS",
      `${name} resolves at ${server} to ${got.join(", ")}, not to the declared ${want.join(", ")}${extra.length ? ` (unexpected: ${extra.join(", ")})` : ""}${missing.length ? ` (missing: ${missing.join(", ")})` : ""}: clients reach hosts that are not the namespace's servers`,
      `point ${name} at ${want.join(", ")} only (pulumi up corrects the DnsRecord), then ipconfig /flushdns on clients`,
    );
    return got;
  }
  r.pass("dns", name, `resolves at ${server} to ${got.join(", ")}, as declared`);
  return got;
}

