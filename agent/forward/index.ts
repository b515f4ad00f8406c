// The forwarder's public surface.
export { Forwarder, type ForwarderOptions, type ForwarderStats, type ConnectFn } from './forwarder.js';
export { ForwardError, topicsFor, defaultClientId, type Topics } from './options.js';
export { type OnlineStatus, type OfflineStatus } from './status.js';
export { Backoff } from './backoff.js';
