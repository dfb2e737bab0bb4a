// Principal names (RFC 4120 §5.2.2, §6.2) and the AD AES salt rule (REFERENCE.md, MS-KILE).
import assert from "node:assert/strict";
import { InvalidInputError } from "../../../provider/errors";
import { formatPrincipal, parsePrincipal, samePrincipal } from "../../../provider/kerberos/principal";
import { adAccountSalt } from "../../../provider/kerberos/salt";

describe("kerberos principal names", () => {
  it("parses a service principal with its realm, or the default realm", () => {
    assert.deepEqual(parsePrincipal("HTTP/outlook.corp.example@CORP.EXAMPLE"), { nameType: 3, components: ["HTTP", "outlook.corp.example"], realm: "CORP.EXAMPLE" });
    assert.equal(parsePrincipal("HTTP/outlook.corp.example", "CORP.EXAMPLE").realm, "CORP.EXAMPLE");
    assert.equal(parsePrincipal("alice@CORP.EXAMPLE").nameType, 1);
  });

  it("keeps escaped separators inside components and round-trips them", () => {
    const p = parsePrincipal("we\\/ird\\@name@CORP.EXAMPLE");
    assert.deepEqual(p.components, ["we/ird@name"]);
    assert.equal(formatPrincipal(p), "we\\/ird\\@name@CORP.EXAMPLE");
  });

  it("refuses a name without realm when there is no default, and empty components", () => {
    assert.throws(() => parsePrincipal("HTTP/outlook.corp.example"), InvalidInputError);
    assert.throws(() => parsePrincipal("HTTP//x@R"), InvalidInputError);
  });

  it("compares components case-insensitively and realms exactly", () => {
    const a = parsePrincipal("HTTP/Outlook.corp.example@CORP.EXAMPLE");
    assert.ok(samePrincipal(a, parsePrincipal("http/outlook.CORP.example@CORP.EXAMPLE")));
    assert.ok(!samePrincipal(a, parsePrincipal("HTTP/outlook.corp.example@corp.example")));
    assert.ok(!samePrincipal(a, parsePrincipal("HTTP/mail.corp.example@CORP.EXAMPLE")));
  });
});

describe("kerberos AD salt rule", () => {
  it("computer account: REALM + host + lowercase name without $ + . + lowercase realm", () => {
    assert.equal(adAccountSalt("CORP.EXAMPLE", "EXASA$"), "CORP.EXAMPLEhostexasa.corp.example");
    assert.equal(adAccountSalt("corp.example", "CORP\\ExAsa$"), "CORP.EXAMPLEhostexasa.corp.example");
  });

  it("user account: REALM + sAMAccountName as stored", () => {
    assert.equal(adAccountSalt("CORP.EXAMPLE", "svc-Exchange"), "CORP.EXAMPLEsvc-Exchange");
  });

  it("refuses names that are not sAMAccountNames", () => {
    assert.throws(() => adAccountSalt("CORP.EXAMPLE", "HTTP/x"), InvalidInputError);
    assert.throws(() => adAccountSalt("", "EXASA$"), InvalidInputError);
  });
});
