// KerberosRollout: Kerberos for one Outlook namespace (one site), the way Microsoft says to roll it
// out, as one component. The order is the point (docs/resources/kerberos-rollout.md, "The order"):
//   1. the DNS record and every server's virtual-directory URLs for the namespace
//   2. the ASA computer account (AES keys), its password not yet set in AD
//   3. the ASA credential bound on every Client Access server
//   4. AD's password for the ASA (only once every server holds it)
//   5. the SPNs (a ticket no server can decrypt is worse than no SPN)
//   6. Negotiate on Outlook Anywhere and MAPI
//   7. (optional) the KDC proxy on the servers that publish it, for Outlook outside the network
// Each step `dependsOn` the whole previous one, so Pulumi runs them in that order and destroys in
// the reverse: Negotiate goes first, the SPNs next, and NTLM keeps working at every step.
//
// Rotation follows RollAlternateServiceAccountPassword.ps1: a new password changes the account's
// recorded secret (nothing in AD), then every AsaBinding sets the new password and AD's current one
// on its server, and only then AsaPassword sets it in AD. When a server fails, `pulumi up` stops
// before AsaPassword: AD still has the old password, which every server still holds, however many
// rotations fail in a row (each binding names AD's password explicitly, see AsaBinding).
import * as pulumi from "@pulumi/pulumi";
import { AsaBinding } from "../resources/asa-binding";
import { AsaComputerAccount, AsaComputerAccountArgs, encryptionTypes, netbiosName } from "../resources/asa-computer-account";
import { AsaPassword } from "../resources/asa-password";
import { DnsRecord } from "../resources/dns-record";
import { ExchangeVirtualDirectoryUrls, ExchangeVirtualDirectoryUrlsArgs } from "../resources/exchange-virtual-directory-urls";
import { OutlookAnywhereAuth, OutlookAnywhereAuthArgs } from "../resources/outlook-anywhere-auth";
import { Spn } from "../resources/spn";
import { KdcProxyServer, KdcProxyServerArgs, kdcProxyUrl, thumbprint, windowsServerName } from "../resources/kdc-proxy-server";
import { InvalidInputError } from "../errors";
import { exchangeServerName, serverKey } from "../exchange/inputs";
import { OnDestroy, onDestroyInput } from "../resources/lifecycle";
import { containerDn } from "../ldap/dn";
import { InvalidProgramInputError } from "../program-error";
import { ExchangeOverride, LdapOverride } from "../settings";
import { fqdn, ipv4 } from "../validate";
import { ownerMark } from "../owner";
import { maxAgeDaysInput } from "../asa-password-age";

/** The ASA: AsaComputerAccount's inputs but the connection override (the site's applies). */
export type KerberosRolloutAsaArgs = Pick<AsaComputerAccountArgs, "name" | "ou" | "password" | "supportedEncryptionTypes" | "description" | "adopt" | "passwordMaxAgeDays">;

export interface KerberosRolloutDnsArgs {
  /** The AD-integrated zone that holds the namespace, such as corp.example. */
  zone: string;
  /** Round robin over the servers' addresses, or the one load-balancer address. */
  addresses: pulumi.Input<pulumi.Input<string>[]>;
  ttl?: pulumi.Input<number>;
  adopt?: pulumi.Input<boolean>;
}

/** The KDC proxy (KPSSVC) on the servers that publish it: KdcProxyServer's inputs but the server. */
export interface KerberosRolloutKdcProxyArgs extends Omit<KdcProxyServerArgs, "server" | "via" | "exchange"> {
  /** The Windows servers that publish https://<name>/KdcProxy: servers where nothing else serves HTTPS on 443 (an Exchange server's IIS does: refused, KDC_PROXY_PORT_TAKEN). */
  servers: string[];
}

