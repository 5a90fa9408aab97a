/**
 * What a deploy request approves is a commit, not a branch name: `change request deploy web --ref
 * main` resolves `main` when it is requested and keeps both. Carrying the request out deploys that
 * commit even if `main` has moved since, because the approvers reviewed that code; a commit pushed
 * after the approval needs an approval of its own (a new request). The move is reported, not
 * hidden.
 */
import { execFileSync } from 'node:child_process';
import type { JsonObject } from '../model/resource.js';
import { ChangeRefused } from './change-refused.js';

/** A git ref as a deploy request pins it. */
export interface DeployPin {
  /** What the requester typed (`main`, `v1.4`, a commit). */
  ref: string;
  /** The full commit it named when requested: what is deployed. */
  commit: string;
}

function git(src: string, args: string[]): string {
  return execFileSync('git', ['-C', src, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** What `ref` names in the repository holding `src`, or why it names nothing (the deployer words its own errors). */
export type GitRefResolution =
  | { kind: 'commit'; commit: string; top: string }
  | { kind: 'no-git' }
  | { kind: 'not-a-repository' }
  | { kind: 'no-such-ref'; top: string };

/** Resolves `ref` in the repository holding `src` (git rev-parse); never throws for a missing git, repository or ref. */
export function resolveGitRef(src: string, ref: string): GitRefResolution {
  let top: string;
  try {
    top = git(src, ['rev-parse', '--show-toplevel']);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? { kind: 'no-git' } : { kind: 'not-a-repository' };
  }
  try {
    return { kind: 'commit', commit: git(src, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]), top };
  } catch {
    return { kind: 'no-such-ref', top };
  }
}

/** The commit `ref` names now in the repository holding `src`; ChangeRefused naming why not. */
export function pinRef(src: string, ref: string): DeployPin {
  const r = resolveGitRef(src, ref);
  switch (r.kind) {
    case 'commit':
      return { ref, commit: r.commit };
    case 'no-git':
      throw new ChangeRefused(
        'bad-request',
        `\`--ref ${ref}\` needs git, and git is not installed on this machine`,
        'install git (Debian: apt-get install git), or request the deploy without --ref to take the working tree',
      );
    case 'not-a-repository':
      throw new ChangeRefused(
        'bad-request',
        `\`--ref ${ref}\` names a git commit, but ${src} is not in a git repository`,
        'request the deploy without --ref, or make the folder a git repository (git init; git add -A; git commit)',
      );
    case 'no-such-ref':
      throw new ChangeRefused(
        'not-found',
        `\`${ref}\` is not a commit, branch or tag of the git repository at ${src}`,
        '`git log --oneline` and `git branch -a` list what can be deployed',
      );
  }
}

/** The commit `ref` names now, or undefined when it names none (a ref deleted since the request). */
export function tryResolveRef(src: string, ref: string): string | undefined {
  try {
    return git(src, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    return undefined;
  }
}

/** The pin a deploy request's subject carries; undefined for a deploy of the working tree. */
export function pinOfSubject(subject: JsonObject): DeployPin | undefined {
  const { ref, commit } = subject;
  return typeof ref === 'string' && typeof commit === 'string' ? { ref, commit } : undefined;
}

/**
 * The pin to carry out request `requestId` with: the request's own. `--ref` given again must name
 * the same ref as the request (ChangeRefused otherwise: the approval was for something else).
 */
export function pinForCarryOut(requestId: number, subject: JsonObject, ref: string | undefined): DeployPin | undefined {
  const pin = pinOfSubject(subject);
  const requested = typeof subject.ref === 'string' ? subject.ref : undefined;
  if (ref !== undefined && ref !== requested)
    throw new ChangeRefused(
      'refused',
      `change request #${requestId} approves a deploy of ${requested === undefined ? 'the working tree' : `\`${requested}\``}, not of \`${ref}\``,
      `carry it out without --ref (it deploys what was approved), or request a deploy of \`${ref}\` and have it approved`,
    );
  return pin;
}

/** A line for the deploy's progress when the ref moved on since the request was made. */
export function movedNote(requestId: number, pin: DeployPin, src: string): string | undefined {
  if (pin.commit.startsWith(pin.ref)) return undefined;
  const now = tryResolveRef(src, pin.ref);
  if (now === pin.commit) return undefined;
  return `\`${pin.ref}\` ${now ? `has moved to ${now.slice(0, 12)}` : 'no longer exists'} since change request #${requestId}; deploying the approved commit ${pin.commit.slice(0, 12)}`;
}

/** The pin of `ref` now, or undefined when there is no ref or it names no commit. */
export function tryPinRef(src: string, ref: string | undefined): DeployPin | undefined {
  if (ref === undefined) return undefined;
  const commit = tryResolveRef(src, ref);
  return commit === undefined ? undefined : { ref, commit };
}
