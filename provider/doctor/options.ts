// What the doctor checks and how it reaches the directory, the KDC and Exchange: filled from a
// stack's config (doctorOptionsFromConfig) or from the command's flags.
import type { ExchangeSettings, LdapSettings } from "../settings";

export interface DoctorOptions {
  /** The Outlook namespace, e.g. outlook.corp.example. */
  namespace: string;
  /** Further names served by the same servers (autodiscover…): each needs HTTP/<name> on the ASA. */
  extraSpnNames?: string[];
  /** The addresses the namespace must resolve to; absent = only "it resolves". */
  dnsAddresses?: string[];
  /** The DNS server to ask (the domain's DNS); default: the domain controller of `ldap.url`. */
  dnsServer?: string;
  /** The namespace's AD-integrated zone: lets check 1 compare the answer with what the DC holds. */
  dnsZone?: string;
  /** How long after a write a difference counts as replication still under way (pending.ts). */
  pendingWindowSeconds?: number;
  /** The ASA: its computer name (EXCH-ASA) or sAMAccountName (EXCH-ASA$, CORP\EXCH-ASA$). */
  asaName: string;
  /** The ASA password (the stack's secret): without it check 5 cannot run. */
  asaPassword?: string;
  /** The password's maximum age in days (asaPasswordMaxAgeDays): check 3 reports its age against it. */
  asaPasswordMaxAgeDays?: number;
  /** The stack was given the password (asaPassword in config) rather than generating it: the fix differs. */
  asaPasswordGiven?: boolean;
  /** The Exchange servers of the namespace. */
  servers: string[];
  ldap: LdapSettings;
  /** How to reach Exchange; absent with servers given = the check says it was not configured. */
  exchange?: ExchangeSettings;
  /** Who asks the KDC for service tickets (a principal, doctor/ticket-source.ts), and where they come
   * from: `kdc` (kerberosKdc: KDCs, or "dns" for SRV records) or `krb5Config` (its realm's kdc
   * lines); neither: the DC of `ldap.url`. */
  kerberos: { user: string; password: string; kdc?: string; krb5Config?: string; /** `user` is the LDAP bind user (kerberosUser not set). */ userIsBindUser?: boolean };
  /** How far a server's credential may have been added before AD's last password set and still be
   * taken as the one AD holds, when the ticket decrypts with the stack's password (servers-first
   * rollout): Kerberos' own clock-skew allowance, 300 s, which is also the most it may be. */
  clockSkewSeconds?: number;
  /** Check 8 (the HTTPS endpoint at every address of the namespace); default true. */
  checkEndpoints?: boolean;
  /** PEM of the CA that issued the Exchange (or front end) certificate; default: Node's trust store. */
  httpsCaFile?: string;
  /** Outlook outside the network: get every ticket only through this KDC proxy (MS-KKDCP), as a
   * client that reaches no domain controller does; check 4 first proves the proxy path. */
  kdcProxy?: { url: string; caFile?: string; timeoutMs?: number };
}
