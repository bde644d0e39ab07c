import multer from 'multer';
import type { createHashgate } from '../../src/hashgate';

describe('gate.storage() types', () => {
  it('accepts multer engines and gives multer an engine, without casts', () => {
    // Compile-time check (ts-jest type-checks this file); the gate is never started.
    const build = (gate: ReturnType<typeof createHashgate>): multer.Multer =>
      multer({ storage: gate.storage(multer.diskStorage({ destination: '/tmp' })) });
    expect(typeof build).toBe('function');
  });
});
