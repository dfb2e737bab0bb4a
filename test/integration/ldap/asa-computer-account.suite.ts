// AsaComputerAccount against the lab's Samba DC, proven with the MIT Kerberos tools: the account
// gets AES keys from the password we set, a service ticket for its SPN decrypts with a key derived
// from that password, a rotation invalidates the old key, and drift made by hand is reported.
import { strict as assert } from "node:assert";
import { AlreadyExistsError, NotFoundError } from "../../../provider/errors";
import { directoryFor, str } from "../../../provider/ldap/connection";
import { parentDn, dnEquals } from "../../../provider/ldap/dn";
import { asaComputerAccountImpl as asa, AsaOutputs, readAsaPasswordState, setAsaPassword } from "../../../provider/resources/asa-computer-account";
import { spnImpl } from "../../../provider/resources/spn";
import { Lab, sambaTool } from "../../fixtures/lab";
import { KerberosShell, ldapmodify } from "../../fixtures/admin-tools";
import { ldapLab } from "./lab";

describe("AsaComputerAccount (lab DC, MIT Kerberos tools)", function () {
  this.timeout(180000);
  let lab: Lab;
  let sh: KerberosShell;
  let ou: string;
  const created: AsaOutputs[] = [];

  async function createAsa(inputs: Record<string, unknown>): Promise<AsaOutputs> {
    const checked = await asa.check({}, { ou, ...inputs });
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    const r = await asa.create(checked.inputs);
    created.push(r.outs);
    return r.outs as AsaOutputs;
  }

  async function readBack(outs: AsaOutputs): Promise<AsaOutputs> {
    const r = await asa.read(outs.sid, outs);
    return r.props as AsaOutputs;
  }

  before(async () => {
    lab = await ldapLab();
    ou = `OU=Service Accounts,${lab.baseDn}`;
    sh = new KerberosShell(lab);
    // What an interrupted earlier run may have left in a lab that is reused.
    for (const name of ["ASA-KINIT", "ASA-ROTATE", "ASA-DRIFT", "ASA-ADOPT", "ASA-HOSTILE", "ASA-DEFER", "ASA-NOOU"]) {
      await sambaTool(lab, ["computer", "delete", name]).catch(() => undefined);
    }
  });

  after(async () => {
    for (const o of created) await asa.delete(o.sid, o).catch(() => undefined);
    sh.cleanup();
  });

  it("creates the ASA: kinit 'NAME$' with its generated 73-character password succeeds, with AES tickets", async () => {
    const outs = await createAsa({ name: "asa-kinit", description: "Exchange ASA (test)" });
    assert.equal(outs.samAccountName, "ASA-KINIT$");
    assert.equal(outs.qualifiedName, `${lab.netbios}\\ASA-KINIT$`);
    assert.match(outs.sid, /^S-1-5-21-\d+-\d+-\d+-\d+$/);
    assert.equal(outs.password.length, 73);
    assert.ok(outs.keyVersion >= 1, `keyVersion ${outs.keyVersion}`);
    assert.notEqual(outs.passwordLastSet, "never");
    assert.ok(dnEquals(outs.dn, `CN=ASA-KINIT,${ou}`), outs.dn);

    const [e] = await directoryFor(undefined).search(outs.dn, { scope: "base", attributes: ["msDS-SupportedEncryptionTypes", "userAccountControl"] });
    assert.equal(str(e, "msDS-SupportedEncryptionTypes"), "24", "AES128 + AES256 only");
    assert.equal(Number(str(e, "userAccountControl")) & 0x1002, 0x1000, "workstation trust account, enabled");

    sh.fresh();
    assert.equal(sh.kinit("ASA-KINIT$", outs.password).status, 0);
    const list = sh.klist().stdout;
    assert.match(list, /Default principal: ASA-KINIT\$@CORP\.EXAMPLE/);
    assert.match(list, /Etype \(skey, tkt\): aes256-cts-hmac-sha1-96/);
    assert.ok(!/rc4|des/i.test(list), list);

    sh.fresh();
    assert.notEqual(sh.kinit("ASA-KINIT$", `${outs.password}x`).status, 0, "a wrong password is refused (the check can fail)");
  });

  it("a ticket for HTTP/outlook decrypts with a key made from the ASA password and salt; a rotation retires the old key", async () => {
    const spnName = `HTTP/outlook.${lab.domain}`;
    const outs = await createAsa({ name: "asa-rotate" });
    const spn = await spnImpl.create({ ...(await spnImpl.check({}, { spn: spnName, account: outs.dn })).inputs });
    try {
      sh.fresh();
      sh.kinitAdmin();
      const got = sh.kvno(spnName);
      assert.equal(got.status, 0, got.stderr);
      assert.match(got.stdout, new RegExp(`kvno = ${outs.keyVersion}`));

      const oldKeytab = await sh.keytab(spnName, outs.samAccountName, outs.password, outs.keyVersion);
      const ok = sh.kvno(spnName, oldKeytab);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /keytab entry valid/);
      const wrong = await sh.keytab(spnName, outs.samAccountName, "not the ASA password", outs.keyVersion);
      assert.notEqual(sh.kvno(spnName, wrong).status, 0, "a key from another password does not decrypt (the check can fail)");

      // Rotate: a new declared password is set in AD; the key version moves on.
      const newPassword = "Rotated-Asa-Passw0rd!-" + Date.now();
      const upd = await asa.update(outs.sid, outs, (await asa.check(outs, { name: "asa-rotate", ou, password: newPassword })).inputs);
      const rotated = upd.outs as AsaOutputs;
      created.push(rotated);
      assert.equal(rotated.password, newPassword);
      assert.ok(rotated.keyVersion > outs.keyVersion, `key version ${outs.keyVersion} -> ${rotated.keyVersion}`);

      sh.fresh();
      sh.kinitAdmin();
      assert.equal(sh.kvno(spnName).status, 0);
      const stale = sh.kvno(spnName, oldKeytab);
      assert.notEqual(stale.status, 0, "the old keytab no longer decrypts a fresh ticket");
      const newKeytab = await sh.keytab(spnName, rotated.samAccountName, newPassword, rotated.keyVersion);
      const fresh = sh.kvno(spnName, newKeytab);
      assert.equal(fresh.status, 0, fresh.stderr);
      assert.match(fresh.stdout, /keytab entry valid/);
    } finally {
      await spnImpl.delete(spn.id, spn.outs);
    }
  });

  it("reports drift made by hand (password reset, encryption types, disabled, moved, gone) and puts it right", async () => {
    const outs = await createAsa({ name: "asa-drift" });
    assert.deepEqual((await readBack(outs)).drift, []);

    await sambaTool(lab, ["user", "setpassword", "ASA-DRIFT$", "--random-password"]);
    ldapmodify(lab, `dn: ${outs.dn}\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 4\n`);
    await sambaTool(lab, ["user", "disable", "ASA-DRIFT$"]);
    await sambaTool(lab, ["computer", "move", "ASA-DRIFT", `OU=Servers,${lab.baseDn}`]);

    const read = await readBack(outs);
    const drift = read.drift.join("\n");
    assert.match(drift, /password reset by someone else/);
    assert.match(drift, /msDS-SupportedEncryptionTypes changed from 24 to 4/);
    assert.match(drift, /account disabled/);
    assert.match(drift, /moved from CN=ASA-DRIFT,OU=Service Accounts,.* to CN=ASA-DRIFT,OU=Servers,/);
    const diff = await asa.diff(outs.sid, read, { ...outs, password: undefined });
    assert.equal(diff.changes, true, "refresh then up wants to put it right");
    assert.deepEqual(diff.replaces, []);

    sh.fresh();
    assert.notEqual(sh.kinit("ASA-DRIFT$", outs.password).status, 0, "the hand reset took our password away");

    const fixed = (await asa.update(outs.sid, read, (await asa.check(read, { name: "asa-drift", ou })).inputs)).outs as AsaOutputs;
    created.push(fixed);
    assert.ok(dnEquals(parentDn(fixed.dn), ou), fixed.dn);
    assert.equal(fixed.supportedEncryptionTypes, 24);
    assert.equal(fixed.enabled, true);
    assert.equal(fixed.password, outs.password, "the declared (generated) password is kept, not regenerated");
    assert.deepEqual((await readBack(fixed)).drift, []);
    sh.fresh();
    assert.equal(sh.kinit("ASA-DRIFT$", outs.password).status, 0);

    await sambaTool(lab, ["computer", "delete", "ASA-DRIFT"]);
    const gone = await asa.read(fixed.sid, fixed);
    assert.equal(gone.id, "", "an account deleted by hand reads as gone");
  });

  it("refuses an existing account without adopt, saying how to adopt it; with adopt takes it over", async () => {
    await sambaTool(lab, ["computer", "create", "ASA-ADOPT", `--computerou=OU=Servers`, "--description=made by hand"]);
    // Preview refuses it on the name; create refuses it too (it could appear after preview).
    const checked = await asa.check({}, { ou, name: "ASA-ADOPT" });
    assert.deepEqual(checked.failures?.map((f) => f.property), ["name"]);
    assert.match(checked.failures![0].reason, /CORP\\ASA-ADOPT\$ already exists at CN=ASA-ADOPT,OU=Servers.*Fix: set adopt: true/);
    await assert.rejects(
      asa.create({ ou, name: "ASA-ADOPT" }),
      (e: unknown) => e instanceof AlreadyExistsError && /CORP\\ASA-ADOPT\$ already exists at CN=ASA-ADOPT,OU=Servers/.test(e.message) && /set adopt: true/.test(e.message),
    );
    const outs = await createAsa({ name: "ASA-ADOPT", adopt: true, description: "Exchange ASA" });
    assert.ok(dnEquals(outs.dn, `CN=ASA-ADOPT,${ou}`), `moved into the declared OU: ${outs.dn}`);
    assert.equal(outs.description, "Exchange ASA");
    assert.equal(outs.supportedEncryptionTypes, 24);
    sh.fresh();
    assert.equal(sh.kinit("ASA-ADOPT$", outs.password).status, 0);
  });

  it("escapes a hostile OU name and description: the account lands in that OU, not elsewhere", async () => {
    // RFC 4514 by hand: leading space and #, then , + = " < > ; \ escaped; * ( ) and non-ASCII as is.
    const hostileOu = `OU=\\ \\#Svc*(x)\\,\\+\\=\\"\\<\\>\\;\\\\ Zürich\\ ,${lab.baseDn}`;
    try {
      ldapmodify(lab, `dn: ${hostileOu}\nchangetype: delete\n`); // left by an interrupted run
    } catch {
      // not there: the usual case
    }
    ldapmodify(lab, `dn: ${hostileOu}\nchangetype: add\nobjectClass: organizationalUnit\n`);
    try {
      const description = `*)(objectClass=*) , + = " < > # ; \\ \u00fc`;
      const outs = await createAsa({ name: "ASA-HOSTILE", ou: hostileOu, description });
      assert.ok(dnEquals(parentDn(outs.dn), hostileOu), outs.dn);
      assert.equal((await readBack(outs)).description, description);
      const [e] = await directoryFor(undefined).search(hostileOu, { scope: "one", filter: "(objectClass=computer)", attributes: ["sAMAccountName"] });
      assert.equal(str(e, "sAMAccountName"), "ASA-HOSTILE$");
      await asa.delete(outs.sid, outs);
    } finally {
      ldapmodify(lab, `dn: ${hostileOu}\nchangetype: delete\n`);
    }
  });

  it("deferPasswordSet: the declared password reaches AD only through setAsaPassword", async () => {
    const declared = "Deferred-Asa-Passw0rd!-" + Date.now();
    const outs = await createAsa({ name: "ASA-DEFER", password: declared, deferPasswordSet: true });
    assert.equal(outs.password, declared, "kept as a (secret) output for the step that sets it");
    sh.fresh();
    assert.notEqual(sh.kinit("ASA-DEFER$", declared).status, 0, "not in AD yet");

    const before = await readAsaPasswordState(outs.sid);
    const after = await setAsaPassword(outs.sid, declared);
    assert.ok(after.keyVersion > before.keyVersion, `key version ${before.keyVersion} -> ${after.keyVersion}`);
    sh.fresh();
    assert.equal(sh.kinit("ASA-DEFER$", declared).status, 0);
    assert.deepEqual((await readBack(outs)).drift, [], "a deferred password set elsewhere is not drift");

    // An update with deferPasswordSet never touches the AD password.
    const next = "Deferred-Next-Passw0rd!-" + Date.now();
    const upd = (await asa.update(outs.sid, outs, (await asa.check(outs, { name: "ASA-DEFER", ou, password: next, deferPasswordSet: true })).inputs)).outs as AsaOutputs;
    assert.equal(upd.password, next);
    assert.equal((await readAsaPasswordState(outs.sid)).keyVersion, after.keyVersion);
    sh.fresh();
    assert.equal(sh.kinit("ASA-DEFER$", declared).status, 0, "AD still has the password set before");
  });

  it("refuses a missing OU at check (preview), naming it, never the password", async () => {
    const password = "Never-In-Errors-9f3k!";
    const r = await asa.check({}, { name: "ASA-NOOU", ou: `OU=Missing,${lab.baseDn}`, password });
    assert.deepEqual(r.failures?.map((f) => f.property), ["ou"]);
    assert.match(r.failures![0].reason, /the OU OU=Missing,DC=corp,DC=example does not exist in the directory\. Fix: create it first/);
    assert.ok(!JSON.stringify(r.failures).includes(password));
  });

  it("a failed create (the OU went away after preview) names the object and the fix, never the password", async () => {
    const password = "Never-In-Errors-9f3k!";
    await assert.rejects(asa.create({ name: "ASA-NOOU", ou: `OU=Missing,${lab.baseDn}`, password }), (e: unknown) => {
      assert.ok(e instanceof NotFoundError, String(e));
      // The same refusal check makes at preview (one builder for both).
      assert.equal(e.code, "OU_NOT_FOUND");
      assert.match(e.message, /the OU OU=Missing,DC=corp,DC=example does not exist in the directory\. Fix: create it first/);
      for (let c: unknown = e; c instanceof Error; c = c.cause) assert.ok(!c.message.includes(password) && !String(c.stack).includes(password), c.message);
      return true;
    });
  });
});
