// The LDAP integration suites share one lab DC (./lab.ts). The test run executes files in parallel
// (scripts/test), and each file's labs stop when it ends, so the suites that share a lab are one
// file: loaded here in order, they run one after another in the same process.
import "./asa-computer-account.suite";
import "./connection.suite";
import "./dns-record.suite";
import "./spn.suite";
import "./ad-rules.suite";
