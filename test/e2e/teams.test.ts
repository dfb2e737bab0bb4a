// A team on one stack, as docs/guides/teams-and-drift.md ("Working as a team") tells it: the stack
// file in version control is the desired state, `up` runs from the reviewed branch, and the operator
// whose `up` the lock refused pulls before running again. Two checkouts (clones of one git
// repository holding the project and Pulumi.team.yaml), one PostgreSQL backend, the site program
// through the real CLI against a lab DC and the Exchange stand-in (a TEST DOUBLE).
//
//   alice: adds an SPN, commits, pushes, `pulumi up` (holding the lock)
//   bob:   changes the TTL, commits, `pulumi up` → refused by the lock
//   bob:   from the checkout he had, `pulumi preview` plans the deletion of alice's SPN (why the guide says pull)
//   bob:   `git pull`, `pulumi preview`: only his change; `pulumi up`, `git push`
//   alice: `git pull`, `pulumi preview --expect-no-changes`
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dig } from "../fixtures/admin-tools";
import { Lab, labAddr, sambaTool, startLab } from "../fixtures/lab";
import { CliResult, PulumiCli, PulumiCliError, REPO_ROOT, resourcesOf } from "../fixtures/pulumi-cli";
import { Postgres, startPostgres } from "../fixtures/postgres";
import { seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import { stepTimes } from "../fixtures/step-times";
import { sh } from "../fixtures/consumer";

const STACK = "team";
const NS = "outlook.corp.example";
const ADDED = "mail2.corp.example";

const { times, timed } = stepTimes();

describe("a team on one stack, as the guide tells it: the stack file in git is the desired state, and the operator the lock refused pulls before running again", function () {
  this.timeout(600_000);

  let lab: Lab;
  let pg: Postgres;
  let dir: string;
  let alice: PulumiCli;
  let bob: PulumiCli;
  const git = (cwd: string, ...args: string[]) => sh("git", ["-c", "user.name=operator", "-c", "user.email=operator@corp.example", "-c", "init.defaultBranch=main", ...args], cwd);

  before(async function () {
    // Both started side by side; each kept even when the other fails, so that after() stops it.
    const [l, p] = await timed("lab + postgres", () => Promise.allSettled([startLab(labAddr(43)), startPostgres(labAddr(44))]));
    if (p.status === "fulfilled") pg = p.value;
    if (l.status === "rejected") throw l.reason;
    if (p.status === "rejected") throw p.reason;
    lab = l.value;
    // Inside the repository (.scratch), so the site program resolves this package through its self-link.
    const scratch = path.join(REPO_ROOT, ".scratch");
    fs.mkdirSync(scratch, { recursive: true });
    dir = fs.mkdtempSync(path.join(scratch, "teams-"));
    const standinState = path.join(dir, "standin", "state.json");
    fs.mkdirSync(path.dirname(standinState));
    seedServers(standinState, [{ name: "EX1", version: "2019" }]);
    await git(dir, "init", "--bare", "origin.git");
    await git(dir, "clone", "origin.git", "alice");
    for (const f of ["Pulumi.yaml", "index.js"]) fs.copyFileSync(path.join(REPO_ROOT, "test", "fixtures", "site-stack", f), path.join(dir, "alice", f));
    const env = { EXCHANGE_STANDIN_STATE: standinState, PULUMI_BACKEND_URL: pg.backendUrl, PGPASSWORD: pg.password };
    alice = await PulumiCli.create({ project: path.join(dir, "alice"), copyProject: false, env });

    await timed("alice: stack init, config, commit, push, up", async () => {
      await alice.initStack(STACK);
      const plain: Record<string, string> = {
        ...Object.fromEntries(Object.entries(lab.stackConfig).filter(([k]) => !k.endsWith("Password"))),
        "exchange-kerberos:exchangeShell": standinExecutable(),
        "exchange-kerberos:namespace": NS,
        "exchange-kerberos:servers": JSON.stringify(["EX1"]),
        "exchange-kerberos:dnsZone": lab.domain,
        "exchange-kerberos:dnsAddresses": JSON.stringify(["192.0.2.51"]),
        "exchange-kerberos:asaName": "TEAM-ASA",
        "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
        "exchange-kerberos:extraSpnNames": JSON.stringify(["autodiscover.corp.example"]),
      };
      await alice.run(["config", "set-all", "--stack", STACK, ...Object.entries(plain).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
      for (const [k, v] of Object.entries(lab.stackConfig)) if (k.endsWith("Password")) await alice.setConfig(k, v, { secret: true });
      await git(alice.projectDir, "add", "Pulumi.yaml", "index.js", `Pulumi.${STACK}.yaml`);
      await git(alice.projectDir, "commit", "-qm", "site: the team's stack");
      await git(alice.projectDir, "push", "-q", "origin", "HEAD");
      await alice.up();
    });
    await git(dir, "clone", "-q", "origin.git", "bob");
    bob = await PulumiCli.create({ project: path.join(dir, "bob"), copyProject: false, env });
    bob.stack = STACK;
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    if (alice) {
      await alice.destroy([], { okCodes: [0, 255] }).catch(() => undefined);
      await alice.removeStack(STACK, { force: true }).catch(() => undefined);
      await alice.dispose();
    }
    await bob?.dispose();
    await pg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the refused operator pulls, previews only their own change, and both checkouts end with no changes", async function () {
    try {
      // alice's change goes through review into the branch, then she runs up from it.
      await alice.setConfig("exchange-kerberos:extraSpnNames", JSON.stringify(["autodiscover.corp.example", ADDED]));
      await git(alice.projectDir, "commit", "-qam", `site: HTTP/${ADDED}`);
      await git(alice.projectDir, "push", "-q", "origin", "HEAD");
      // bob's own change, committed in his checkout, which lacks alice's commit.
      await bob.setConfig("exchange-kerberos:dnsTtl", "600");
      await git(bob.projectDir, "commit", "-qam", "site: TTL 600");

      // bob's up starts once alice's holds the lock: it is refused for certain, not by a race.
      const first = timed("alice: up (holding the lock)", () => alice.up([], { okCodes: [0, 1, 255] }));
      let refused: CliResult | undefined;
      try {
        const t0 = Date.now();
        while (!(await pg.psql("SELECT key FROM pulumi_state WHERE key LIKE '%/locks/%'")) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
        refused = await timed("bob: up (refused by the lock)", () => bob.up([], { okCodes: [0, 1, 255] }));
      } finally {
        await first.catch(() => undefined);
      }
      const aliceUp = await first;
      assert.strictEqual(aliceUp.code, 0, aliceUp.stdout + aliceUp.stderr);
      assert.ok(refused);
      assert.notStrictEqual(refused.code, 0, refused.stdout);
      assert.match(refused.stdout + refused.stderr, /the stack is currently locked by 1 lock\(s\)/);
      assert.match(await sambaTool(lab, ["spn", "list", "TEAM-ASA$"]), new RegExp(`HTTP/${ADDED.replace(/\./g, "\\.")}`), "alice's SPN is in AD");

      // Running again from the checkout he had would undo alice's change: the guide's reason to pull.
      const stale = await timed("bob: preview from his old checkout", () => bob.preview());
      assert.match(stale.stdout, new RegExp(`-\\s+\\S+Spn\\s+site-spn-${ADDED.replace(/\./g, "\\.")}\\s+delete`), stale.stdout);

      // The guide: pull, preview (his change alone), up, push.
      await git(bob.projectDir, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main");
      const plan = await timed("bob: preview after git pull", () => bob.preview());
      assert.doesNotMatch(plan.stdout, /\b(create|delete|replace)\b/, plan.stdout);
      assert.match(plan.stdout, new RegExp(`~\\s+\\S+DnsRecord\\s+site-dns\\s+update`), plan.stdout);
      assert.match(plan.stdout, /~ 1 to update/, plan.stdout);
      await timed("bob: up", () => bob.up());
      await git(bob.projectDir, "push", "-q", "origin", "HEAD");

      await git(alice.projectDir, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main");
      await timed("alice: preview --expect-no-changes after git pull", () => alice.preview(["--expect-no-changes"]));
      assert.match(await sambaTool(lab, ["spn", "list", "TEAM-ASA$"]), new RegExp(`HTTP/${ADDED.replace(/\./g, "\\.")}`), "alice's SPN stayed");
      assert.deepStrictEqual(dig(lab, NS, "A").answers, ["192.0.2.51"]);
      const dns = resourcesOf(await alice.exportStack()).find((r) => r.urn.endsWith(`::site-dns`));
      assert.strictEqual(dns?.outputs?.ttl, 600, "bob's TTL is applied");
    } catch (e) {
      throw e instanceof PulumiCliError ? new Error(e.message) : e;
    }
  });
});
