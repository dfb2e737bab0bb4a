// KerberosRollout: Kerberos for one Outlook namespace (one site), the way Microsoft says to roll it
// out, as one component. The order is the point (README, "The order"):
//   1. the DNS record and every server's virtual-directory URLs for the namespace
//   2. the ASA computer account (AES keys), its password not yet set in AD
//   3. the ASA credential bound on every Client Access server
//   4. AD's password for the ASA (only once every server holds it)
//   5. the SPNs (a ticket no server can decrypt is worse than no SPN)
//   6. Negotiate on Outlook Anywhere and MAPI
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
import { AsaComputerAccount, AsaComputerAccountArgs } from "../resources/asa-computer-account";
import { AsaPassword } from "../resources/asa-password";
import { DnsRecord } from "../resources/dns-record";
import { ExchangeVirtualDirectoryUrls, ExchangeVirtualDirectoryUrlsArgs } from "../resources/exchange-virtual-directory-urls";
import { OutlookAnywhereAuth, OutlookAnywhereAuthArgs } from "../resources/outlook-anywhere-auth";
import { Spn } from "../resources/spn";
import { InvalidInputError } from "../errors";
import { ExchangeOverride, LdapOverride } from "../settings";
import { fqdn } from "../validate";

/** The ASA: AsaComputerAccount's inputs but the connection override (the site's applies). */
export type KerberosRolloutAsaArgs = Pick<AsaComputerAccountArgs, "name" | "ou" | "password" | "supportedEncryptionTypes" | "description" | "adopt">;

export interface KerberosRolloutDnsArgs {
  /** The AD-integrated zone that holds the namespace, such as corp.example. */
  zone: string;
  /** Round robin over the servers' addresses, or the one load-balancer address. */
  addresses: pulumi.Input<pulumi.Input<string>[]>;
  ttl?: pulumi.Input<number>;
  adopt?: pulumi.Input<boolean>;
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
   * credentials (URLs and auth are always taken over and restored on destroy). */
  adopt?: boolean;
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
    throw new InvalidInputError("dns.zone", `the namespace ${ns} is not in the zone ${z}`, "set the zone that holds the namespace, such as corp.example for outlook.corp.example");
  }
  return ns.slice(0, -(z.length + 1));
}

/**
 * What the component itself can refuse before any child is declared (each child's `check`
 * validates the rest): so that `pulumi preview` fails with one message naming the field.
 */
export function validateRolloutArgs(args: KerberosRolloutArgs): void {
  fqdn("namespace", args.namespace);
  (args.extraSpnNames ?? []).forEach((n, i) => fqdn(`extraSpnNames[${i}]`, n));
  if (args.servers.length === 0) {
    throw new InvalidInputError("servers", "is empty", "list the Client Access servers that answer for the namespace, such as [\"EX1\", \"EX2\"]");
  }
  const seen = new Set<string>();
  for (const s of args.servers) {
    if (typeof s !== "string" || s.trim() === "") throw new InvalidInputError("servers", "holds an empty name", "give each server's name as Get-ExchangeServer lists it");
    if (seen.has(s.toLowerCase())) throw new InvalidInputError("servers", `lists ${s} twice`, "list each server once");
    seen.add(s.toLowerCase());
  }
  if (args.dns) recordName(args.namespace, args.dns.zone);
}

/** Resource-name-safe form of a host name. */
function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
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
    super("exchange-kerberos:index:KerberosRollout", name, {}, opts);
    try {
      validateRolloutArgs(args);
    } catch (e) {
      if (e instanceof InvalidInputError) throw new InvalidInputError(`KerberosRollout ${name}: ${e.field}`, e.message.slice(e.field.length + 2).replace(/\. Fix: .*$/, ""), e.fix);
      throw e;
    }
    const child = { parent: this };
    const ldap = args.ldap;
    const exchange = args.exchange;
    const adopt = args.adopt ?? false;

    // 1. DNS and URLs.
    const step1: pulumi.Resource[] = [];
    if (args.dns) {
      step1.push(new DnsRecord(`${name}-dns`, {
        zone: args.dns.zone,
        name: recordName(args.namespace, args.dns.zone),
        type: "A",
        values: args.dns.addresses,
        ttl: args.dns.ttl,
        adopt: args.dns.adopt ?? adopt,
        ldap,
      }, child));
    }
    for (const server of args.servers) {
      step1.push(new ExchangeVirtualDirectoryUrls(`${name}-urls-${slug(server)}`, {
        ...args.urls,
        server,
        namespace: args.namespace,
        exchange,
      }, child));
    }

    // 2. The account; AsaPassword sets its password in AD after step 3.
    const asa = new AsaComputerAccount(`${name}-asa`, {
      name: args.asa.name,
      ou: args.asa.ou,
      password: args.asa.password,
      supportedEncryptionTypes: args.asa.supportedEncryptionTypes,
      description: args.asa.description ?? `Exchange Alternate Service Account for ${args.namespace}`,
      adopt: args.asa.adopt ?? adopt,
      deferPasswordSet: true,
      ldap,
    }, { ...child, dependsOn: step1 });

    // 3. Bound on every server.
    const bindings = args.servers.map((server) => new AsaBinding(`${name}-bind-${slug(server)}`, {
      server,
      account: asa.qualifiedName,
      password: asa.password,
      adPassword: asa.adPassword,
      adopt,
      exchange,
    }, { ...child, dependsOn: [asa] }));

    // 4. AD's password, only once every server has it.
    const adPassword = new AsaPassword(`${name}-asa-password`, {
      accountSid: asa.sid,
      password: asa.password,
      ldap,
    }, { ...child, dependsOn: bindings });

    // 5. The SPNs.
    const names = [args.namespace, ...(args.extraSpnNames ?? [])];
    const seen = new Set<string>();
    const spns = names.filter((n) => !seen.has(n.toLowerCase()) && seen.add(n.toLowerCase())).map((host) =>
      new Spn(`${name}-spn-${slug(host)}`, {
        spn: `HTTP/${host}`,
        // By SID: the ASA keeps it when it moves to another OU, so its SPNs stay as they are.
        account: asa.sid,
        accountOwner: asa.owner,
        adopt,
        ldap,
      }, { ...child, dependsOn: [adPassword] }));

    // 6. Negotiate.
    for (const server of args.servers) {
      new OutlookAnywhereAuth(`${name}-auth-${slug(server)}`, {
        ...args.auth,
        server,
        exchange,
      }, { ...child, dependsOn: spns });
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
