// The optional parts of the central process (SIEM outputs, web console), started after the store
// and the feed are up and stopped before them. Each part registers its starter here; a starter
// returns undefined when its section of the config turns it off.
import type { Registry } from 'prom-client';
import type { Logger } from '../../protocols/log.js';
import type { CentralConfig } from './config/schema.js';
import type { CentralFeed } from './feed.js';
import type { CentralStore } from './store/types.js';
import { startSiem } from './siem/part.js';
import { startConsolePart } from './console/server.js';

export interface CentralContext {
  config: CentralConfig;
  /** folder of the config file: relative paths start here */
  baseDir: string;
  /** central.data_dir, resolved */
  dataDir: string;
  store: CentralStore;
  feed: CentralFeed;
  log: Logger;
  version: string;
  /** central's Prometheus registry when metrics_listen is set: parts add their metrics to it */
  metrics?: Registry;
}

export interface CentralPart {
  name: string;
  /** where users reach it (the console's address), for the startup log and the demo */
  url?: string;
  stop(): Promise<void>;
}

export type PartStarter = (ctx: CentralContext) => Promise<CentralPart | undefined>;

/** In start order; stopped in reverse. */
export const partStarters: PartStarter[] = [startSiem, startConsolePart];
