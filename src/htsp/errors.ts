import { HtsmsgError, type HtsmsgMap } from './codec';

/**
 * - `noaccess`: the server refused for missing rights (also after the one on-demand re-auth).
 * - `auth-failed`: the credentials were refused (wrong user or password).
 * - `server`: the server answered with an `error` text.
 * - `timeout`: no answer in time (connect, request or liveness ping).
 * - `disconnected`: the socket is not connected or went away with the request pending.
 * - `protocol`: malformed or unexpected bytes from the server.
 * - `bad-input`: the caller passed something that cannot be sent.
 */
export type HtspErrorCode =
  | 'noaccess'
  | 'auth-failed'
  | 'server'
  | 'timeout'
  | 'disconnected'
  | 'protocol'
  | 'bad-input';

export interface HtspErrorDetails {
  method?: string;
  reply?: HtsmsgMap;
  cause?: unknown;
}

export class HtspError extends Error {
  readonly code: HtspErrorCode;
  readonly method: string | undefined;
  readonly reply: HtsmsgMap | undefined;
  constructor(code: HtspErrorCode, message: string, details: HtspErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'HtspError';
    this.code = code;
    this.method = details.method;
    this.reply = details.reply;
  }

  toJSON(): { name: string; code: HtspErrorCode; message: string; method?: string } {
    return { name: this.name, code: this.code, message: this.message, ...(this.method ? { method: this.method } : {}) };
  }
}

export function isHtspError(err: unknown): err is HtspError {
  return err instanceof HtspError;
}

/**
 * The codes a caller of the library can act on. `auth-failed` reads as `noaccess` (the request was
 * refused for who we are) and `protocol` as `disconnected` (a protocol error ends the connection).
 */
export type CallerErrorCode = 'noaccess' | 'server' | 'timeout' | 'disconnected' | 'bad-input';

export const CALLER_ERROR_CODES: readonly CallerErrorCode[] = ['noaccess', 'server', 'timeout', 'disconnected', 'bad-input'];

/** What a failed call means for its caller; anything that is not the library's own error is `server`. */
export function callerErrorCode(err: unknown): CallerErrorCode {
  if (err instanceof HtsmsgError) return 'bad-input'; // fields that cannot be sent as HTSMSG
  if (!(err instanceof HtspError)) return 'server';
  switch (err.code) {
    case 'noaccess':
    case 'auth-failed':
      return 'noaccess';
    case 'protocol':
    case 'disconnected':
      return 'disconnected';
    case 'timeout':
    case 'bad-input':
    case 'server':
      return err.code;
    default:
      return 'server'; // a code from outside the union (an error built elsewhere and cast)
  }
}
