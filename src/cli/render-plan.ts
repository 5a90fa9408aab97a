import type { Plan, PlanStep } from '../engine/plan.js';
import type { Json } from '../model/json.js';
import type { Style } from './style.js';
import { describeSecretChange, secretChangesOf } from '../security/secret-versions.js';

const SYMBOL: Record<PlanStep['action'], string> = { create: '+', update: '~', replace: '-/+', delete: '-' };

function show(v: Json | undefined): string {
  if (v === undefined) return '(none)';
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Human plan in the style of `terraform plan`. */
export function renderPlan(plan: Plan, style: Style): string {
  if (plan.steps.length === 0) {
    return `${style.green('No changes.')} The running stack matches the stack file (${plan.summary.unchanged} resource${plan.summary.unchanged === 1 ? '' : 's'}).\n`;
  }
  const colour = (a: PlanStep['action']) =>
    a === 'create' ? style.green : a === 'delete' ? style.red : a === 'update' ? style.yellow : style.red;
  const lines: string[] = ['Groundwork will perform the following actions:', ''];
  for (const s of plan.steps) {
    const c = colour(s.action);
    const why = s.action === 'replace' ? style.dim(` (replace because ${s.replaceBecause.join(', ')} changed)`) : '';
    lines.push(`  ${c(SYMBOL[s.action].padStart(3))} ${style.bold(s.address)}${why}`);
    const width = Math.min(28, Math.max(0, ...s.changes.map((ch) => ch.path.length)));
    for (const ch of s.changes) {
      // A secret's version, never its value (the spec holds none): "secret db-password: version 3 -> 4".
      if (s.kind === 'service' && ch.path.startsWith('secrets.') && s.action !== 'create' && s.action !== 'delete') {
        const v = (x: Json | undefined) => (typeof x === 'number' ? String(x) : 'environment/plaintext file');
        lines.push(
          `        ${style.yellow('~')} secret ${ch.path.slice('secrets.'.length)}: version ${v(ch.before)} -> ${v(ch.after)}`,
        );
        continue;
      }
      const name = ch.path.padEnd(width);
      if (s.action === 'create') lines.push(`        ${c('+')} ${name} = ${show(ch.after)}`);
      else if (s.action === 'delete') lines.push(`        ${c('-')} ${name} = ${show(ch.before)}`);
      else if (ch.before === undefined) lines.push(`        ${style.green('+')} ${name} = ${show(ch.after)}`);
      else if (ch.after === undefined) lines.push(`        ${style.red('-')} ${name} = ${show(ch.before)}`);
      else
        lines.push(
          `        ${style.yellow('~')} ${name} = ${show(ch.before)} -> ${show(ch.after)}${s.replaceBecause.includes(ch.path) ? style.red(' # forces replacement') : ''}`,
        );
    }
    lines.push('');
  }
  const secrets = secretChangesOf(plan.steps);
  if (secrets.length) {
    lines.push('Secrets:');
    for (const c of secrets) lines.push(`  ${describeSecretChange(c)}`);
    lines.push('');
  }
  lines.push(summaryLine(plan));
  return `${lines.join('\n')}\n`;
}

export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  return `Plan: ${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete, ${s.unchanged} unchanged.`;
}
