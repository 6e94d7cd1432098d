/**
 * Public surface of the HTSP library. Nothing here depends on Node-RED.
 */
export * from './codec';
export * from './framing';
export * from './errors';
export * from './messages';
export * from './connection';
export * from './cache';
export * from './subscription';
export * from './session';
export * from './server-status';
export * from './automations';
export * from './epg-format';
export * from './plain';
export * from './epg-source';
export * from './change-watch';
export * from './dvr';
export * from './redact';
export * from './util';
