/**
 * Removing secrets (passwords, user names) from texts that leave the process: error messages
 * for flows, MQTT replies, log lines. Shared so that every exit applies the same rule.
 */

/**
 * Removes each secret from `text`. Secrets of 4 characters or more are replaced wherever they
 * occur; shorter ones only where quoted (as the protocol library quotes user names), because
 * replacing a two-letter user name everywhere would garble ordinary words.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s) continue;
    out = s.length >= 4 ? out.split(s).join('***') : out.split(`"${s}"`).join('"***"');
  }
  return out;
}
