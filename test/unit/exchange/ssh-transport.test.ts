// The ssh transport without a server: its settings read strictly, the command line handed to the
// real OpenSSH client (resolved by `ssh -G`, which parses everything and connects nowhere), what
// ssh's own messages mean, the key handoff's crypto, and the reader fed output shaped like Windows
// PowerShell 5.1's (CRLF, the OEM code page, warnings and a CLIXML progress record around frames).
import * as assert from "node:assert/strict";
import { constants, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { KerberosRolloutError } from "../../../provider/errors";
import { configFromMap, configureFromStack, DEFAULT_SSH_REMOTE_COMMAND, exchangeSettings, projectPath, type SshSettings } from "../../../provider/settings";
import { REPO_ROOT } from "../../fixtures/pulumi-cli";
import { sshArguments, sshFailure, sshOptionPath, sshSilent } from "../../../provider/exchange/ssh-transport";
import { encryptSealKey, newSealKey } from "../../../provider/exchange/sealing";
import { assertScriptText, inlineBootstrapScript, KEY_REQUEST_SCRIPT, keyDeliveryScript, parsePublicKeyAnswer, parseResult } from "../../../provider/exchange/channel";
import { FrameReader, framedScript } from "../../../provider/exchange/framing";
import { typedError } from "../../../provider/exchange/error-mapping";

const NS = "exchange-kerberos";

describe("ssh transport (no server)", function () {
  let dir: string;
  let knownHosts: string;
  let identity: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ek-ssh unit-"));
    knownHosts = path.join(dir, "known_hosts");
    identity = path.join(dir, "id_ed25519");
    fs.writeFileSync(knownHosts, "[mgmt01.corp.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7y\n");
    fs.writeFileSync(identity, "not a key, only a readable file\n", { mode: 0o600 });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const settings = (extra: Record<string, string | undefined>) => {
    const values: Record<string, string | undefined> = {
      [`${NS}:exchangeTransport`]: "ssh",
      [`${NS}:sshTarget`]: "svc-exchange@mgmt01.corp.example",
      [`${NS}:sshKnownHostsFile`]: knownHosts,
      [`${NS}:exchangeUser`]: "CORP\\svc-exchange",
      [`${NS}:exchangePassword`]: "pw",
      ...extra,
    };
    configureFromStack(configFromMap(Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Record<string, string>));
    return exchangeSettings();
  };
  const refused = (extra: Record<string, string | undefined>, code: string, field: string) =>
    assert.throws(() => settings(extra), (e: unknown) => e instanceof KerberosRolloutError && e.code === code && e.field === `${NS}:${field}` && e.fix !== undefined, `${JSON.stringify(extra)}: ${code}`);

  describe("settings", () => {
    it("process stays the default; ssh takes user@host, port, files and the default remote command", () => {
      configureFromStack(configFromMap({}));
      assert.equal(exchangeSettings().transport, "process");
      assert.equal(exchangeSettings().ssh, undefined);
      const s = settings({ [`${NS}:sshPort`]: "2222", [`${NS}:sshIdentityFile`]: identity });
      assert.equal(s.transport, "ssh");
      assert.deepEqual({ ...s.ssh, executable: undefined }, { user: "svc-exchange", host: "mgmt01.corp.example", port: 2222, identityFile: identity, knownHostsFile: knownHosts, connectTimeoutMs: 30000, remoteCommand: DEFAULT_SSH_REMOTE_COMMAND, executable: undefined });
      assert.equal(DEFAULT_SSH_REMOTE_COMMAND, "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -");
      // A UPN or DOMAIN\user logs on as written; ssh splits at the last @.
      assert.deepEqual([settings({ [`${NS}:sshTarget`]: "admin@corp.example@10.0.0.5" }).ssh?.user, settings({ [`${NS}:sshTarget`]: "CORP\\admin@mgmt01" }).ssh?.host], ["admin@corp.example", "mgmt01"]);
    });

    it("takes a path written the Windows way (keys\\known_hosts) from the project folder, ~ from the home folder, and leaves a bare command for PATH", () => {
      assert.equal(projectPath("keys\\known_hosts"), path.resolve(REPO_ROOT, "keys\\known_hosts"));
      assert.equal(projectPath("keys/known_hosts"), path.resolve(REPO_ROOT, "keys/known_hosts"));
      assert.equal(projectPath("powershell.exe"), "powershell.exe");
      assert.equal(projectPath("/etc/ek/known_hosts"), "/etc/ek/known_hosts");
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "ek-home-"));
      const was = process.env.HOME;
      process.env.HOME = home;
      try {
        fs.writeFileSync(path.join(home, "kh"), "");
        assert.equal(settings({ [`${NS}:sshKnownHostsFile`]: "~/kh" }).ssh?.knownHostsFile, path.join(home, "kh"), "~ is the home folder, as ssh reads it");
      } finally {
        process.env.HOME = was;
        fs.rmSync(home, { recursive: true, force: true });
      }
    });

    it("refuses, naming the key: another transport, a missing or malformed target, a file it cannot read, a bad port or command", () => {
      refused({ [`${NS}:exchangeTransport`]: "SSH" }, "VALUE_NOT_ALLOWED", "exchangeTransport");
      refused({ [`${NS}:exchangeTransport`]: "wsman" }, "VALUE_NOT_ALLOWED", "exchangeTransport");
      refused({ [`${NS}:sshTarget`]: undefined }, "SETTING_MISSING", "sshTarget");
      for (const t of ["mgmt01", "@mgmt01", "admin@", "-oProxyCommand=x@mgmt01", "admin@-oProxyCommand=x", "ad min@mgmt01", "admin@mgmt 01", "admin@mg;mt01", "admin@mgmt01\n"]) {
        refused({ [`${NS}:sshTarget`]: t }, "NOT_AN_SSH_TARGET", "sshTarget");
      }
      refused({ [`${NS}:sshKnownHostsFile`]: undefined }, "SETTING_MISSING", "sshKnownHostsFile");
      refused({ [`${NS}:sshKnownHostsFile`]: path.join(dir, "missing") }, "SSH_FILE_UNREADABLE", "sshKnownHostsFile");
      refused({ [`${NS}:sshKnownHostsFile`]: dir }, "SSH_FILE_UNREADABLE", "sshKnownHostsFile");
      refused({ [`${NS}:sshIdentityFile`]: path.join(dir, "missing") }, "SSH_FILE_UNREADABLE", "sshIdentityFile");
      refused({ [`${NS}:sshIdentityFile`]: path.join(dir, 'a"b') }, "NOT_A_FILE_PATH", "sshIdentityFile");
      refused({ [`${NS}:sshPort`]: "0" }, "NUMBER_OUT_OF_RANGE", "sshPort");
      refused({ [`${NS}:sshPort`]: "22x" }, "NOT_A_NUMBER", "sshPort");
      refused({ [`${NS}:sshConnectTimeoutMs`]: "-1" }, "NOT_A_NUMBER", "sshConnectTimeoutMs");
      refused({ [`${NS}:sshRemoteCommand`]: " " }, "VALUE_EMPTY", "sshRemoteCommand");
      refused({ [`${NS}:sshRemoteCommand`]: "powershell.exe\n-Command -" }, "TEXT_NOT_ONE_LINE", "sshRemoteCommand");
    });

    it("refuses what cannot work past a key-based logon (the second hop): no credential for Exchange, or the local snap-in", () => {
      refused({ [`${NS}:exchangeUser`]: undefined, [`${NS}:exchangePassword`]: undefined }, "SECOND_HOP_NEEDS_CREDENTIAL", "exchangeUser");
      refused({ [`${NS}:exchangeConnection`]: "local" }, "SECOND_HOP_NEEDS_CREDENTIAL", "exchangeConnection");
      assert.throws(() => settings({ [`${NS}:exchangeUser`]: undefined, [`${NS}:exchangePassword`]: undefined }), /SECOND_HOP_NEEDS_CREDENTIAL\)\. Fix: pulumi config set exchange-kerberos:exchangeUser/);
    });
  });

  describe("the ssh command line", () => {
    const base: SshSettings = { user: "svc-exchange", host: "mgmt01.corp.example", port: 2222, knownHostsFile: "/etc/ek/known_hosts", connectTimeoutMs: 15500, remoteCommand: DEFAULT_SSH_REMOTE_COMMAND, executable: "ssh" };

    it("pins the host key, never prompts, reads no config file, and ends with -- host and the remote command as one argument", () => {
      const args = sshArguments(base, "linux");
      const opts = args.flatMap((a, i) => (args[i - 1] === "-o" ? [a] : []));
      for (const o of ["BatchMode=yes", "StrictHostKeyChecking=yes", "UserKnownHostsFile=/etc/ek/known_hosts", "GlobalKnownHostsFile=/etc/ek/known_hosts", "PasswordAuthentication=no", "KbdInteractiveAuthentication=no", "RequestTTY=no", "EscapeChar=none", "ForwardAgent=no", "ConnectTimeout=16"]) {
        assert.ok(opts.includes(o), o);
      }
      assert.ok(!opts.some((o) => /^StrictHostKeyChecking=(no|off|accept-new)$/i.test(o) || /^SendEnv|^SetEnv/i.test(o)));
      assert.deepEqual(args.slice(0, 2), ["-F", "none"]);
      assert.deepEqual(args.slice(-6), ["-p", "2222", "-l", "svc-exchange", "--", "mgmt01.corp.example", DEFAULT_SSH_REMOTE_COMMAND].slice(-6));
      assert.equal(args.at(-1), DEFAULT_SSH_REMOTE_COMMAND);
      assert.equal(args.at(-3), "--");
      assert.ok(!opts.some((x) => /^Identit/.test(x)), "no identity file: the agent's and the default keys");
      const withKey = sshArguments({ ...base, identityFile: "/keys/id 50%" }, "linux");
      assert.ok(withKey.includes('IdentityFile="/keys/id 50%%"') && withKey.includes("IdentitiesOnly=yes"), "ssh expands % in identity file names");
    });

    it("writes file names as ssh's option parser and Windows take them: quoted with white space, % doubled, / for \\", () => {
      assert.equal(sshOptionPath("/a b/50%/kh", "f", "linux"), '"/a b/50%%/kh"');
      assert.equal(sshOptionPath("C:\\Users\\Jane Doe\\.ssh\\known_hosts", "f", "win32"), '"C:/Users/Jane Doe/.ssh/known_hosts"');
      assert.equal(sshOptionPath("\\\\fs01\\ssh\\known_hosts", "f", "win32"), "//fs01/ssh/known_hosts");
      assert.throws(() => sshOptionPath('/a"b', "exchange-kerberos:sshKnownHostsFile", "linux"), (e: unknown) => e instanceof KerberosRolloutError && e.code === "NOT_A_FILE_PATH");
    });

    it("Debian's ssh resolves the arguments as meant (ssh -G: parsed, nothing connected), file names with a space included", () => {
      const kh = path.join(dir, "known_hosts");
      const args = sshArguments({ ...base, knownHostsFile: kh, identityFile: identity }, "linux");
      // -G prints the configuration the command line makes; the remote command is not needed.
      const r = spawnSync("ssh", ["-G", ...args.slice(0, -1)], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const conf = new Map(r.stdout.split("\n").map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));
      assert.equal(conf.get("stricthostkeychecking"), "true");
      assert.equal(conf.get("batchmode"), "yes");
      // A % in a name is left to the e2e, whose key and known_hosts lie in a folder named with a
      // space and a % and which connects: -G prints %-tokens of some options expanded, of others not.
      assert.equal(conf.get("userknownhostsfile"), kh);
      assert.equal(conf.get("globalknownhostsfile"), kh);
      assert.equal(conf.get("hostname"), "mgmt01.corp.example");
      assert.equal(conf.get("port"), "2222");
      assert.equal(conf.get("user"), "svc-exchange");
      assert.equal(conf.get("identityfile"), identity);
      assert.equal(conf.get("passwordauthentication"), "no");
      assert.equal(conf.get("connecttimeout"), "16");
      assert.equal(conf.get("escapechar"), "none");
      assert.equal(conf.get("sendenv"), undefined, "nothing of the environment is sent");
    });
  });

  describe("what ssh's messages mean", () => {
    const s: SshSettings = { user: "root", host: "127.0.23.61", port: 2222, knownHostsFile: "/k/known_hosts", connectTimeoutMs: 30000, remoteCommand: DEFAULT_SSH_REMOTE_COMMAND, executable: "ssh" };
    const code = (stderr: string, exitCode: number | null, opened = false) => sshFailure(s, { code: exitCode, signal: null, stderr }, opened).code;
    it("names each failure with its code (OpenSSH's words, as Debian's and Windows' ssh print them)", () => {
      const changed = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nThe fingerprint for the ED25519 key sent by the remote host is\nSHA256:0yNyg8ev5GygA9Mrt/V30KMdUZbj9p9mUJ3zBXT0ksw.\nHost key for [127.0.23.61]:2222 has changed and you have requested strict checking.\nHost key verification failed.\n";
      const e = sshFailure(s, { code: 255, signal: null, stderr: changed }, false);
      assert.equal(e.code, "SSH_HOST_KEY_CHANGED");
      assert.match(e.reason, /SHA256:0yNyg8ev5GygA9Mrt\/V30KMdUZbj9p9mUJ3zBXT0ksw/, "the fingerprint the host presented");
      assert.match(e.message, /\(SSH_HOST_KEY_CHANGED\)\. Fix: /);
      assert.equal(code("No ED25519 host key is known for [127.0.23.61]:2222 and you have requested strict checking.\nHost key verification failed.\n", 255), "SSH_HOST_KEY_UNKNOWN");
      assert.equal(code("root@127.0.23.61: Permission denied (publickey).\n", 255), "SSH_AUTH_REFUSED");
      assert.equal(code("ssh: connect to host 127.0.23.61 port 2222: Connection refused\n", 255), "SSH_UNREACHABLE");
      assert.equal(code("ssh: connect to host 10.9.9.9 port 22: Connection timed out\n", 255), "SSH_UNREACHABLE");
      assert.equal(code("ssh: Could not resolve hostname mgmt99: Name or service not known\n", 255), "SSH_UNREACHABLE");
      assert.equal(code("debug1: SELinux support disabled\nbash: line 1: powershell.exe: command not found\n", 127), "SSH_REMOTE_COMMAND_MISSING");
      // Windows OpenSSH runs the command through cmd.exe, which says it this way (exit code 1).
      assert.equal(code("'powershell.exe' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", 1), "SSH_REMOTE_COMMAND_MISSING");
      assert.equal(code("client_loop: send disconnect: Broken pipe\n", 255, true), "SSH_CONNECTION_LOST");
      assert.equal(code("", 255), "SSH_FAILED");
      assert.equal(code("", 3, true), "UNREACHABLE", "the remote PowerShell exited during a call: not the connection");
      assert.equal(sshSilent(s, 4000).code, "SSH_REMOTE_COMMAND_SILENT");
    });
  });

  describe("the key handoff", () => {
    it("encrypts the sealing key to the shell's RSA key (OAEP, SHA-1: RSACryptoServiceProvider.Decrypt(…, $true)) and refuses a small key", () => {
      const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const jwk = publicKey.export({ format: "jwk" });
      // As .NET's ExportParameters gives them: big-endian bytes, base64.
      const answer = parsePublicKeyAnswer(`noise\r\nEK-PUBLIC-KEY ${Buffer.from(jwk.n!, "base64url").toString("base64")} ${Buffer.from(jwk.e!, "base64url").toString("base64")}\r\n`);
      assert.ok(answer);
      const key = newSealKey();
      const sealed = encryptSealKey(key, answer.modulus, answer.exponent);
      assert.deepEqual(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, Buffer.from(sealed, "base64")), key);
      assert.notEqual(encryptSealKey(key, answer.modulus, answer.exponent), sealed, "OAEP is randomized");
      const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
      assert.throws(() => encryptSealKey(key, Buffer.from(small.n!, "base64url").toString("base64"), "AQAB"), /1024 bits/);
    });

    it("sends only fixed script text: the key request, the ciphertext, the module as base64; a spliced value is refused", () => {
      assertScriptText(KEY_REQUEST_SCRIPT);
      assertScriptText(keyDeliveryScript(Buffer.alloc(256, 7).toString("base64")));
      assertScriptText(inlineBootstrapScript("# a module\n$x = 'it''s'\n"));
      assert.throws(() => assertScriptText(keyDeliveryScript("AAAA'); Remove-Item C:\\ -Recurse; ('")), /fixed forms/);
      assert.ok(!KEY_REQUEST_SCRIPT.includes("EK_SESSION_KEY"), "the request carries nothing of the key");
    });
  });

  describe("Windows PowerShell 5.1's output", () => {
    /** Feeds `bytes` as a ShellProcess does (UTF-8 decoding of the pipe), `size` bytes at a time. */
    function feed(reader: FrameReader, stream: "stdout" | "stderr", bytes: Buffer, size: number): void {
      const d = new StringDecoder("utf8");
      for (let i = 0; i < bytes.length; i += size) reader.push(stream, d.write(bytes.subarray(i, i + size)));
      reader.push(stream, d.end());
    }
    // "WARNUNG: Die Namen einiger importierter Befehle ... enthalten nicht genehmigte Verben" in
    // code page 850, as the German console writes it: ä = 0x84, ü = 0x81, ö = 0x94, ß = 0xE1.
    const oem = (text: string) => Buffer.from([...text].map((c) => ({ ä: 0x84, ü: 0x81, ö: 0x94, ß: 0xe1 })[c] ?? c.charCodeAt(0)));
    const warning = oem("WARNUNG: Die Namen einiger importierter Befehle aus dem Modul 'tmp_1' enthalten nicht genehmigte Verben, die die Auffindbarkeit erschweren können. Größe\r\n");
    const progress = Buffer.from('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>\r\n');

    it("reads the answer between the ids with CRLF line ends and OEM-code-page text before, inside and after the frame, however it is chunked", () => {
      const id = "AbCdEfGhIjKlMnOp";
      const result = `EK-RESULT-BEGIN ${Buffer.from(JSON.stringify({ ok: true, data: { connection: "remote" } })).toString("base64")} EK-RESULT-END`;
      const stdout = Buffer.concat([warning, Buffer.from(`${id}\r\n`), warning, Buffer.from(`${result}\r\n${id}\r\n`), warning]);
      const stderr = Buffer.concat([progress, Buffer.from(`${id}\r\n${id}\r\n`), progress]);
      for (const size of [1, 2, 3, 7, 64, 4096]) {
        const reader = new FrameReader(id);
        feed(reader, "stdout", stdout, size);
        feed(reader, "stderr", stderr, size);
        const answer = reader.answer();
        assert.ok(answer, `chunks of ${size}`);
        assert.equal(answer.stderr, "", "a progress record outside the frame is not the call's error");
        assert.deepEqual(parseResult(answer.stdout), { ok: true, data: { connection: "remote" } }, `chunks of ${size}`);
      }
    });

    it("frames lines so Windows PowerShell reads them (CRLF on Windows) and takes CRLF back", () => {
      const framed = framedScript("Invoke-EkOperation -Name 'Get-EkServerInfo' -ParamsBase64 'e30='", "AbCdEfGhIjKlMnOp");
      assert.equal(framed.split(os.EOL).length, 6, "five lines, each ended by the platform's end of line");
    });

    it("takes the WSMan-less answer of pwsh 7.3+ (New-PSSession or Invoke-Command) as WSMAN_CLIENT_MISSING, and an open that failed otherwise as not", () => {
      const message = "This parameter set requires WSMan, and no supported WSMan client library was found. WSMan is either not installed or unavailable for this system.";
      for (const cmd of ["NewPSSessionCommand", "InvokeCommandCommand"]) {
        const e = typedError({ category: "ResourceUnavailable", reason: "PSRemotingTransportException", errorId: `System.Management.Automation.Remoting.PSRemotingDataStructureException,Microsoft.PowerShell.Commands.${cmd}`, message }, "connecting to Exchange at EX1");
        assert.equal(e.code, "WSMAN_CLIENT_MISSING");
        assert.match(e.message, /run pulumi on Windows.*exchangeTransport ssh.*PSWSMan/);
      }
      const other = typedError({ category: "OpenError", reason: "PSRemotingTransportException", errorId: "-2144108477,PSSessionOpenFailed", message: "Connecting to remote server EX1 failed" }, "connecting to Exchange at EX1");
      assert.notEqual(other.code, "WSMAN_CLIENT_MISSING");
    });
  });
});
