// What `discover` reads from a rollout done by hand, read-only: per server its ASA credentials,
// virtual-directory URLs and Outlook Anywhere / MAPI authentication; from AD the account behind
// the credential, the holders of its HTTP/ SPNs and the namespace's DNS record. Plain data, so
// that the proposal (propose.ts) is a pure function of it and unit-testable.
import type { AsaCredentialStatus, OutlookAuthState, VdirUrlsState } from "../exchange/operations";

export interface ServerFacts {
  server: string;
  /** Why the server could not be read (then nothing else is set). */
  error?: string;
  /** What to do about it, when the error said. */
  fix?: string;
  /** Latest first. */
  credentials: AsaCredentialStatus[];
  urls?: VdirUrlsState;
  auth?: OutlookAuthState;
}

export interface AccountFacts {
  /** `DOMAIN\NAME$`, as Exchange names it in the credential. */
  qualifiedName: string;
  /** NAME, without the `$`. */
  name: string;
  dn: string;
  ou: string;
  enabled: boolean;
  /** msDS-SupportedEncryptionTypes; undefined when absent. */
  encryptionTypes?: number;
  /** Its `HTTP/<host>` SPNs, as written. */
  httpSpns: string[];
  /** What kind of account it is, from its objectClass: Microsoft's how-to prescribes a computer. */
  kind: AccountKind;
}

export type AccountKind = "computer" | "user" | "managed service account" | "group managed service account";

export interface SpnHolderFacts {
  spn: string;
  holders: { dn: string; samAccountName?: string }[];
}

export interface DnsFacts {
  /** The AD-integrated zone holding the namespace; undefined when none does. */
  zone?: string;
  /** The A records of the namespace's name (empty when there is none). */
  addresses: string[];
  /** Their TTL (the first record's), when there are any. */
  ttl?: number;
  /** Why DNS could not be read. */
  error?: string;
}

export interface DiscoveredFacts {
  servers: ServerFacts[];
  /** The namespace: from --namespace, else the majority of the servers' URLs. */
  namespace?: string;
  /** The NetBIOS domain name (CORP) and the domain's DN. */
  netbiosName: string;
  defaultNamingContext: string;
  /** The account the majority of the servers hold; undefined when no server holds one, or it is
   * not in AD (see `accountMissing`). */
  account?: AccountFacts;
  /** The majority's credential names an account AD does not have. */
  accountMissing?: string;
  /** A new computer ASA to take the site over with (--asa-name and --asa-ou), when the servers'
   * ASA is not a computer account. */
  newAsa?: { name: string; ou: string };
  /** Holders of `HTTP/<namespace>` and of each HTTP/ SPN on the account, forest-wide. */
  spnHolders: SpnHolderFacts[];
  dns: DnsFacts;
}
