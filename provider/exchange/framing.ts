// Framing: how one script line sent to a long-lived PowerShell process (`-Command -`, one statement
// per stdin line) gets its answer back. Before and after the line we send
//   [Console]::Error.WriteLine("<id>")
//   [Console]::Out.WriteLine("<id>")
// with a fresh random id, so each of stdout and stderr carries the id twice around what the line
// printed. The answer is complete when both streams have shown the id twice; anything the line
// wrote to stderr means it failed. This is the protocol node-powershell 5 speaks (the release this
// package used before it spawned the shell itself; see ARCHITECTURE.md, "The PowerShell process"),
// kept unchanged so that PowerShell 5.1, 7 and the stand-in see exactly the same text as before.
import { randomBytes } from "node:crypto";
import { EOL } from "node:os";

const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A fresh 16-character id: letters and digits only, so it is safe as script text. */
export function newFrameId(): string {
  return [...randomBytes(16)].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join("");
}

/** What goes to stdin for one script line. */
export function framedScript(script: string, id: string): string {
  const marks = [`[Console]::Error.WriteLine("${id}")`, `[Console]::Out.WriteLine("${id}")`];
  return [...marks, script, ...marks].map((l) => l + EOL).join("");
}

/** Collects one stream's text until the id has appeared twice; what lies between is the answer. */
class StreamFrame {
  private text = "";
  constructor(private readonly id: string) {}

  push(chunk: string): void {
    this.text += chunk;
  }

  /** The text between the first and second id, trimmed; undefined until both have arrived. */
  body(): string | undefined {
    const first = this.text.indexOf(this.id);
    if (first === -1) return undefined;
    const second = this.text.indexOf(this.id, first + this.id.length);
    if (second === -1) return undefined;
    return this.text.slice(first + this.id.length, second).trim();
  }
}

export interface FrameAnswer {
  stdout: string;
  stderr: string;
}

/** Reads the answer to one framed line from the process's stdout and stderr. */
export class FrameReader {
  private readonly out: StreamFrame;
  private readonly err: StreamFrame;

  constructor(id: string) {
    this.out = new StreamFrame(id);
    this.err = new StreamFrame(id);
  }

  push(stream: "stdout" | "stderr", chunk: string): void {
    (stream === "stdout" ? this.out : this.err).push(chunk);
  }

  /** Both streams' answers once complete, else undefined. */
  answer(): FrameAnswer | undefined {
    const stdout = this.out.body();
    const stderr = this.err.body();
    return stdout === undefined || stderr === undefined ? undefined : { stdout, stderr };
  }
}
