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
}

/** Defaults for anything missing or unusable, so that an old or hand-edited flow still deploys. */
export function dvrSettings(def: DvrNodeDef): DvrSettings {
  const action = (ACTIONS as readonly string[]).includes(def.action ?? '') ? (def.action as Action) : def.action === 'msg' ? '' : 'list';
  const list = (LIST_FILTERS as readonly string[]).includes(def.list ?? '') ? (def.list as ListFilter) : 'upcoming';
  return {
    action,
    channel: def.channel ?? '',
    channelType: def.channelType || 'str',
    configName: (def.configName ?? '').trim(),
    list,
  };
}
