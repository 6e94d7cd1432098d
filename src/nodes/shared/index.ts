/**
 * Runtime helpers shared by every node of this package. A flow node typically does:
 *
 *   const link = linkServer(RED, node, config.server);         // status pushes, close handling
 *   onInput(node, async (msg, send) => {                        // errors → red ring + done(err)
 *     const { server, session } = requireLink(link);
 *     if (typeof msg.payload !== 'object') throw badInput('msg.payload must be an object');
 *     await whenReady(session, readyTimeoutMs(server));
 *     msg.payload = await session.call('getSysTime');
 *     send(msg);                                                // made JSON-safe on the way out
 *   }, { link });
 */
export * from './types';
export * from './status';
export * from './errors';
export * from './link';
export * from './input';
export * from './output';
export * from './timing';
export * from './values';
export * from './channel';
export * from './ready';
