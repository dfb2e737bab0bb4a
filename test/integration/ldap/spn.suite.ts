// Spn against the lab DC: forest-wide uniqueness through the Global Catalog, never moving an SPN
// from its holder, deleting only our value, and reporting a value removed by hand.
import { strict as assert } from "node:assert";
import { AlreadyExistsError, ConflictError } from "../../../provider/errors";
import { directoryFor, strs } from "../../../provider/ldap/connection";
import { asaComputerAccountImpl as asa, AsaOutputs } from "../../../provider/resources/asa-computer-account";
import { spnImpl, SpnOutputs } from "../../../provider/resources/spn";
import { Lab, sambaTool } from "../../fixtures/lab";
import { KerberosShell, rawSpn } from "../../fixtures/admin-tools";
import { ldapLab } from "./lab";

describe("Spn (lab DC, Global Catalog)", function () {
  this.timeout(120000);
  let lab: Lab;
  let account: AsaOutputs;
  let legacyDn: string;

  async function createSpn(inputs: Record<string, unknown>): Promise<SpnOutputs> {
    const checked = await spnImpl.check({}, inputs);
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    return (await spnImpl.create(checked.inputs)).outs as SpnOutputs;
  }

  async function spnsOf(dn: string): Promise<string[]> {
    const [e] = await directoryFor(undefined).search(dn, { scope: "base", attributes: ["servicePrincipalName"] });
    return strs(e, "servicePrincipalName").sort();
  }

  before(async () => {
    lab = await ldapLab();
    legacyDn = `CN=LEGACYWEB,OU=Servers,${lab.baseDn}`;
    await sambaTool(lab, ["computer", "delete", "ASA-SPN"]).catch(() => undefined);
    const checked = await asa.check({}, { name: "ASA-SPN", ou: `OU=Service Accounts,${lab.baseDn}` });
    account = (await asa.create(checked.inputs)).outs as AsaOutputs;
  });

  after(async () => {
    if (account) await asa.delete(account.sid, account);
  });

  it("refuses an SPN held by another account, names the holder, and leaves it there", async () => {
    const before = await spnsOf(legacyDn);
    assert.ok(before.includes(`HTTP/legacy.${lab.domain}`), before.join(","));
    for (const spn of [`HTTP/legacy.${lab.domain}`, `http/LEGACY.${lab.domain.toUpperCase()}`]) {
      // Preview of a new rollout (the ASA not made yet: its DN unknown, so absent) refuses it, naming
      // the holder; create refuses it too (it could appear after preview).
      const checked = await spnImpl.check({}, { spn });
      // (The failure on the absent account is the one dispatch drops for a value not known yet.)
      const onSpn = checked.failures?.filter((f) => f.property !== "account") ?? [];
      assert.deepEqual(onSpn.map((f) => f.property), ["spn"], spn);
      assert.match(onSpn[0].reason, new RegExp(`already held by ${legacyDn}.*Fix: .*setspn -D`));
      await assert.rejects(
        spnImpl.create({ spn, account: account.dn }),
        (e: unknown) => e instanceof ConflictError && e.message.includes(`already held by ${legacyDn}`) && /refusing to move it/.test(e.message) && /setspn -D/.test(e.message),
        spn,
      );
    }
    assert.deepEqual(await spnsOf(legacyDn), before, "LEGACYWEB still holds every SPN it had");
    assert.deepEqual(await spnsOf(account.dn), [], "nothing was added to the ASA");
  });

  it("adds the SPN to the account named by sAMAccountName; kvno then gets a ticket for it", async () => {
    const spnName = `HTTP/mail.${lab.domain}`;
    const outs = await createSpn({ spn: spnName, account: `${lab.netbios}\\${account.samAccountName}` });
    assert.equal(outs.accountDn, account.dn);
    assert.equal(outs.accountSid, account.sid);
    assert.deepEqual(await spnsOf(account.dn), [spnName]);
    const sh = new KerberosShell(lab);
    try {
      sh.kinitAdmin();
      const r = sh.kvno(spnName);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      sh.cleanup();
    }
    await spnImpl.delete(`${outs.accountSid}/${spnName}`, outs);
    assert.deepEqual(await spnsOf(account.dn), []);
  });

  it("delete removes only its own value; read reports a value removed by hand", async () => {
    const a = await createSpn({ spn: `HTTP/autodiscover.${lab.domain}`, account: account.dn });
    const b = await createSpn({ spn: `HTTP/owa.${lab.domain}`, account: account.dn });
    assert.deepEqual(await spnsOf(account.dn), [`HTTP/autodiscover.${lab.domain}`, `HTTP/owa.${lab.domain}`]);

    await spnImpl.delete(`${a.accountSid}/${a.spn}`, a);
    assert.deepEqual(await spnsOf(account.dn), [`HTTP/owa.${lab.domain}`], "the other value stays");

    const live = await spnImpl.read(`${b.accountSid}/${b.spn}`, b);
    assert.equal(live.id, `${b.accountSid}/${b.spn}`);
    assert.deepEqual(live.props.duplicates, []);

    await sambaTool(lab, ["spn", "delete", b.spn, account.samAccountName]);
    const gone = await spnImpl.read(`${b.accountSid}/${b.spn}`, b);
    assert.equal(gone.id, "", "a value removed by hand reads as gone, so refresh shows it and up adds it back");
  });

  it("read reports a duplicate that appeared on another account, and update refuses to go on", async () => {
    const spn = `HTTP/dup.${lab.domain}`;
    const ours = await createSpn({ spn, account: account.dn });
    // Samba, like Windows since 2012 R2, refuses a duplicate over LDAP; forests still get there (two
    // DCs before replication, old setspn -A). Written below that check into the DC's partition file.
    await sambaTool(lab, ["computer", "create", "SPN-DUP"]);
    const otherDn = `CN=SPN-DUP,CN=Computers,${lab.baseDn}`;
    await rawSpn(lab, "add", otherDn, spn);
    try {
      const r = await spnImpl.read(`${ours.accountSid}/${spn}`, ours);
      assert.equal(r.id, `${ours.accountSid}/${spn}`, "ours is still there");
      assert.deepEqual(r.props.duplicates, [otherDn]);
      assert.match(r.props.drift.join(" "), /also held by CN=SPN-DUP.*duplicate SPN/);
      await assert.rejects(spnImpl.update(`${ours.accountSid}/${spn}`, r.props, { spn, account: account.dn }), (e: unknown) => e instanceof ConflictError && /CN=SPN-DUP/.test(e.message) && /never remove or move another account's SPN/.test(e.message));
    } finally {
      await rawSpn(lab, "delete", otherDn, spn);
      await sambaTool(lab, ["computer", "delete", "SPN-DUP"]);
      await spnImpl.delete(`${ours.accountSid}/${spn}`, ours);
    }
  });

  it("refuses a value the account already holds without adopt, saying how; adopts it with adopt", async () => {
    const spn = `HTTP/adopted.${lab.domain}`;
    await sambaTool(lab, ["spn", "add", spn, account.samAccountName]);
    await assert.rejects(createSpn({ spn, account: account.dn }), (e: unknown) => e instanceof AlreadyExistsError && /already holds the SPN/.test(e.message) && /set adopt: true/.test(e.message));
    const outs = await createSpn({ spn, account: account.dn, adopt: true });
    assert.equal(outs.accountDn, account.dn);
    assert.equal(outs.origin, "adopted");
    // Adopted is released on delete: the value stays where the admin put it.
    await spnImpl.delete(`${outs.accountSid}/${spn}`, outs);
    assert.ok((await spnsOf(account.dn)).includes(spn), "a released SPN stays on the account");
    // With onDestroy: delete the same adoption is removed.
    const again = await createSpn({ spn, account: account.dn, adopt: true, onDestroy: "delete" });
    await spnImpl.delete(`${again.accountSid}/${spn}`, again);
    assert.ok(!(await spnsOf(account.dn)).includes(spn), "onDestroy: delete removes the adopted SPN");
  });

  it("finds an account whose name is not ASCII (the filter value is escaped byte by byte)", async () => {
    await sambaTool(lab, ["user", "create", "jürgen-svc", "--random-password"]);
    try {
      const spn = `HTTP/jurgen.${lab.domain}`;
      const outs = await createSpn({ spn, account: "jürgen-svc" });
      assert.match(outs.accountDn, /^CN=jürgen-svc,CN=Users,/);
      await spnImpl.delete(`${outs.accountSid}/${spn}`, outs);
    } finally {
      await sambaTool(lab, ["user", "delete", "jürgen-svc"]);
    }
  });
});
