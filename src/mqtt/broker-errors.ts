/**
 * Which broker errors are worth retrying. Network trouble heals by itself and mqtt.js retries it;
 * refused credentials and TLS failures come back identically on every attempt, so retrying at
 * mqtt.js' pace only floods the broker's log (and may lock an account).
 */

/**
 * - `credentials`: the broker refused the user name or password (or wants some).
 * - `refused`: the broker refused the client for another lasting reason (client id, banned).
 * - `tls-untrusted`: the broker's certificate does not chain up to a trusted CA.
 * - `tls-expired`: the broker's certificate is outside its validity dates.
 * - `tls-hostname`: the broker's certificate is for another name.
 * - `tls`: the TLS handshake failed otherwise (a plain port, a client certificate refused, …).
 */
export type BrokerProblem = 'credentials' | 'refused' | 'tls-untrusted' | 'tls-expired' | 'tls-hostname' | 'tls';

export interface BrokerErrorInfo {
  problem: BrokerProblem;
  /** For people: what went wrong and where to look. */
  text: string;
}

/** CONNACK return codes (3.1.1) and reason codes (5) that name the credentials. */
const CREDENTIAL_CODES = new Set([4, 5, 134, 135, 140]);
/** Other refusals that the same CONNECT will meet again. */
const LASTING_REFUSALS = new Set([2, 133, 138]);

// Node's names for certificate verification failures (OpenSSL's X509_V_ERR_* without the prefix).
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'CERT_CHAIN_TOO_LONG',
]);
const DATES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD']);

/**
 * The lasting problem behind a broker error, or undefined for one that a retry may cure
 * (connection refused or reset, timeouts, a broker busy or shutting down).
 */
export function brokerProblem(err: { message: string; code?: unknown }, hasUsername: boolean): BrokerErrorInfo | undefined {
  const code = err.code;
  const msg = err.message;
  if (typeof code === 'number') {
    if (CREDENTIAL_CODES.has(code)) {
      return {
        problem: 'credentials',
        text: hasUsername
          ? `the broker refused the user name or password (${msg})`
          : `the broker wants a user name and password (${msg})`,
      };
    }
    if (LASTING_REFUSALS.has(code)) return { problem: 'refused', text: `the broker refused this client (${msg})` };
    return undefined;
  }
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED.has(code)) {
    return {
      problem: 'tls-untrusted',
      text: `the broker's TLS certificate is not trusted (${msg}): give the CA that signed it in the TLS settings`,
    };
  }
  if (DATES.has(code)) return { problem: 'tls-expired', text: `the broker's TLS certificate is expired or not valid yet (${msg})` };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      problem: 'tls-hostname',
      text: `the broker's TLS certificate is not for this host name (${msg}): use the name in the certificate, or set the server name in the TLS settings`,
    };
  }
  // ERR_SSL_WRONG_VERSION_NUMBER (mqtts:// to a plain port), ERR_SSL_TLSV1_ALERT_UNKNOWN_CA (our
  // client certificate refused), … EPROTO is what older Node versions said for these.
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') {
    return { problem: 'tls', text: `the TLS handshake with the broker failed (${msg})` };
  }
  return undefined;
}
