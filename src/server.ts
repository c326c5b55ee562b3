#!/usr/bin/env node
import { ConfigError, loadConfig } from './config.js';
import { serve } from './http/serve.js';
import { createLogger } from './logger.js';

try {
  const config = loadConfig(process.env);
  await serve(config, createLogger(config, 'stdout'));
} catch (error) {
  process.stderr.write(`billing-archive: ${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
}
