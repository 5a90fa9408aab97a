/** Public entry of the package: the typed stack form and the schema types. */
export { defineStack } from './config/define-stack.js';
export type { StackConfig, ServiceConfig, VolumeConfig, RouteConfig } from './config/schema.js';
