// What central announces in-process as it works: every signal it stored, every finding it raised,
// every agent record and assets payload that changed. The console's live view and the SIEM
// output's wake-up listen here; the store stays the source of truth (a listener that missed an
// event reads the store).
import { EventEmitter } from 'node:events';
import type { AgentRecord, AssetsRecord, StoredFinding, StoredSignal } from './store/types.js';

export interface CentralFeedEvents {
  signal: [StoredSignal];
  finding: [StoredFinding];
  agent: [AgentRecord];
  assets: [AssetsRecord];
}

export class CentralFeed extends EventEmitter<CentralFeedEvents> {
  constructor() {
    super();
    // The console holds one listener per open browser; the default limit of 10 is not a leak here.
    this.setMaxListeners(0);
  }
}
