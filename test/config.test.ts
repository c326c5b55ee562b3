import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      archivalDaysThreshold: 90,
      batchSize: 100,
      apiHost: '0.0.0.0',
      apiPort: 8000,
      logLevel: 'info',
    });
    expect(config.dataDir).toMatch(/\/data$/);
  });

  it('reads and coerces the variables', () => {
    const config = loadConfig({
      ARCHIVAL_DAYS_THRESHOLD: '30',
      BATCH_SIZE: '500',
      API_PORT: '0',
      DATA_DIR: '/tmp/x',
    });
    expect(config).toMatchObject({
      archivalDaysThreshold: 30,
      batchSize: 500,
      apiPort: 0,
      dataDir: '/tmp/x',
    });
  });

  it('names every bad variable in one message', () => {
    let message = '';
    try {
      loadConfig({ BATCH_SIZE: '0', API_PORT: 'eighty', LOG_LEVEL: 'loud' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain('BATCH_SIZE');
    expect(message).toContain('API_PORT');
    expect(message).toContain('LOG_LEVEL');
  });

  it('refuses Azure settings instead of silently using the embedded stores', () => {
    expect(() => loadConfig({ COSMOS_ENDPOINT: 'https://x.documents.azure.com' })).toThrow(/COSMOS_ENDPOINT/);
  });
});
