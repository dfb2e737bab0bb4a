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

/**
 * Release 0.1.0 wrote the implementation's module path and export name into state. Its stacks
 * keep working: the export name still says which resource it is.
 */
const RELEASE_0_1_EXPORTS: Record<string, string> = {
  dnsRecordImpl: "exchange-kerberos:DnsRecord",
  asaComputerAccountImpl: "exchange-kerberos:AsaComputerAccount",
  asaPasswordImpl: "exchange-kerberos:AsaPassword",
  spnImpl: "exchange-kerberos:Spn",
  exchangeVirtualDirectoryUrlsImpl: "exchange-kerberos:ExchangeVirtualDirectoryUrls",
  asaBindingImpl: "exchange-kerberos:AsaBinding",
  outlookAnywhereAuthImpl: "exchange-kerberos:OutlookAnywhereAuth",
};

/** The resource type a release-0.1.0 closure names by its export. */
export function typeOfRelease01Export(exportName: string): string {
  const type = RELEASE_0_1_EXPORTS[exportName];
  if (!type) throw new Error(`state names an implementation ${exportName} that this version of pulumi-exchange-kerberos does not have: install the version that wrote the stack`);
  return type;
}

/** `writer`: the version state says wrote the resource, when it says (release 0.2.0 on). */
export function implementationOf(type: string, writer?: string): ResourceImpl {
  const load = IMPLEMENTATIONS[type];
  if (!load) throw new Error(`state names a resource type ${type} that ${PACKAGE_NAME} ${PACKAGE_VERSION} does not have: install ${writer === undefined ? "the version that wrote the stack" : `${writer}, the version that wrote it (npm install ${PACKAGE_NAME}@${writer})`}`);
  return load();
}

/** The registered type tokens (for tests and the benchmark's baseline). */
export const RESOURCE_TYPES = Object.keys(IMPLEMENTATIONS);
