// The site program: one KerberosRollout per stack, everything from the stack's config, so that each
// site is one stack file (examples/Pulumi.<site>.yaml) and this program stays the same. The root
// Pulumi.yaml runs it (compiled, from dist/examples/site).
//
// Site keys (all under exchange-kerberos:, beside the connection keys the provider reads):
//   namespace        outlook.corp.example                      (required)
//   servers          ["EX1", "EX2"]                            (required: the Client Access servers)
//   dnsZone          corp.example                              (omit both to leave DNS alone)
//   dnsAddresses     ["10.0.0.11", "10.0.0.12"]
//   dnsTtl           3600 (the default)
//   asaName          EXCH-ASA                                  (required)
//   asaOu            OU=Service Accounts,DC=corp,DC=example    (required)
//   asaPassword      secret; generated and kept when absent; change it to rotate
//   asaPasswordMaxAgeDays  90: a generated password older than that (AD's pwdLastSet) is rotated by the next up
//   asaEncryptionTypes  24 (AES128+AES256, the default)
//   extraSpnNames    ["autodiscover.corp.example"]
//   adopt            false
//   onDestroy        release (the default: destroy leaves what existed before the stack), or delete
//   kdcProxyServers  ["GW1"]            (omit both to publish no KDC proxy; docs/guides/outlook-outside-the-network.md)
//   kdcProxyThumbprint  the proxy certificate's SHA-1 thumbprint on those servers
import * as pulumi from "@pulumi/pulumi";
import { KerberosRollout, readSiteSettings } from "pulumi-exchange-kerberos";

const config = new pulumi.Config("exchange-kerberos");
// Every key read strictly (JSON lists of strings, exact numbers, true/false) and checked before
// anything is declared: a bad value stops `pulumi preview` with one line naming its key.
const settings = readSiteSettings((key) => config.get(key));

// The component's name is fixed, not the stack's: `pulumi stack rename` rewrites URNs but not the
// names in them, so a component named after the stack would plan every resource as a create under
// the new name and a delete under the old. Stacks deployed when it was named after the stack keep
// their resources through the alias (children follow their parent's alias).
const SITE = "site";
const site = new KerberosRollout(SITE, {
  ...settings,
  asa: { ...settings.asa, password: config.getSecret("asaPassword") },
}, pulumi.getStack() === SITE ? {} : { aliases: [{ name: pulumi.getStack() }] });

export const namespace = site.namespace;
export const spns = site.spns;
export const asaQualifiedName = site.asaQualifiedName;
export const serversBound = site.serversBound;
export const asaPassword = site.asaPassword;
export const summary = site.summary;
