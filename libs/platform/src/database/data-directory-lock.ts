import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * One process per embedded data directory. PGlite takes no lock of its own: a second process on the
 * same directory starts and then overwrites the first one's pages (acknowledged commands lost, the
 * events table and its index disagreeing). So every on-disk open first takes `<dataDir>.lock`, a
 * file beside the directory holding the owner's pid, start time and a nonce.
 *
 * - It is created whole and atomically (written to a temporary file, then hard-linked into place:
 *   link fails if the name exists), so no process ever reads a half-written lock.
 * - A lock whose pid is not alive is stale (a `kill -9`), and so is one whose pid is alive but
 *   started at another time than the owner did (the pid was recycled; checked where /proc exists),
 *   and one with our own pid that this process does not hold (a container restarted as pid 1).
 *   EPERM from `kill(pid, 0)` counts as alive.
 * - A stale lock is replaced by the one process that creates `<lock>.takeover-<its nonce>` (the same
 *   rule, recursively, if that process died there); it checks under that file that the lock is still
 *   the stale one and renames its own over it. Of several processes starting at once exactly one
 *   wins; the others then find its live lock.
 * - Released by the database's close() and on process exit, only if the file is still ours.
 */
export class DataDirectoryInUseError extends Error {
  readonly dataDir: string;
  readonly pid: number;

  constructor(dataDir: string, owner: LockOwner) {
    super(
      owner.pid === process.pid
        ? `The data directory ${dataDir} is already open in this process (${owner.pid}); close it first.`
        : `The data directory ${dataDir} is in use by process ${owner.pid}${owner.started ? ` (started ${owner.started})` : ''}. ` +
            'Stop it first, or set DATABASE_URL (a PostgreSQL server) to run several processes.',
    );
    this.name = 'DataDirectoryInUseError';
    this.dataDir = dataDir;
    this.pid = owner.pid;
  }
}

export interface LockOwner {
  pid: number;
  /** When the owning process started (ISO), for the message. */
  started?: string;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat), to tell a recycled pid. */
  ticks?: string;
  nonce: string;
}

export interface DataDirectoryLock {
  readonly path: string;
  release(): void;
}

interface Held {
  path: string;
  text: string;
  owner: LockOwner;
  /** Taken by an entry point ahead of the open (reserveDataDirectory) and not yet used by one. */
  reserved: boolean;
}

const held = new Map<string, Held>();
let releaseOnExit = false;

export function lockPathFor(dataDir: string): string {
  return `${resolve(dataDir)}.lock`;
}

/**
 * Takes the lock now, for the database this process opens on `dataDir` next: entry points call it
 * before anything else starts, so a directory in use stops them with one line.
 */
export function reserveDataDirectory(dataDir: string): void {
  const path = lockPathFor(dataDir);
  if (held.get(path)?.reserved) return;
  acquire(dataDir, path).reserved = true;
}

/** The lock for opening `dataDir`: the one reserved ahead, or a new one. Throws if it is in use. */
export function lockDataDirectory(dataDir: string): DataDirectoryLock {
  const path = lockPathFor(dataDir);
  const reserved = held.get(path);
  const lock = reserved?.reserved ? reserved : acquire(dataDir, path);
  lock.reserved = false;
  return {
    path,
    release() {
      if (held.get(path) !== lock) return;
      held.delete(path);
      removeIfOurs(path, lock.text);
    },
  };
}

function acquire(dataDir: string, path: string): Held {
  const mine = held.get(path);
  if (mine) throw new DataDirectoryInUseError(resolve(dataDir), mine.owner);
  const owner: LockOwner = {
    pid: process.pid,
    started: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    ticks: startTicks(process.pid),
    nonce: randomBytes(8).toString('hex'),
  };
  const text = `${JSON.stringify(owner)}\n`;
  mkdirSync(dirname(path), { recursive: true });
  const holder = take(path, text);
  if (holder) throw new DataDirectoryInUseError(resolve(dataDir), holder);
  const lock = { path, text, owner, reserved: false };
  held.set(path, lock);
  if (!releaseOnExit) process.on('exit', releaseAll);
  releaseOnExit = true;
  return lock;
}

function releaseAll(): void {
  for (const lock of held.values()) removeIfOurs(lock.path, lock.text);
  held.clear();
}

/** Creates `path` holding `text` (null), or returns the live owner that holds it. */
function take(path: string, text: string): LockOwner | null {
  let busy: LockOwner | null = null;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (createExclusive(path, text)) return null;
    const found = read(path);
    if (found === null) continue; // released meanwhile
    const owner = parse(found);
    if (owner && isAlive(owner)) return owner;
    // Stale: only the process holding this generation's takeover file may replace it.
    const takeover = `${path}.takeover-${owner?.nonce ?? createHash('sha256').update(found).digest('hex').slice(0, 16)}`;
    busy = take(takeover, text);
    if (busy) {
      sleep(10); // another process is replacing it right now; its lock is there next time round
      continue;
    }
    try {
      if (read(path) !== found) continue; // replaced or released meanwhile: look again
      replace(path, text);
      return null;
    } finally {
      removeIfOurs(takeover, text);
    }
  }
  if (busy) return busy;
  throw new Error(`Could not take the lock ${path}`);
}

function isAlive(owner: LockOwner): boolean {
  if (owner.pid === process.pid) return [...held.values()].some((lock) => lock.owner.nonce === owner.nonce);
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const ticks = owner.ticks && startTicks(owner.pid);
  return !ticks || ticks === owner.ticks;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined without /proc. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .at(22 - 3);
  } catch {
    return undefined;
  }
}

function parse(text: string): LockOwner | null {
  try {
    const owner = JSON.parse(text) as LockOwner;
    // The nonce names the takeover file: nothing but hex digits.
    return Number.isSafeInteger(owner.pid) && owner.pid > 0 && /^[0-9a-f]{1,32}$/.test(String(owner.nonce)) ? owner : null;
  } catch {
    return null;
  }
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function temporary(path: string, text: string): string {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  writeFileSync(tmp, text, { flag: 'wx' });
  return tmp;
}

function createExclusive(path: string, text: string): boolean {
  const tmp = temporary(path, text);
  try {
    linkSync(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function replace(path: string, text: string): void {
  const tmp = temporary(path, text);
  try {
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

function removeIfOurs(path: string, text: string): void {
  try {
    if (read(path) === text) rmSync(path, { force: true });
  } catch {
    // best effort: a lock left behind is stale once we are gone
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
