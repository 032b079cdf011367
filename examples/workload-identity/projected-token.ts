/**
 * A projected service-account token volume, written the way kubelet writes it (its AtomicWriter): the
 * token lives in a timestamped directory, `..data` is a symlink to the current one, and the file the
 * workload reads, `token`, is a symlink to `..data/token`. A rotation writes a new timestamped directory,
 * points `..data_tmp` at it and renames that over `..data` (one atomic step), then removes the old
 * directory. A reader that opens `token` therefore sees the whole old token or the whole new one, never
 * a mix, and a path it keeps (`<volume>/token`) always leads to the newest.
 */
import { lstat, mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

export class ProjectedTokenVolume {
  /** The directory of the volume (where it is mounted in the pod, e.g. /var/run/secrets/tokens). */
  readonly dir: string;
  /** The file the workload reads: give it to m2m-token as `clientAssertionFile`. */
  readonly path: string;

  constructor(dir: string, fileName = 'token') {
    this.dir = dir;
    this.path = join(dir, fileName);
  }

  /** Writes (or rotates to) `token`, atomically. */
  async write(token: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const previous = await readlink(join(this.dir, '..data')).catch(() => undefined);
    const stamp = new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '');
    const target = await mkdtemp(join(this.dir, `..${stamp}.`));
    await writeFile(join(target, basename(this.path)), token, { mode: 0o644 });
    const tmp = join(this.dir, '..data_tmp');
    await rm(tmp, { force: true });
    await symlink(basename(target), tmp);
    await rename(tmp, join(this.dir, '..data')); // the atomic swap
    const exists = await lstat(this.path).then(
      () => true,
      () => false,
    );
    if (!exists) await symlink(join('..data', basename(this.path)), this.path);
    if (previous !== undefined && previous !== basename(target)) {
      await rm(join(this.dir, previous), { recursive: true, force: true });
    }
  }
}
