export { TvheadendSimulator } from './simulator';
export type { SimOptions, ExternalViewerSpec, ExternalViewer, SimConnectionInfo, SimRequestEvent } from './simulator';
export type {
  SimRights,
  SimUser,
  SimChannel,
  SimChannelSpec,
  SimTag,
  SimTagSpec,
  SimEvent,
  SimEventSpec,
  SimDvrEntry,
  SimDvrEntrySpec,
  SimAutorec,
  SimAutorecSpec,
  SimTimerec,
  SimTimerecSpec,
  SimProfile,
  SimDvrConfig,
  SimDiskSpace,
  DvrState,
  Genre,
  InputKind,
} from './data';
export { DEFAULT_USERS } from './data';
export { METHOD_NAMES, NOACCESS_DELAY_MS, recordingBytes } from './rpc';