export interface KerberosRolloutArgs {
  /** The Outlook namespace, such as outlook.corp.example. */
  namespace: string;
  /** The Client Access servers that answer for the namespace (names Exchange knows them by). */
  servers: string[];
  /** The namespace's A record; leave out when DNS is managed elsewhere. */
  dns?: KerberosRolloutDnsArgs;
  asa: KerberosRolloutAsaArgs;
  /** More host names to register as HTTP/<name> on the ASA, such as autodiscover.corp.example. */
  extraSpnNames?: string[];
  /** Per-service URL overrides applied on every server (default: all derived from the namespace). */
  urls?: Omit<ExchangeVirtualDirectoryUrlsArgs, "server" | "namespace" | "exchange">;
  /** Authentication settings applied on every server (default: Negotiate, NTLM kept as fallback). */
  auth?: Omit<OutlookAnywhereAuthArgs, "server" | "exchange">;
  /** Take over objects that already exist: the DNS record, the ASA, its SPNs and the servers' ASA
   * credentials, URLs and authentication. */
  adopt?: boolean;
  /**
   * What destroy does with what existed before the stack (taken over with adopt): `release` (the
   * default) leaves it working as it is — the record, the ASA with the password the stack set, its
   * SPNs, the credential on every server, the servers' URLs and Negotiate —; `delete` deletes and
   * restores it as if the stack had made it. What the stack created is always deleted
   * (docs/reference/lifecycle.md).
   */
  onDestroy?: OnDestroy;
  /** Kerberos from outside the network: the KDC proxy, configured after Negotiate. */
  kdcProxy?: KerberosRolloutKdcProxyArgs;
  /** Connection overrides for this site (a site with its own DC or Exchange endpoint). */
  ldap?: pulumi.Input<LdapOverride>;
  exchange?: pulumi.Input<ExchangeOverride>;
}

/** `outlook.corp.example` in zone `corp.example` → `outlook`; the apex → `@`. */
export function recordName(namespace: string, zone: string): string {
  const ns = fqdn("namespace", namespace);
  const z = fqdn("dns.zone", zone);
  if (ns === z) return "@";
  if (!ns.endsWith(`.${z}`)) {
    throw new InvalidInputError("dns.zone", `the namespace ${ns} is not in the zone ${z}`, "set the zone that holds the namespace, such as corp.example for outlook.corp.example", { code: "NAMESPACE_NOT_IN_ZONE" });
  }
  return ns.slice(0, -(z.length + 1));
}

/** A value the program gives directly (not an Output or a promise), so it can be checked now. */
function plainValue(v: unknown): boolean {
  return !pulumi.Output.isInstance(v) && !(v instanceof Promise);
}

/** Runs one check, collecting its refusal instead of stopping at it. */
function collect(problems: InvalidInputError[], fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputError) problems.push(e);
    else throw e;
  }
}

/** The namespace: a host name written exactly as clients use it (no trailing dot, which the SPN
 * and the URLs would carry). */
