import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Bytes at the start of a file whose hash tells one file's content from another's. */
export const HEAD_BYTES = 4096;

/**
 * What an import checkpoint knows about the file it was taken from. A path alone is not enough:
 * the file at a path may be replaced (same inode when rewritten in place, so the head hash is
 * what tells them apart) and must then be imported from its start.
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  /** Size when the import started. */
  size: number;
  /** How many leading bytes `head` hashes: min(HEAD_BYTES, size). */
  headBytes: number;
  /** sha256 (hex) of the first `headBytes` bytes. */
  head: string;
}

export interface ImportCheckpoint extends FileIdentity {
  /** Byte offset just past the last stored line: where a re-run resumes. */
  offset: number;
}

/** An open file, for comparing its identity with a stored one. */
export class OpenedFile {
  private readonly fd: number;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
    const st = fstatSync(this.fd);
    this.dev = st.dev;
    this.ino = st.ino;
    this.size = st.size;
  }

  /** sha256 (hex) of the first `n` bytes (fewer if the file is shorter). */
  headHash(n: number): string {
    const buf = Buffer.alloc(Math.min(n, this.size));
    let got = 0;
    while (got < buf.length) {
      const r = readSync(this.fd, buf, got, buf.length - got, got);
      if (r === 0) break;
      got += r;
    }
    return createHash('sha256').update(buf.subarray(0, got)).digest('hex');
  }

  identity(): FileIdentity {
    const headBytes = Math.min(HEAD_BYTES, this.size);
    return { dev: this.dev, ino: this.ino, size: this.size, headBytes, head: this.headHash(headBytes) };
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function encodeCheckpoint(c: ImportCheckpoint): string {
  return JSON.stringify({ v: 2, ...c });
}

/**
 * Where to resume `file` given the checkpoint stored for its path: the stored offset when it is
 * the same file, unchanged or grown by appending (same device and inode, at least as long as
 * the stored offset, same first bytes); 0 when it is another file.
 */
export function resumeOffset(stored: string | undefined, file: OpenedFile): number {
  if (!stored) return 0;
  // Checkpoints written before files were identified: `<size at start>:<offset>`, trusted when the file did not shrink.
  const legacy = /^(\d+):(\d+)$/.exec(stored);
  if (legacy) return file.size >= Number(legacy[1]) ? Number(legacy[2]) : 0;
  let c: Partial<ImportCheckpoint>;
  try {
    c = JSON.parse(stored) as Partial<ImportCheckpoint>;
  } catch {
    return 0;
  }
  if (typeof c.offset !== 'number' || typeof c.headBytes !== 'number' || typeof c.head !== 'string') return 0;
  if (c.dev !== file.dev || c.ino !== file.ino) return 0;
  if (file.size < c.offset || file.size < c.headBytes) return 0;
  return file.headHash(c.headBytes) === c.head ? c.offset : 0;
}
