import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataDirectoryInUseError,
  type DataDirectoryLock,
  lockDataDirectory,
  lockPathFor,
  reserveDataDirectory,
} from './data-directory-lock';

describe('data directory lock', () => {
  let root: string;
  let dataDir: string;
  let lockFile: string;
  const locks: DataDirectoryLock[] = [];
  const children: ChildProcess[] = [];

  const take = () => {
    const lock = lockDataDirectory(dataDir);
    locks.push(lock);
    return lock;
  };
  const writeLock = (owner: Record<string, unknown> | string, path = lockFile) =>
    writeFileSync(path, typeof owner === 'string' ? owner : `${JSON.stringify(owner)}\n`);
  const lockOwner = () => JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; nonce: string };
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
  const liveChild = () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(child);
    return child.pid!;
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'data-dir-lock-'));
    dataDir = join(root, 'pglite');
    lockFile = lockPathFor(dataDir);
  });

  afterEach(() => {
    for (const lock of locks.splice(0)) lock.release();
    for (const child of children.splice(0)) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('is a file beside the directory holding our pid, removed on release', () => {
    expect(lockFile).toBe(`${dataDir}.lock`);
    const lock = take();
    expect(lockOwner().pid).toBe(process.pid);
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
    lock.release(); // twice is harmless
  });

  it('refuses while another live process holds it, naming the directory and the pid, and leaves its lock alone', () => {
    const pid = liveChild();
    writeLock({ pid, started: '2026-01-01T00:00:00.000Z', nonce: 'aaaa' });
    const before = readFileSync(lockFile, 'utf8');
    expect(take).toThrow(DataDirectoryInUseError);
    expect(take).toThrow(`The data directory ${dataDir} is in use by process ${pid} (started 2026-01-01T00:00:00.000Z).`);
    expect(readFileSync(lockFile, 'utf8')).toBe(before);
  });

  it('counts a pid it may not signal (EPERM) as alive', () => {
    const kill = jest.spyOn(process, 'kill').mockImplementation(() => {
      throw Object.assign(new Error('kill EPERM'), { code: 'EPERM' });
    });
    try {
      writeLock({ pid: 999_999, nonce: 'bbbb' });
      expect(take).toThrow(DataDirectoryInUseError);
    } finally {
      kill.mockRestore();
    }
  });

  it('takes over the lock of a dead process (kill -9) and leaves no takeover file behind', () => {
    writeLock({ pid: deadPid(), nonce: 'cccc' });
    take();
    expect(lockOwner().pid).toBe(process.pid);
    expect(readdirSync(root).sort()).toEqual(['pglite.lock']);
  });

  it('takes over a lock with our own pid that this process does not hold (a container restarted as pid 1)', () => {
    writeLock({ pid: process.pid, nonce: 'dddd' });
    take();
    expect(lockOwner()).toEqual(expect.objectContaining({ pid: process.pid }));
    expect(lockOwner().nonce).not.toBe('dddd');
  });

  it('takes over a live pid that started at another time than the owner (a recycled pid)', () => {
    if (!existsSync('/proc/self/stat')) return; // the start-time check needs /proc
    writeLock({ pid: liveChild(), nonce: 'eeee', ticks: '1' });
    take();
    expect(lockOwner().pid).toBe(process.pid);
  });

  it('takes over an empty or unreadable lock file', () => {
    for (const text of ['', '{"pid": 0}', 'null', `{"pid": ${deadPid()}, "nonce": "../../escape"}`]) {
      writeLock(text);
      take().release();
    }
    expect(readdirSync(root)).toEqual([]);
    expect(existsSync(join(root, '../escape'))).toBe(false);
  });

  it('takes over when the process taking over before died there too', () => {
    writeLock({ pid: deadPid(), nonce: 'ffff' });
    writeLock({ pid: deadPid(), nonce: '1111' }, `${lockFile}.takeover-ffff`);
    take();
    expect(lockOwner().pid).toBe(process.pid);
    expect(existsSync(`${lockFile}.takeover-ffff`)).toBe(false);
  });

  it('waits for a live process that is taking over right now, then reports it', () => {
    const pid = liveChild();
    writeLock({ pid: deadPid(), nonce: '2222' });
    writeLock({ pid, nonce: '3333' }, `${lockFile}.takeover-2222`);
    const started = Date.now();
    expect(take).toThrow(`in use by process ${pid}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it('refuses a second open in this process; an entry point reservation is used by the next open', () => {
    reserveDataDirectory(dataDir);
    reserveDataDirectory(dataDir); // idempotent
    const lock = take(); // the reservation
    expect(take).toThrow(`The data directory ${dataDir} is already open in this process (${process.pid}); close it first.`);
    expect(() => reserveDataDirectory(dataDir)).toThrow(DataDirectoryInUseError);
    lock.release();
    take();
  });

  it('of several processes starting at once on a stale lock, exactly one wins and the others name it', async () => {
    // Each child: wait for the same instant, try, hold a won lock a moment, exit (the exit hook releases).
    const script = `
      const { lockDataDirectory } = require(${JSON.stringify(require.resolve('./data-directory-lock.ts'))});
      const at = Number(process.argv[1]);
      while (Date.now() < at) {}
      try { lockDataDirectory(process.argv[2]); console.log('won ' + process.pid); setTimeout(() => {}, 1500); }
      catch (error) { console.log(error.name === 'DataDirectoryInUseError' ? 'lost ' + error.pid : 'error ' + error.message); }`;
    for (const stale of [true, false]) {
      if (stale) writeLock({ pid: deadPid(), nonce: '4444' });
      const at = Date.now() + 1500;
      const outputs = await Promise.all(
        Array.from(
          { length: 5 },
          () =>
            new Promise<string>((resolve) => {
              const child = spawn(process.execPath, ['-e', script, String(at), dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
              let out = '';
              child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
              child.once('exit', () => resolve(out.trim()));
            }),
        ),
      );
      const winners = outputs.filter((o) => o.startsWith('won '));
      expect({ stale, winners: winners.length }).toEqual({ stale, winners: 1 });
      const winner = winners[0].slice('won '.length);
      expect(outputs.filter((o) => !o.startsWith('won ')).sort()).toEqual(Array(4).fill(`lost ${winner}`));
      expect(readdirSync(root)).toEqual([]); // released on exit, nothing left behind
    }
  }, 30_000);
});
