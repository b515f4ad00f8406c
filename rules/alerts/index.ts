// Public surface of the alert stage.
export { AlertManager, alertKey, type AlertManagerOptions, type AlertStats, type DeviceRisk, type PersistedAlert, type RiskSnapshot } from './manager.js';
export { alertsConfigSchema, type AlertsConfig, type AlertsConfigInput } from './config.js';
export { RiskScorer, siteLevel, levelOf, SITE_LEVELS, SITE_LEVEL_COLORS, type SiteLevel } from './score.js';
export { TokenBucket } from './bucket.js';
