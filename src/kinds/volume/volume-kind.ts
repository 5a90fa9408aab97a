/**
 * `volume`: a directory with an owner and a mode. Deleting a volume removes the directory only
 * when it is empty; a directory with data is left in place (and said so), because losing a home
 * lab's data to a renamed key is worse than a stray directory.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from '../../config/diagnostic.js';
import { Type, type Static } from '@sinclair/typebox';
import type { Address } from '../../model/resource.js';
import { tryLookupUser } from '../../runtime/process/os-user.js';
import { diffByFields } from '../../model/field-diff.js';
import type { DiffResult, KindContext, ReadResult, ResourceKind } from '../resource-kind.js';
import { shape } from '../shape.js';

/** As model/build-model.ts records it: the mode normalised to four octal digits. */
export const VolumeSpecSchema = Type.Object({
  path: Type.String(),
  owner: Type.Union([Type.String(), Type.Null()]),
  mode: Type.String(),
});
type VolumeSpec = Static<typeof VolumeSpecSchema>;

export const VolumeOutputsSchema = Type.Object({
  path: Type.String(),
  uid: Type.Number(),
  gid: Type.Number(),
  /** Services running as a user may take over an undeclared owner (absent in state of older versions). */
  ownerDeclared: Type.Optional(Type.Boolean()),
});
type VolumeOutputs = Static<typeof VolumeOutputsSchema>;

export function volumePath(dir: string, spec: { path: string }): string {
  return path.resolve(dir, spec.path);
}

function resolveOwner(owner: string): { uid: number; gid: number } {
  const [u, g] = owner.split(':') as [string, string | undefined];
  const user = /^\d+$/.test(u) ? { uid: Number(u), gid: Number(u) } : tryLookupUser(u);
  if (!user) throw new Error(`owner \`${u}\` is not a user on this machine; create it, or use a numeric uid`);
  let gid = user.gid;
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const grp = tryLookupUser(g);
      if (!grp) throw new Error(`group \`${g}\` is not known on this machine`);
      gid = grp.gid;
    }
  }
  return { uid: user.uid, gid };
}

export class VolumeKind implements ResourceKind<VolumeSpec, VolumeOutputs> {
  readonly kind = 'volume' as const;
  readonly shapes = {
    spec: shape(VolumeSpecSchema, 'volume spec'),
    outputs: shape(VolumeOutputsSchema, 'volume outputs'),
  };

  check(): Diagnostic[] {
    return [];
  }

  diff(old: VolumeSpec, next: VolumeSpec): DiffResult {
    return diffByFields(old, next, ['path']);
  }

  async create(ctx: KindContext, _address: Address, spec: VolumeSpec): Promise<VolumeOutputs> {
    const dir = volumePath(ctx.dir, spec);
    const existed = existsSync(dir);
    if (existed && !statSync(dir).isDirectory())
      throw new Error(`${dir} exists and is not a directory; move it away or choose another path`);
    mkdirSync(dir, { recursive: true });
    try {
      this.converge(dir, spec);
    } catch (e) {
      if (!existed) {
        try {
          rmdirSync(dir);
        } catch {
          /* keep */
        }
      }
      throw e;
    }
    return this.outputs(dir, spec);
  }

  private converge(dir: string, spec: VolumeSpec): void {
    chmodSync(dir, parseInt(spec.mode, 8));
    if (spec.owner) {
      const { uid, gid } = resolveOwner(spec.owner);
      const st = statSync(dir);
      if (st.uid !== uid || st.gid !== gid) {
        if (process.getuid?.() !== 0)
          throw new Error(`setting the owner of ${dir} to ${spec.owner} needs root; run as root or remove \`owner\``);
        chownSync(dir, uid, gid);
      }
    }
  }

  private outputs(dir: string, spec: VolumeSpec): VolumeOutputs {
    const st = statSync(dir);
    // ownerDeclared: services running as a user may take over an undeclared owner.
    return { path: dir, uid: st.uid, gid: st.gid, ownerDeclared: spec.owner !== null };
  }

  async read(
    ctx: KindContext,
    _address: Address,
    spec: VolumeSpec,
    outputs: VolumeOutputs,
  ): Promise<ReadResult<VolumeSpec, VolumeOutputs>> {
    const dir = volumePath(ctx.dir, spec);
    if (!existsSync(dir)) return { exists: false, spec, outputs, drift: [`${dir} no longer exists`] };
    const st = statSync(dir);
    const mode = `0${(st.mode & 0o777).toString(8).padStart(3, '0')}`;
    const drift: string[] = [];
    const observed: VolumeSpec = { ...spec };
    if (mode !== spec.mode) {
      drift.push(`mode is ${mode}, not ${spec.mode}`);
      observed.mode = mode;
    }
    if (spec.owner) {
      try {
        const want = resolveOwner(spec.owner);
        if (want.uid !== st.uid || want.gid !== st.gid) {
          drift.push(`owner is ${st.uid}:${st.gid}, not ${spec.owner}`);
          observed.owner = `${st.uid}:${st.gid}`;
        }
      } catch {
        /* owner unknown now; update will say so */
      }
    }
    return { exists: true, spec: observed, outputs: this.outputs(dir, spec), drift };
  }

  async update(ctx: KindContext, _address: Address, _old: VolumeSpec, spec: VolumeSpec): Promise<VolumeOutputs> {
    const dir = volumePath(ctx.dir, spec);
    mkdirSync(dir, { recursive: true });
    this.converge(dir, spec);
    return this.outputs(dir, spec);
  }

  async delete(ctx: KindContext, address: Address, spec: VolumeSpec): Promise<void> {
    const dir = volumePath(ctx.dir, spec);
    if (!existsSync(dir)) return;
    if (readdirSync(dir).length > 0) {
      ctx.progress(address, `left ${dir} in place: it is not empty`);
      return;
    }
    rmdirSync(dir);
  }
}