function namespaceName(field: string, value: unknown): string {
  const ns = fqdn(field, value);
  if (typeof value === "string" && value.endsWith(".")) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} ends with a dot`, `write it without the trailing dot (${ns}), as Outlook and the SPN name it`, { code: "NAME_TRAILING_DOT" });
  }
  return ns;
}

/**
 * Everything the component can refuse before any child is declared, every problem at once (each
 * child's `check` validates the rest, and what only the directory or Exchange can tell): so that
 * `pulumi preview` fails naming each field, before anything changes. Values given as Outputs are
 * left to the children's `check`, when they are known.
 */
export function rolloutArgProblems(args: KerberosRolloutArgs): InvalidInputError[] {
  const problems: InvalidInputError[] = [];
  const before = problems.length;
  collect(problems, () => namespaceName("namespace", args.namespace));
  const namespaceOk = problems.length === before;
  const extra: unknown = args.extraSpnNames ?? [];
  if (!Array.isArray(extra)) {
    problems.push(new InvalidInputError("extraSpnNames", `${JSON.stringify(extra) ?? typeof extra} is not a list`, "give a list of host names, such as [\"autodiscover.corp.example\"]", { code: "NOT_A_LIST" }));
  } else {
    extra.forEach((n, i) => collect(problems, () => namespaceName(`extraSpnNames[${i}]`, n)));
  }
  const servers: unknown = args.servers;
  const serversFix = "list the Client Access servers that answer for the namespace, such as [\"EX1\", \"EX2\"]";
  if (!Array.isArray(servers)) {
    problems.push(new InvalidInputError("servers", `${JSON.stringify(servers) ?? typeof servers} is not a list`, serversFix, { code: "NOT_A_LIST" }));
  } else if (servers.length === 0) {
    problems.push(new InvalidInputError("servers", "is empty", serversFix, { code: "VALUE_EMPTY" }));
  } else {
    const seen = new Set<string>();
    servers.forEach((s: unknown, i) => collect(problems, () => {
      const field = `servers[${i}]`;
      if (typeof s !== "string") throw new InvalidInputError(field, `${s === null ? "null" : JSON.stringify(s) ?? typeof s} is not a string`, "give each server's name as Get-ExchangeServer lists it, such as \"EX1\"", { code: "NOT_A_STRING" });
      if (s.trim() === "") throw new InvalidInputError(field, "is empty", "give each server's name as Get-ExchangeServer lists it, such as \"EX1\"", { code: "VALUE_EMPTY" });
      const name = serverKey(exchangeServerName(field, s));
      // EX1 and ex1.corp.example are one server (serverKey).
      if (seen.has(name)) throw new InvalidInputError(field, `lists ${s} a second time`, "list each server once, by one name", { code: "DUPLICATE_VALUE" });
      seen.add(name);
    }));
  }
  if (args.dns !== undefined) {
    if (namespaceOk) collect(problems, () => recordName(args.namespace, args.dns!.zone));
    else collect(problems, () => fqdn("dns.zone", args.dns!.zone));
    const addresses: unknown = args.dns.addresses;
    if (plainValue(addresses)) {
      if (!Array.isArray(addresses) || addresses.length === 0) {
        problems.push(new InvalidInputError("dns.addresses", Array.isArray(addresses) ? "is empty" : `${JSON.stringify(addresses) ?? typeof addresses} is not a list`, "give the addresses the namespace resolves to, such as [\"10.0.0.11\", \"10.0.0.12\"]", { code: Array.isArray(addresses) ? "VALUE_EMPTY" : "NOT_A_LIST" }));
      } else {
        addresses.forEach((a: unknown, i) => plainValue(a) && collect(problems, () => ipv4(`dns.addresses[${i}]`, a)));
      }
    }
  }
  if (args.kdcProxy !== undefined) kdcProxyProblems(args.kdcProxy, problems);
  collect(problems, () => onDestroyInput("onDestroy", args.onDestroy));
  if (plainValue(args.asa.name)) collect(problems, () => netbiosName("asa.name", args.asa.name));
  if (plainValue(args.asa.ou)) collect(problems, () => containerDn("asa.ou", args.asa.ou));
  if (plainValue(args.asa.supportedEncryptionTypes)) collect(problems, () => encryptionTypes("asa.supportedEncryptionTypes", args.asa.supportedEncryptionTypes));
  if (plainValue(args.asa.passwordMaxAgeDays)) collect(problems, () => maxAgeDaysInput("asa.passwordMaxAgeDays", args.asa.passwordMaxAgeDays));
  return problems;
}

function kdcProxyProblems(k: KerberosRolloutKdcProxyArgs, problems: InvalidInputError[]): void {
  const servers: unknown = k.servers;
  const fix = "list the Windows servers that publish the KDC proxy, such as [\"GW1\"]";
  if (!Array.isArray(servers)) {
    problems.push(new InvalidInputError("kdcProxy.servers", `${JSON.stringify(servers) ?? typeof servers} is not a list`, fix));
  } else if (servers.length === 0) {
    problems.push(new InvalidInputError("kdcProxy.servers", "is empty", `${fix}, or leave kdcProxy out`));
  } else {
    const seen = new Set<string>();
    servers.forEach((s: unknown, i) => collect(problems, () => {
      const name = windowsServerName(`kdcProxy.servers[${i}]`, s);
      if (seen.has(name.toLowerCase())) throw new InvalidInputError(`kdcProxy.servers[${i}]`, `lists ${name} a second time`, "list each server once");
      seen.add(name.toLowerCase());
    }));
  }
  if (plainValue(k.certificateThumbprint)) collect(problems, () => thumbprint("kdcProxy.certificateThumbprint", k.certificateThumbprint));
  if (plainValue(k.url)) collect(problems, () => kdcProxyUrl("kdcProxy.url", k.url));
}

/** Throws every problem rolloutArgProblems finds, one line each, as a program error (no stack). */
export function validateRolloutArgs(args: KerberosRolloutArgs, label = "KerberosRollout"): void {
  const problems = rolloutArgProblems(args);
  if (problems.length) throw new InvalidProgramInputError(problems.map((p) => p.renamed(`${label}: ${p.field}`)));
}

/**
 * A child's resource name from a host or server name, losslessly: host names are validated to
 * lowercase letters, digits, hyphens and dots, all allowed in a URN, so two names never share one
 * (`outlook.corp.example` and `outlook-corp.example` did when dots became hyphens).
 */
export function childName(prefix: string, host: string): string {
  return `${prefix}${host.toLowerCase()}`;
}

/** The name the first releases gave the child (dots and other characters as hyphens): kept as an
 * alias so that stacks made by them keep their resources' URNs. */
function legacySlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
}

/**
 * Resource names and aliases for a list of hosts: the lossless name, and the legacy name as an
 * alias when it differs and no earlier host of the list already claims it (two hosts that slug
 * alike could never have lived in one stack: it failed with a duplicate URN).
 */
export function childNames(prefix: string, hosts: string[]): { host: string; name: string; aliases: pulumi.Alias[] }[] {
  const claimed = new Set<string>();
  return hosts.map((host) => {
    const name = childName(prefix, host);
    const legacy = `${prefix}${legacySlug(host)}`;
    const aliases: pulumi.Alias[] = [];
    if (legacy !== name && !claimed.has(legacy)) aliases.push({ name: legacy });
    claimed.add(legacy);
    return { host, name, aliases };
  });
}

/**
 * Names for a server's resources: from the server's key (serverKey: `ex1` for EX1 and for
 * ex1.corp.example), so that writing a server one way and then the other is the same resource —
 * not a create of one and a delete of the other, which would undo what the create just did. A
 * stack that named it by its FQDN keeps its URNs through aliases (the FQDN's lossless and slugged
 * names).
 */
export function serverChildNames(prefix: string, servers: string[]): { host: string; name: string; aliases: pulumi.Alias[] }[] {
  return childNames(prefix, servers).map(({ host, aliases }) => {
    const name = childName(prefix, serverKey(host));
    const full = childName(prefix, host);
    return { host, name, aliases: [...(full !== name ? [{ name: full }] : []), ...aliases.filter((a) => a.name !== name)] };
  });
}

export class KerberosRollout extends pulumi.ComponentResource {
  readonly namespace: pulumi.Output<string>;
  /** Every SPN registered on the ASA. */
  readonly spns: pulumi.Output<string[]>;
  /** `DOMAIN\NAME$`, as bound on the servers. */
  readonly asaQualifiedName: pulumi.Output<string>;
  /** The ASA's password (a secret): what the doctor derives the service key from. */
  readonly asaPassword: pulumi.Output<string>;
  /** The servers that hold the ASA credential. */
  readonly serversBound: pulumi.Output<string[]>;
  /** One line an admin can read. */
  readonly summary: pulumi.Output<string>;

  constructor(name: string, args: KerberosRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    // Refused before the component registers: a program error prints as its lines alone.
    validateRolloutArgs(args, `KerberosRollout ${name}`);
    super("exchange-kerberos:index:KerberosRollout", name, {}, opts);
    const child = { parent: this };
    const ldap = args.ldap;
    const exchange = args.exchange;
    const adopt = args.adopt ?? false;
    const onDestroy = args.onDestroy;

    // 1. DNS and URLs.
    const step1: pulumi.Resource[] = [];
    let record: DnsRecord | undefined;
    if (args.dns) {
      step1.push(record = new DnsRecord(`${name}-dns`, {
        zone: args.dns.zone,
        name: recordName(args.namespace, args.dns.zone),
        type: "A",
        values: args.dns.addresses,
        ttl: args.dns.ttl,
        adopt: args.dns.adopt ?? adopt,
        onDestroy,
        ldap,
      }, child));
    }
    for (const { host: server, name: childName, aliases } of serverChildNames(`${name}-urls-`, args.servers)) {
      step1.push(new ExchangeVirtualDirectoryUrls(childName, {
        ...args.urls,
        server,
        namespace: args.namespace,
        adopt,
        onDestroy,
        // Destroy with onDestroy delete deletes a record that existed before the stack: the URL
        // resources refuse at preview when the URLs destroy puts back would name it.
        deletesNamespaceRecord: args.dns !== undefined && onDestroy === "delete" && (args.dns.adopt ?? adopt),
        // Destroy releases the URLs exactly when it releases the record they name (lifecycle.ts).
        recordOrigin: record?.origin,
        exchange,
      }, { ...child, aliases }));
    }

    // 2. The account; AsaPassword sets its password in AD after step 3.
    const asa = new AsaComputerAccount(`${name}-asa`, {
      name: args.asa.name,
      ou: args.asa.ou,
      password: args.asa.password,
      supportedEncryptionTypes: args.asa.supportedEncryptionTypes,
      passwordMaxAgeDays: args.asa.passwordMaxAgeDays,
      description: args.asa.description ?? `Exchange Alternate Service Account for ${args.namespace}`,
      adopt: args.asa.adopt ?? adopt,
      onDestroy,
      deferPasswordSet: true,
      ldap,
    }, { ...child, dependsOn: step1 });

    // 3. Bound on every server.
    const bindings = serverChildNames(`${name}-bind-`, args.servers).map(({ host: server, name: childName, aliases }) => new AsaBinding(childName, {
      server,
      account: asa.qualifiedName,
      password: asa.password,
      adPassword: asa.adPassword,
      adopt,
      // Destroy keeps the credential on every server while the ASA is released (lifecycle.ts).
      accountOrigin: asa.origin,
      onDestroy,
      exchange,
    }, { ...child, dependsOn: [asa], aliases }));

    // 4. AD's password, only once every server has it.
    const adPassword = new AsaPassword(`${name}-asa-password`, {
      accountSid: asa.sid,
      password: asa.password,
      ldap,
    }, { ...child, dependsOn: bindings });

    // 5. The SPNs.
    const names = [args.namespace, ...(args.extraSpnNames ?? [])];
    const seen = new Set<string>();
    const hosts = names.filter((n) => !seen.has(n.toLowerCase()) && seen.add(n.toLowerCase()));
    const spns = childNames(`${name}-spn-`, hosts).map(({ host, name: childName, aliases }) =>
      new Spn(childName, {
        spn: `HTTP/${host}`,
        // By SID: the ASA keeps it when it moves to another OU, so its SPNs stay as they are.
        account: asa.sid,
        // The ASA's mark, derived here as the ASA derives it (owner.ts), not taken from its
        // output: a stack written before the mark existed has no such output, and an output
        // missing from state is unknown at every preview.
        accountOwner: ownerMark("AsaComputerAccount", `${name}-asa`),
        accountOrigin: asa.origin,
        adopt,
        onDestroy,
        ldap,
      }, { ...child, dependsOn: [adPassword], aliases }));

    // 6. Negotiate.
    const negotiate = serverChildNames(`${name}-auth-`, args.servers).map(({ host: server, name: childName, aliases }) => new OutlookAnywhereAuth(childName, {
      ...args.auth,
      server,
      adopt,
      onDestroy,
      // Destroy keeps Negotiate exactly while the ASA stays (lifecycle.ts).
      accountOrigin: asa.origin,
      exchange,
    }, { ...child, dependsOn: spns, aliases }));

    // 7. The KDC proxy, once Kerberos works inside: its commands run through the session of the
    // server itself when it is one of the Exchange servers, else of the first one.
    if (args.kdcProxy) {
      const { servers: proxyServers, ...proxy } = args.kdcProxy;
      for (const { host: server, name: childName } of childNames(`${name}-kdcproxy-`, proxyServers)) {
        const isExchange = args.servers.some((s) => s.toLowerCase() === server.toLowerCase());
        new KdcProxyServer(childName, {
          ...proxy,
          server,
          via: isExchange ? undefined : args.servers[0],
          exchange,
        }, { ...child, dependsOn: negotiate });
      }
    }

    this.namespace = pulumi.output(args.namespace);
    this.spns = pulumi.all(spns.map((s) => s.spn));
    this.asaQualifiedName = asa.qualifiedName;
    this.asaPassword = pulumi.secret(asa.password);
    this.serversBound = pulumi.all(bindings.map((b) => b.server));
    this.summary = pulumi.all([this.asaQualifiedName, this.spns, this.serversBound]).apply(([account, spnList, servers]) =>
      `Kerberos for ${args.namespace}: ${spnList.join(", ")} on ${account}, bound on ${servers.join(", ")}`);
    this.registerOutputs({
      namespace: this.namespace,
      spns: this.spns,
      asaQualifiedName: this.asaQualifiedName,
      serversBound: this.serversBound,
      asaPassword: this.asaPassword,
      summary: this.summary,
    });
  }
}
