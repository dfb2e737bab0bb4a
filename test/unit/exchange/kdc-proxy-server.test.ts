// KdcProxyServer's offline half: validation (one refusal per field, with the fix), the settings it
// declares, the change that sets them, and diff (what replaces, what updates, what is no change).
import * as assert from "node:assert/strict";
import { declaredKdcProxy, DEFAULT_APP_ID, DEFAULT_KDC_PROXY_URL, kdcProxyChange, kdcProxyDiff, validateKdcProxyServerInputs } from "../../../provider/resources/kdc-proxy-server";
import { InvalidInputError } from "../../../provider/errors";

const CERT = "0123456789ABCDEF0123456789ABCDEF01234567";

describe("KdcProxyServer inputs, declared settings and diff (no services)", () => {
  it("defaults to Microsoft's steps: both Settings values 0, the URL https://+:443/KdcProxy, Automatic and Running", () => {
    const i = validateKdcProxyServerInputs({ server: "gw1.corp.example", certificateThumbprint: CERT.toLowerCase() });
    assert.equal(i.url, DEFAULT_KDC_PROXY_URL);
    assert.equal(i.appId, DEFAULT_APP_ID);
    assert.deepEqual(declaredKdcProxy(i), {
      httpsClientAuth: "0",
      disallowUnprotectedPasswordAuth: "0",
      urlReserved: true,
      sslBinding: `${CERT} ${DEFAULT_APP_ID}`,
      startType: "Automatic",
      status: "Running",
    });
  });

  it("refuses each bad value naming its field and the fix", () => {
    const refuse = (news: Record<string, unknown>, field: string, re: RegExp) =>
      assert.throws(() => validateKdcProxyServerInputs({ server: "GW1", certificateThumbprint: CERT, ...news }), (e: unknown) => e instanceof InvalidInputError && e.field === field && re.test(e.message) && /Fix: /.test(e.message));
    refuse({ server: "not a server" }, "server", /is not a server name/);
    refuse({ certificateThumbprint: "abc" }, "certificateThumbprint", /is not a certificate thumbprint/);
    refuse({ url: "https://kdc.corp.example/KdcProxy" }, "url", /is not the KDC proxy's reservation URL/);
    refuse({ appId: "not-a-guid" }, "appId", /is not a GUID/);
    refuse({ startType: "Boot" }, "startType", /is not allowed/);
    refuse({ httpsClientAuth: "yes" }, "httpsClientAuth", /is not true or false/);
    refuse({ via: "not a server" }, "via", /is not an Exchange server name/);
  });

  it("the change from what create found puts each thing back: a value that was absent is removed, a binding that was absent is deleted", () => {
    assert.deepEqual(kdcProxyChange({ httpsClientAuth: null, disallowUnprotectedPasswordAuth: "1", urlReserved: false, sslBinding: null, startType: "Manual", status: "Stopped" }), {
      httpsClientAuth: null,
      disallowUnprotectedPasswordAuth: "1",
      urlReserved: false,
      sslBinding: null,
      startType: "Manual",
      status: "Stopped",
    });
    assert.deepEqual(kdcProxyChange({ sslBinding: `${CERT} {4dc3e181-e14b-4a21-b022-59fc669b0914}` }).sslBinding, { certHash: CERT, appId: "{4dc3e181-e14b-4a21-b022-59fc669b0914}" });
  });

  it("diff: the same inputs over what was found is no change; drift or a new thumbprint updates; another server replaces", () => {
    const news = validateKdcProxyServerInputs({ server: "GW1", certificateThumbprint: CERT });
    const olds = { ...news, settings: declaredKdcProxy(news) };
    assert.deepEqual(kdcProxyDiff(olds, news), { changes: false, replaces: [], deleteBeforeReplace: false });
    assert.equal(kdcProxyDiff({ ...olds, settings: { ...olds.settings, status: "Stopped" } }, news).changes, true);
    assert.equal(kdcProxyDiff(olds, { ...news, certificateThumbprint: "F".repeat(40) }).replaces?.length, 0);
    assert.equal(kdcProxyDiff(olds, { ...news, certificateThumbprint: "F".repeat(40) }).changes, true);
    assert.deepEqual(kdcProxyDiff(olds, { ...news, server: "GW2" }).replaces, ["server"]);
  });
});
