export * from './config.js';
export * from './oidc.js';
export * from './id-token.js';
