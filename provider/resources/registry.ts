// Every resource's runtime half, found by its type token. The serialized provider of a resource
// (in every stack's state) names only this token, so files can move and be renamed without
// breaking existing stacks: this table is the one place that knows where each implementation
// lives. The requires run on first use, inside the provider process.
import type { ResourceImpl } from "./resource-impl";
import { PACKAGE_NAME, PACKAGE_VERSION } from "../package-install";

const IMPLEMENTATIONS: Record<string, () => ResourceImpl> = {
  "exchange-kerberos:DnsRecord": () => require("./dns-record").dnsRecordImpl,
  "exchange-kerberos:AsaComputerAccount": () => require("./asa-computer-account").asaComputerAccountImpl,
  "exchange-kerberos:AsaPassword": () => require("./asa-password").asaPasswordImpl,
  "exchange-kerberos:Spn": () => require("./spn").spnImpl,
  "exchange-kerberos:ExchangeVirtualDirectoryUrls": () => require("./exchange-virtual-directory-urls").exchangeVirtualDirectoryUrlsImpl,
  "exchange-kerberos:AsaBinding": () => require("./asa-binding").asaBindingImpl,
  "exchange-kerberos:OutlookAnywhereAuth": () => require("./outlook-anywhere-auth").outlookAnywhereAuthImpl,
  "exchange-kerberos:KdcProxyServer": () => require("./kdc-proxy-server").kdcProxyServerImpl,
};

/** `writer`: the version state says wrote the resource, when it says (release 0.2.0 on). */
export function implementationOf(type: string, writer?: string): ResourceImpl {
  const load = IMPLEMENTATIONS[type];
  if (!load) throw new Error(`state names a resource type ${type} that ${PACKAGE_NAME} ${PACKAGE_VERSION} does not have: install ${writer === undefined ? "the version that wrote the stack" : `${writer}, the version that wrote it (npm install ${PACKAGE_NAME}@${writer})`}`);
  return load();
}

/** The registered type tokens (for tests and the benchmark's baseline). */
export const RESOURCE_TYPES = Object.keys(IMPLEMENTATIONS);
