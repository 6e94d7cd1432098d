/**
 * The saved settings of a `tvheadend-dvr` node, read once at deploy.
 */
import type { NodeDef } from '../shared';
import { ACTIONS, LIST_FILTERS, type Action, type ListFilter } from './actions';

export const DVR_TYPE = 'tvheadend-dvr';

export interface DvrNodeDef extends NodeDef {
  server?: string;
  /** One of ACTIONS, or 'msg' for the message's choice. */
  action?: string;
  channel?: string;
  channelType?: string;
  configName?: string;
  list?: string;
}

export interface DvrSettings {
  /** '' = from the message. */
  action: Action | '';
  channel: string;
  channelType: string;
  configName: string;
  list: ListFilter;
  /**
   * A saved action this version does not know (a newer flow, a hand edit). Guessing one could
   * delete or record the wrong thing, so the node refuses every message instead.
   */
  unknownAction?: string;
}

/** The editor's default, for flows saved before the node had an action. */
const DEFAULT_ACTION: Action = 'list';

/** Defaults for anything missing, so that an old flow still deploys. */
export function dvrSettings(def: DvrNodeDef): DvrSettings {
  const saved = (def.action ?? '').trim();
  const known = (ACTIONS as readonly string[]).includes(saved);
  const action: Action | '' = known ? (saved as Action) : saved === 'msg' ? '' : DEFAULT_ACTION;
  const list = (LIST_FILTERS as readonly string[]).includes(def.list ?? '') ? (def.list as ListFilter) : 'upcoming';
  return {
    action,
    channel: def.channel ?? '',
    channelType: def.channelType || 'str',
    configName: (def.configName ?? '').trim(),
    list,
    ...(known || saved === '' || saved === 'msg' ? {} : { unknownAction: saved.slice(0, 64) }),
  };
}
