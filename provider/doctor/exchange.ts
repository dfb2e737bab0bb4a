// Doctor checks 6 and 7, per Exchange server: the ASA credential is bound, for the ASA, and newer
// than AD's last password set; Outlook Anywhere and MAPI offer Negotiate; the URLs Outlook uses
// are on a name the ASA holds an SPN for. Through the shared sessions of exchange/.
import type { DoctorOptions } from "./options";
import { AsaCredentialProof, getAsaCredentials, getOutlookAuth, getVdirUrls, serverHandle, ServerHandle, testAsaCredentials, VDIR_KINDS } from "../exchange/operations";
import { KerberosRolloutError } from "../errors";
import { CONFIG_NAMESPACE } from "../settings";
import { fixOf, message, Report } from "./report";
import type { DoctorCode } from "./codes";

/** Kerberos' default clock-skew allowance (MIT clockskew, AD's "Maximum tolerance for computer clock synchronization"). */
const MAX_SKEW_SECONDS = 300;

function hostOf(url: string | null): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** SERVER_ASA_STALE, whichever way it was found (the server's own word, or the timestamps). */
function stale(r: Report, server: string, why: string): void {
  r.add(
    "binding",
    server,
    "fail",
    "SERVER_ASA_STALE",
    `${why}, so fresh tickets fail there ("Key version is not available" / KRB_AP_ERR_MODIFIED) and Outlook silently falls back to NTLM`,
    `bind the current password on ${server} and every other server that lacks it (pulumi up, or RollAlternateServiceAccountPassword.ps1 -CopyFrom a server that works), then klist purge on clients`,
  );
}

export async function checkServer(
  o: DoctorOptions,
  server: string,
  ctx: { qualifiedName: string; spnNames: string[]; passwordLastSet?: Date; stackPasswordMatchesAd?: boolean },
  r: Report,
): Promise<void> {
  const settings = o.exchange!;
  let h: ServerHandle;
  try {
    h = await serverHandle(settings, server);
  } catch (e) {
    const noWsman = e instanceof KerberosRolloutError && e.code === "WSMAN_CLIENT_MISSING";
    r.add("binding", server, "fail", noWsman ? "EXCHANGE_NO_WSMAN_CLIENT" : "EXCHANGE_UNREACHABLE", `cannot read ${server}: ${message(e)}`, fixOf(e, `check ${CONFIG_NAMESPACE}:exchangeShell/exchangeEndpoint and that ${server} is an Exchange server`));
    r.add("negotiate", server, "skip", "NOT_CHECKED", `${server} could not be read`, `fix the connection to ${server} first`);
    return;
  }
  // 6. the ASA credential
  try {
    const creds = await getAsaCredentials(h);
    const latest = creds[0];
    let proof: AsaCredentialProof[] | undefined;
    if (o.asaPassword && ctx.stackPasswordMatchesAd === true && latest) {
      try {
        proof = await testAsaCredentials(h, o.asaPassword);
      } catch {
        proof = undefined; // a server that cannot show its passwords: judged by the timestamps
      }
    }
    const skewMs = Math.min(o.clockSkewSeconds ?? MAX_SKEW_SECONDS, MAX_SKEW_SECONDS) * 1000;
    if (!latest) {
      r.add("binding", server, "fail", "SERVER_NO_ASA", `${server} holds no ASA credential: tickets for the namespace that land on it fail (KRB_AP_ERR_MODIFIED) and Outlook falls back to NTLM`, `bind it: pulumi up (AsaBinding for ${server}) or Set-ClientAccessService ${server} -AlternateServiceAccountCredential (Get-Credential ${ctx.qualifiedName})`);
    } else if (latest.account.toLowerCase() !== ctx.qualifiedName.toLowerCase()) {
      r.add("binding", server, "fail", "SERVER_WRONG_ASA", `${server} holds the credential of ${latest.account}, not of ${ctx.qualifiedName}, which holds the SPNs: tickets do not decrypt there (KRB_AP_ERR_MODIFIED)`, `bind ${ctx.qualifiedName} on ${server} (pulumi up, or RollAlternateServiceAccountPassword.ps1 -CopyFrom a correct server)`);
    } else if (proof !== undefined) {
      // The server itself says whether it holds the password AD holds (check 5 proved the stack's
      // password is AD's): that settles it, whatever the timestamps.
      const held = proof.find((c) => c.holdsPassword && c.account.toLowerCase() === ctx.qualifiedName.toLowerCase());
      const list = proof.map((c) => `${c.account} added ${c.whenAddedUtc}`).join("; ");
      if (held) {
        r.pass("binding", server, `holds AD's current password of ${ctx.qualifiedName} (the credential added ${held.whenAddedUtc}${held === proof[0] ? ", its latest" : ", its previous"}; compared on the server with the password AD holds per the stack)`);
      } else {
        stale(r, server, `${server} does not hold AD's current password of ${ctx.qualifiedName} (set ${ctx.passwordLastSet?.toISOString() ?? "?"}): none of its credentials (${list}) is the password AD holds per the stack`);
      }
    } else {
      // Without the server's word (no password from the stack, or check 5 did not prove it is
      // AD's): whole seconds on both sides: AD's pwdLastSet and Exchange's WhenAddedUTC come from
      // different clocks and resolutions; a credential added within Kerberos' skew before AD's
      // password set is the servers-first order of a rollout, never a stale one.
      const added = Math.floor(Date.parse(latest.whenAddedUtc) / 1000) * 1000;
      const setAt = ctx.passwordLastSet === undefined ? undefined : Math.floor(ctx.passwordLastSet.getTime() / 1000) * 1000;
      if (Number.isNaN(added) || setAt === undefined) {
        r.add("binding", server, "fail", "SERVER_ASA_TIME_UNKNOWN", `${server} holds ${latest.account} (added ${latest.whenAddedUtc}), but it cannot be compared with AD's password set (${ctx.passwordLastSet?.toISOString() ?? "unknown"}): nothing shows that it holds AD's current password`, `check Get-ClientAccessService ${server} -IncludeAlternateServiceAccountCredentialStatus, and that the directory can be read`);
      } else if (added >= setAt) {
        r.pass("binding", server, `holds ${latest.account}, added ${latest.whenAddedUtc}, with or after AD's last password set (${ctx.passwordLastSet!.toISOString()}; to the second)`);
      } else if (setAt - added <= skewMs && ctx.stackPasswordMatchesAd === true) {
        r.pass("binding", server, `holds ${latest.account}, added ${latest.whenAddedUtc}, ${(setAt - added) / 1000} s before AD's password set (${ctx.passwordLastSet!.toISOString()}), within Kerberos' ${skewMs / 1000} s skew: the servers-first order of a rollout, and the ticket decrypts with the stack's password`);
      } else {
        stale(r, server, `KRB_AP_ERR_MODIFIED: AD's password of ${ctx.qualifiedName} was set at ${ctx.passwordLastSet!.toISOString()}, ${Math.round((setAt - added) / 1000)} s after ${server} got its latest credential (${latest.whenAddedUtc})${ctx.stackPasswordMatchesAd === true ? "" : ", and the stack's password is not AD's"}: the server does not hold AD's current password`);
      }
    }
  } catch (e) {
    r.add("binding", server, "fail", "EXCHANGE_ERROR", `cannot read the ASA credential of ${server}: ${message(e)}`, fixOf(e, `check the Exchange connection to ${server}`));
  }
  // 7. Negotiate and URLs
  try {
    const auth = await getOutlookAuth(h);
    const urls = await getVdirUrls(h);
    const problems: { code: DoctorCode; cause: string; fix: string; warn?: boolean }[] = [];
    const has = (list: string[]): boolean => list.some((m) => m.toLowerCase() === "negotiate");
    const oa = auth.outlookAnywhere;
    if ((oa.internalClientAuthenticationMethod ?? "").toLowerCase() !== "negotiate") {
      problems.push({ code: "OA_CLIENT_AUTH_NOT_NEGOTIATE", cause: `Outlook Anywhere on ${server} offers internal clients ${oa.internalClientAuthenticationMethod ?? "nothing"}, not Negotiate`, fix: `Set-OutlookAnywhere "${server}\\Rpc (Default Web Site)" -InternalClientAuthenticationMethod Negotiate (pulumi up with OutlookAnywhereAuth)` });
    }
    if (!has(oa.iisAuthenticationMethods)) {
      problems.push({ code: "OA_IIS_NO_NEGOTIATE", cause: `Outlook Anywhere's IIS authentication on ${server} (${oa.iisAuthenticationMethods.join(", ") || "none"}) lacks Negotiate`, fix: `Set-OutlookAnywhere "${server}\\Rpc (Default Web Site)" -IISAuthenticationMethods ${[...oa.iisAuthenticationMethods, "Negotiate"].join(",")}` });
    }
    if (!has(auth.mapi.iisAuthenticationMethods)) {
      problems.push({ code: "MAPI_NO_NEGOTIATE", cause: `MAPI over HTTP on ${server} offers ${auth.mapi.iisAuthenticationMethods.join(", ") || "nothing"}, not Negotiate: Outlook authenticates with NTLM`, fix: `Set-MapiVirtualDirectory "${server}\\mapi (Default Web Site)" -IISAuthenticationMethods ${[...auth.mapi.iisAuthenticationMethods, "Negotiate"].join(",")} (keep OAuth)` });
    }
    const names = ctx.spnNames;
    const covered = (host: string | undefined): boolean => host !== undefined && names.includes(host);
    const oaHost = (urls.outlookAnywhere.internalHostname ?? "").toLowerCase() || undefined;
    if (!covered(oaHost)) {
      problems.push({ code: "URL_NOT_NAMESPACE", cause: `Outlook Anywhere's internal host name on ${server} is ${oaHost ?? "empty"}, not ${o.namespace}: Outlook asks for a ticket for a name the ASA does not hold`, fix: `Set-OutlookAnywhere "${server}\\Rpc (Default Web Site)" -InternalHostname ${o.namespace} (pulumi up with ExchangeVirtualDirectoryUrls)` });
    }
    for (const kind of VDIR_KINDS) {
      const host = hostOf(urls[kind].internalUrl);
      if (covered(host)) continue;
      const outlookUses = kind === "mapi" || kind === "ews" || kind === "oab";
      problems.push({
        code: "URL_NOT_NAMESPACE",
        warn: !outlookUses,
        cause: `the ${kind} internal URL on ${server} is ${urls[kind].internalUrl ?? "empty"}, whose host is not ${names.join(" or ")}${outlookUses ? ": Outlook asks for a ticket for a name the ASA does not hold" : ""}`,
        fix: `set it to https://${o.namespace}/… (pulumi up with ExchangeVirtualDirectoryUrls)`,
      });
    }
    const adHost = hostOf(urls.autodiscoverInternalUri);
    if (!covered(adHost)) {
      problems.push({ code: "URL_NOT_NAMESPACE", warn: true, cause: `AutoDiscoverServiceInternalUri on ${server} is ${urls.autodiscoverInternalUri ?? "empty"}, whose host is not ${names.join(" or ")}`, fix: `set it to https://${o.namespace}/Autodiscover/Autodiscover.xml, or add its host to the namespace's SPN names` });
    }
    if (problems.length === 0) {
      r.pass("negotiate", server, `Outlook Anywhere (internal clients: Negotiate; IIS: ${oa.iisAuthenticationMethods.join(", ")}) and MAPI (${auth.mapi.iisAuthenticationMethods.join(", ")}) offer Negotiate; URLs use ${names.join(", ")}`);
    }
    for (const p of problems) r.add("negotiate", server, p.warn ? "warn" : "fail", p.code, p.cause, p.fix);
  } catch (e) {
    r.add("negotiate", server, "fail", "EXCHANGE_ERROR", `cannot read authentication and URLs of ${server}: ${message(e)}`, fixOf(e, `check the Exchange connection to ${server}`));
  }
}

