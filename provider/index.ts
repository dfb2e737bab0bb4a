// The package's public surface: re-exports only.
export * from "./errors";
export { readSiteSettings, SiteSettings, SITE_KEYS } from "./site-config";
export { InvalidProgramInputError } from "./program-error";
export { KerberosRollout, KerberosRolloutArgs, KerberosRolloutAsaArgs, KerberosRolloutDnsArgs } from "./components/kerberos-rollout";
export { DnsRecord, DnsRecordArgs, DnsRecordType } from "./resources/dns-record";
export { AsaComputerAccount, AsaComputerAccountArgs, EncryptionTypes } from "./resources/asa-computer-account";
export { AsaPassword, AsaPasswordArgs } from "./resources/asa-password";
export { Spn, SpnArgs } from "./resources/spn";
export { ExchangeVirtualDirectoryUrls, ExchangeVirtualDirectoryUrlsArgs, ServiceUrls } from "./resources/exchange-virtual-directory-urls";
export { AsaBinding, AsaBindingArgs } from "./resources/asa-binding";
export { OutlookAnywhereAuth, OutlookAnywhereAuthArgs, ClientAuthMethod } from "./resources/outlook-anywhere-auth";
export { KdcProxyServer, KdcProxyServerArgs, KdcProxyStartType, KdcProxyServiceState } from "./resources/kdc-proxy-server";
export { ldapStats, closeLdapConnections } from "./ldap/connection";
// What the serialized dynamic providers in every stack's state call (resources/dynamic.ts).
export { providerCall } from "./resources/provider-call";
export { providerConfigure } from "./resources/dynamic";
export { closeExchangeSessions } from "./exchange/session";
export { exchangeStats, ExchangeStats } from "./exchange/session-stats";
export { ExchangeCommandError } from "./exchange/error-mapping";
export { runDoctor, closeDoctorConnections, doctorOptionsFromConfig, formatDoctorReport, judgeSpnHolders, DoctorOptions, DoctorReport, DoctorFinding, CheckId, CheckStatus } from "./doctor";
