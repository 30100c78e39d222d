export * from './stats.js';
export * from './runs.js';
export * from './analysis.js';
export * from './plots.js';
export * from './write.js';
