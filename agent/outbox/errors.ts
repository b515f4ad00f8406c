// Turn SQLite/file-system errors into one sentence naming the outbox file and the fix.
import type { OutboxError } from './types.js';

export function describeSqliteError(e: unknown, file: string): { message: string; code: OutboxError['code'] } {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const text = err.message ?? String(e);
  const why = code === '' || text.startsWith(code) ? text : `${code}: ${text}`;
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return {
      code: 'outbox_corrupt',
      message:
        `outbox ${file} is corrupt or not an SQLite database (${why}); stop otsentry, move it aside ` +
        `(mv ${file} ${file}.corrupt) and start again: a new empty outbox is created and seq restarts at 1.`,
    };
  }
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_LOCKED') || code.startsWith('SQLITE_BUSY')) {
    return {
      code: 'outbox_locked',
      message: `outbox ${file} is in use by another process (${why}); stop the other otsentry, or give each agent its own data_dir.`,
    };
  }
  if (code === 'SQLITE_FULL') {
    return { code: 'outbox_unavailable', message: `outbox ${file}: the disk is full (${why}); free space or lower outbox.max_bytes.` };
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'EACCES' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'EPERM') {
    return {
      code: 'outbox_unavailable',
      message: `outbox ${file} cannot be opened for writing (${why}); check that its directory exists and is writable by the otsentry user.`,
    };
  }
  return { code: 'outbox_unavailable', message: `outbox ${file}: ${why}; check the file and its directory, or move the file aside.` };
}
