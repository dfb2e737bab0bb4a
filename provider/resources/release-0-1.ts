// The stacks release 0.1.0 wrote name each resource by its implementation's export (their closures
// call dynamic.ts's `dispatch` with a module path and an export name): the resource type each
// export name stands for.

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
