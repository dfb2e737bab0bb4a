// discover's proposal (provider/discover/propose.ts, stack-file.ts), from facts as a manual rollout
// leaves them: the majority wins, every disagreement is reported with one of the doctor's codes and
// what up does about it, the first up always rotates the password, and the stack file it writes
// reads back through the site program's strict settings with no password in it.
import * as assert from "assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDiscoverReport, propose, renderStackFile } from "../../provider/discover";
import { majority, majorityChoice, serverNamespace } from "../../provider/discover/propose";
import { DiscoveredFacts, ServerFacts } from "../../provider/discover/facts";
import { readSiteSettings, SiteKey } from "../../provider/site-config";
import { REPO_ROOT } from "../fixtures/pulumi-cli";

const NS = "outlook.corp.example";
const ASA = "CORP\\EXCH-ASA$";
const ASA_DN = "CN=EXCH-ASA,OU=Service Accounts,DC=corp,DC=example";

function server(name: string, o: { ns?: string; account?: string | null; oaAuth?: string; mapi?: string[] } = {}): ServerFacts {
  const ns = o.ns ?? NS;
  const url = (p: string) => ({ internalUrl: `https://${ns}${p}`, externalUrl: null });
  return {
    server: name,
    credentials: o.account === null ? [] : [{ account: o.account ?? ASA, whenAddedUtc: "2026-01-01T00:00:00.000Z" }],
    urls: {
      owa: url("/owa"), ecp: url("/ecp"), ews: url("/EWS/Exchange.asmx"), oab: url("/OAB"), activeSync: url("/Microsoft-Server-ActiveSync"), mapi: url("/mapi"),
      autodiscoverInternalUri: `https://${ns}/Autodiscover/Autodiscover.xml`,
      outlookAnywhere: { internalHostname: ns, internalClientsRequireSsl: true, externalHostname: null, externalClientsRequireSsl: false, sslOffloading: false },
    },
    auth: {
      outlookAnywhere: { internalClientAuthenticationMethod: o.oaAuth ?? "Negotiate", externalClientAuthenticationMethod: "Negotiate", iisAuthenticationMethods: ["Basic", "Ntlm", "Negotiate"] },
      mapi: { iisAuthenticationMethods: o.mapi ?? ["Ntlm", "OAuth", "Negotiate"] },
    },
  };
}

function facts(over: Partial<DiscoveredFacts> = {}): DiscoveredFacts {
  return {
    servers: [server("EX1"), server("EX2")],
    namespace: NS,
    netbiosName: "CORP",
    defaultNamingContext: "DC=corp,DC=example",
    account: { qualifiedName: ASA, name: "EXCH-ASA", dn: ASA_DN, ou: "OU=Service Accounts,DC=corp,DC=example", enabled: true, encryptionTypes: 24, httpSpns: [`HTTP/${NS}`, "HTTP/autodiscover.corp.example"], kind: "computer" },
    spnHolders: [
      { spn: `HTTP/${NS}`, holders: [{ dn: ASA_DN, samAccountName: "EXCH-ASA$" }] },
      { spn: "HTTP/autodiscover.corp.example", holders: [{ dn: ASA_DN, samAccountName: "EXCH-ASA$" }] },
    ],
    dns: { zone: "corp.example", addresses: ["10.0.0.11", "10.0.0.12"], ttl: 3600 },
    ...over,
  };
}

