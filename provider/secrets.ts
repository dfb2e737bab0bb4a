// The one redaction registry of a provider process: every password the process handles (bind
// passwords, the ASA's, the Exchange credential) is registered when it arrives, and every message
// that leaves as an error or a log line goes through `redact`. Both transports and the doctor use
// it, so a password echoed back by a directory, Exchange or a tool never reaches the admin's screen.
const secrets = new Set<string>();

/** Registers a value that must never appear in an error message or a log line. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Replaces every registered secret in `text` with [redacted]. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("[redacted]");
  return out;
}
