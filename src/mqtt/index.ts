/**
 * MQTT bridge for Tvheadend, free of Node-RED: mirrors an HTSP session onto an MQTT broker with
 * Home Assistant discovery and runs allow-listed commands from the broker.
 */
export * from './types';
export * from './topics';
export * from './json';
export * from './state';
export * from './discovery';
export * from './commands';
export * from './broker-errors';
export * from './bridge';