describe("discover: the proposal", () => {
  it("a complete manual rollout: the site as it is, adopt, and only the rotation to do", () => {
    const p = propose(facts());
    assert.deepStrictEqual(p.site, {
      namespace: NS, servers: ["EX1", "EX2"], dnsZone: "corp.example", dnsAddresses: ["10.0.0.11", "10.0.0.12"],
      asaName: "EXCH-ASA", asaOu: "OU=Service Accounts,DC=corp,DC=example", asaEncryptionTypes: 24, extraSpnNames: ["autodiscover.corp.example"], adopt: true,
    });
    assert.deepStrictEqual(p.findings, []);
    assert.strictEqual(p.plan.length, 1);
    assert.match(p.plan[0], /^rotates the password of CORP\\EXCH-ASA\$: .*first on the 2 servers \(EX1, EX2; each AsaBinding\), then in AD \(AsaPassword\); clients holding a ticket from the old key use NTLM until they get a new one \(klist purge\)$/);
  });

  it("follows the majority and names each disagreement with the doctor's code and what up does", () => {
    const p = propose(facts({
      servers: [server("EX1"), server("EX2", { account: "CORP\\OLD-ASA$" }), server("EX3", { account: null }), server("EX4", { ns: "mail.corp.example", oaAuth: "Ntlm", mapi: ["Ntlm"] })],
      spnHolders: [
        { spn: `HTTP/${NS}`, holders: [{ dn: "CN=WEB1,CN=Computers,DC=corp,DC=example", samAccountName: "WEB1$" }] },
        { spn: "HTTP/autodiscover.corp.example", holders: [{ dn: ASA_DN }, { dn: "CN=WEB2,CN=Computers,DC=corp,DC=example", samAccountName: "WEB2$" }] },
      ],
    }));
    const codes = p.findings.map((f) => `${f.code} ${f.subject}`);
    assert.deepStrictEqual(codes, [
      "SERVER_WRONG_ASA EX2",
      "SERVER_NO_ASA EX3",
      `SPN_WRONG_ACCOUNT HTTP/${NS}`,
      "SPN_DUPLICATE HTTP/autodiscover.corp.example",
      "URL_NOT_NAMESPACE EX4",
      "OA_CLIENT_AUTH_NOT_NEGOTIATE EX4",
      "MAPI_NO_NEGOTIATE EX4",
    ]);
    assert.strictEqual(p.site.namespace, NS);
    assert.deepStrictEqual(p.site.servers, ["EX1", "EX2", "EX3", "EX4"]);
    assert.match(p.findings[0].upWill, /replaces it with CORP\\EXCH-ASA\$'s on EX2/);
    assert.match(p.findings[2].upWill, /preview refuses .*setspn -D HTTP\/outlook.corp.example WEB1\$/);
    assert.ok(p.plan.some((l) => /^EX4: sets .*mapi\.internalUrl \(https:\/\/mail\.corp\.example\/mapi → https:\/\/outlook\.corp\.example\/mapi\)/.test(l)), p.plan.join("\n"));
    assert.ok(p.plan.some((l) => /^EX4: sets outlookAnywhere\.internalClientAuthenticationMethod \(Ntlm → Negotiate\)/.test(l)), p.plan.join("\n"));
  });

  it("chooses the namespace and the ASA the majority of the servers show, not the first server's", () => {
    const servers = [server("EX1", { ns: "mail.corp.example", account: "CORP\\OLD-ASA$" }), server("EX2"), server("EX3", { account: "corp\\exch-asa$" }), server("EX4", { account: null })];
    assert.deepStrictEqual(majorityChoice(servers, {}), { namespace: NS, credentialOf: ASA, asaName: "EXCH-ASA" });
    assert.deepStrictEqual(majorityChoice(servers, { namespace: "Given.Corp.Example", asaName: "other" }), { namespace: "given.corp.example", credentialOf: ASA, asaName: "EXCH-ASA" });
    assert.deepStrictEqual(majorityChoice([server("EX1", { account: null })], { asaName: "new-asa" }), { namespace: NS, credentialOf: undefined, asaName: "NEW-ASA" });
  });

  it("a server with some URLs left on its own name: URL_NOT_NAMESPACE naming them, and up sets them", () => {
    const ex2 = server("EX2");
    ex2.urls!.owa.internalUrl = "https://ex2.corp.example/owa";
    ex2.urls!.oab.internalUrl = "https://ex2.corp.example/OAB";
    const p = propose(facts({ servers: [server("EX1"), ex2] }));
    assert.deepStrictEqual(p.findings.map((f) => [f.code, f.subject, f.cause]), [["URL_NOT_NAMESPACE", "EX2", `on EX2, owa.internalUrl, oab.internalUrl are not on ${NS}`]]);
    assert.deepStrictEqual(p.plan.slice(1), [`EX2: sets owa.internalUrl (https://ex2.corp.example/owa → https://${NS}/owa), oab.internalUrl (https://ex2.corp.example/OAB → https://${NS}/OAB)`]);
  });

  it("every code discover reports is one of the doctor's (listed in docs/reference/doctor.md)", () => {
    const doctor = readFileSync(join(REPO_ROOT, "docs", "reference", "doctor.md"), "utf8");
    const source = readFileSync(join(REPO_ROOT, "provider", "discover", "propose.ts"), "utf8");
    const codes = [...source.matchAll(/code: "([A-Z_]+)"/g)].map((m) => m[1]);
    assert.ok(codes.length >= 10, codes.join());
    assert.deepStrictEqual(codes.filter((c) => !doctor.includes(`\`${c}\``)), []);
  });

  it("an ASA without AES is proposed with AES, a missing record leaves DNS out, a hand-made TTL is kept", () => {
    const p = propose(facts({ account: { ...facts().account!, encryptionTypes: 4 }, dns: { zone: "corp.example", addresses: [] } }));
    assert.strictEqual(p.site.asaEncryptionTypes, 24);
    assert.strictEqual(p.site.dnsZone, undefined);
    assert.deepStrictEqual(p.findings.map((f) => f.code), ["ASA_NO_AES", "DNS_NAME_MISSING"]);
    assert.strictEqual(propose(facts({ dns: { zone: "corp.example", addresses: ["10.0.0.11"], ttl: 900 } })).site.dnsTtl, 900);
  });

  it("refuses when there is nothing to take over", () => {
    assert.throws(() => propose(facts({ account: undefined })), /no server holds an ASA credential/);
    assert.throws(() => propose(facts({ account: undefined, accountMissing: "CORP\\GONE$" })), /CORP\\GONE\$, which is not in the directory \(ASA_MISSING\)/);
    assert.throws(() => propose(facts({ namespace: undefined })), /--namespace/);
  });

  it("names an ASA that is a user account as one (ASA_NOT_A_COMPUTER), never as missing, with a way out that discover takes", () => {
    const user = { ...facts().account!, qualifiedName: "CORP\\svc-exch", name: "SVC-EXCH", dn: "CN=svc-exch,OU=Service Accounts,DC=corp,DC=example", kind: "user" as const };
    assert.throws(() => propose(facts({ account: user })), (e: Error) => {
      assert.match(e.message, /CORP\\svc-exch .* is a user, not a computer account \(ASA_NOT_A_COMPUTER\)/);
      assert.doesNotMatch(e.message, /ASA_MISSING|not in the directory/);
      // The fix names flags discover takes (--asa-name with --asa-ou), and the setspn -D before up.
      assert.match(e.message, /--asa-name NAME --asa-ou/);
      assert.match(e.message, /setspn -D HTTP\/outlook\.corp\.example CORP\\svc-exch/);
      return true;
    });
    const p = propose(facts({ account: user, newAsa: { name: "EXCH-ASA2", ou: "OU=Kerberos,DC=corp,DC=example" } }));
    assert.deepStrictEqual([p.site.asaName, p.site.asaOu, p.site.adopt, p.site.extraSpnNames], ["EXCH-ASA2", "OU=Kerberos,DC=corp,DC=example", true, ["autodiscover.corp.example"]]);
    assert.deepStrictEqual(p.findings.map((f) => f.code), ["ASA_NOT_A_COMPUTER"]);
    assert.match(p.plan.join("\n"), /binds CORP\\EXCH-ASA2\$ on EX1, EX2 in place of CORP\\svc-exch's credential/);
    // A managed service account is named as what it is too.
    assert.throws(() => propose(facts({ account: { ...user, kind: "group managed service account" } })), /is a group managed service account, not a computer account/);
  });

  it("majority and namespace helpers", () => {
    assert.strictEqual(majority(["a", "b", "b"]), "b");
    assert.strictEqual(majority(["a", "b"]), "a");
    assert.strictEqual(majority([]), undefined);
    assert.strictEqual(serverNamespace(server("EX1", { ns: "mail.corp.example" })), "mail.corp.example");
  });
});

describe("discover: the stack file", () => {
  it("reads back through the site program's settings, with no password, quoting what YAML needs", () => {
    const p = propose(facts({ dns: { zone: "corp.example", addresses: ["10.0.0.11"], ttl: 900 } }));
    const text = renderStackFile("berlin", p, { ldapUrl: "ldaps://dc1.corp.example", ldapBindUser: "svc-kerberos@corp.example", exchangeUser: "CORP\\o'brien" });
    const values: Record<string, string> = {};
    for (const m of text.matchAll(/^  exchange-kerberos:(\w+): (.*)$/gm)) values[m[1]] = m[2].startsWith("'") ? m[2].slice(1, -1).replace(/''/g, "'") : m[2];
    assert.strictEqual(values.exchangeUser, "CORP\\o'brien");
    assert.strictEqual(values.adopt, "true");
    assert.ok(!/password/i.test(Object.keys(values).join()), "no password key");
    const s = readSiteSettings((k: SiteKey) => values[k]);
    assert.deepStrictEqual(s.dns, { zone: "corp.example", addresses: ["10.0.0.11"], ttl: 900 });
    assert.deepStrictEqual(s.extraSpnNames, ["autodiscover.corp.example"]);
    assert.strictEqual(s.adopt, true);
    assert.match(text, /^# The first `pulumi up` rotates the ASA's password/m);
  });
});

describe("discover: the report's next steps", () => {
  it("names every secret the stack needs before its first preview: the Exchange password too when --exchange-user was given", () => {
    const p = propose(facts());
    const steps = (secretsToSet: string[]): string[] =>
      formatDiscoverReport({ proposal: p, stackFile: "", written: "/p/examples/Pulumi.berlin.yaml", secretsToSet }, "berlin")
        .split("\n")
        .filter((l) => l.includes("pulumi config set --secret"))
        .map((l) => l.trim());
    assert.deepStrictEqual(steps(["ldapBindPassword"]), ["pulumi config set --secret exchange-kerberos:ldapBindPassword"]);
    assert.deepStrictEqual(steps(["ldapBindPassword", "exchangePassword"]), ["pulumi config set --secret exchange-kerberos:ldapBindPassword", "pulumi config set --secret exchange-kerberos:exchangePassword"]);
  });
});
