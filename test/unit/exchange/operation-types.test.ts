// The operation table's types, checked by the compiler: each `@ts-expect-error` below must be an
// error, or the build fails. So a call's parameters and result are typed by the table alone
// (provider/exchange/operation-table.ts), not by a second hand-written declaration.
import * as assert from "node:assert/strict";
import { OPERATION_NAMES, type OperationName, type OperationParams, type OperationResult, type OperationWireParams } from "../../../provider/exchange/operation-table";
import { Secret } from "../../../provider/exchange/sealing";

describe("the operation table's types", () => {
  it("type each call's parameters and result from the table", () => {
    const ok: OperationParams<"Set-EkAsaCredential"> = { Server: "EX1", Noun: "ClientAccessService", Account: "CORP\\ASA$", Password: new Secret("p") };
    const wire: OperationWireParams<"Set-EkAsaCredential"> = { Server: "EX1", Noun: "ClientAccessService", Account: "CORP\\ASA$", Password: { sealed: "AAAA" } };
    // @ts-expect-error a noun the table does not allow
    const badNoun: OperationParams<"Get-EkServerState"> = { Server: "EX1", Noun: "Mailbox" };
    // @ts-expect-error a secret passed as plain text
    const plain: OperationParams<"Test-EkAsaCredential"> = { Server: "EX1", Noun: "ClientAccessServer", Password: "p" };
    // @ts-expect-error a parameter the operation does not have
    const extra: OperationParams<"Get-EkServerInfo"> = { Servers: ["EX1"], Identity: "EX1" };
    // @ts-expect-error a required parameter missing
    const missing: OperationParams<"Set-EkAsaCredential"> = { Server: "EX1", Noun: "ClientAccessServer", Account: "CORP\\ASA$" };
    // @ts-expect-error a URL may be null
    const url = (result: OperationResult<"Get-EkServerState">): string => result.urls.owa.internalUrl;
    // @ts-expect-error no such operation
    const unknownOp: OperationName = "Remove-Mailbox";
    assert.ok([ok, wire, badNoun, plain, extra, missing, url, unknownOp].length > 0);
    assert.ok(OPERATION_NAMES.includes("Connect-EkExchange"));
  });
});
