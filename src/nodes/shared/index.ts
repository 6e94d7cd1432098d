/**
 * Runtime helpers shared by every node of this package. A flow node typically does:
 *
 *   const link = linkServer(RED, node, config.server);         // status pushes, close handling
 *   onInput(node, async (msg, send) => {                        // errors → red ring + done(err)
 *     const { session } = requireLink(link);
 *     if (typeof msg.payload !== 'object') throw badInput('msg.payload must be an object');
 *     msg.payload = await session.call('getSysTime');
 *     send(msg);
 *   }, { link });
 */
export * from './types';
export * from './status';
export * from './errors';
export * from './link';
export * from './input';
export * from './timing';
