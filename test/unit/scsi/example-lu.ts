// A logical unit description shared by the SCSI unit tests.
import type { LogicalUnitInfo } from '../../../src/scsi/spc/logical-unit.js';

export const exampleLu = (overrides: Partial<LogicalUnitInfo> = {}): LogicalUnitInfo => ({
  vendor: 'TANDEM',
  product: 'VIRTUAL-DISK',
  revision: '0.1',
  serial: 'abc123',
  naa: '3fedcba987654321',
  targetName: 'iqn.2026-11.local.tandem:v1',
  targetPortName: 'iqn.2026-11.local.tandem:v1,t,0x0001',
  relativeTargetPort: 1,
  blockSize: 512,
  blockCount: 2048n,
  thinProvisioned: true,
  writeProtected: false,
  writeCacheEnabled: false,
  ...overrides,
});

export const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
