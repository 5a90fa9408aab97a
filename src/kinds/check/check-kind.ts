/**
 * `check`: a check the daemon runs (src/observe/checks). Applying one records it; the daemon's
 * runner runs what state holds. A push check gets its token here: state keeps only the token's
 * hash, the URL is shown once in the apply's progress (to whoever applies; never logged by the
 * daemon), and `groundwork checks --new-push-url NAME` makes a new one later.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject } from '../../model/resource.js';
import { diffByFields } from '../../model/field-diff.js';
import { parseCheckSpec } from '../../observe/checks/check-spec.js';
import { newPushToken, pushPath, pushTokenHash } from '../../observe/checks/push-token.js';
import { errorMessage } from '../../util/error-message.js';
import type { DiffResult, KindContext, ReadResult, ResourceKind } from '../resource-kind.js';
import { jsonObjectShape, shape } from '../shape.js';

/** A push check keeps its token's hash (never the token); other checks record nothing. */
export const CheckOutputsSchema = Type.Object({ token_hash: Type.Optional(Type.String()) });
type CheckOutputs = Static<typeof CheckOutputsSchema>;

/** The spec's own check is parseCheckSpec (observe/checks), which `check` runs. */
export class CheckKind implements ResourceKind<JsonObject, CheckOutputs> {
  readonly kind = 'check' as const;
  readonly shapes = { spec: jsonObjectShape('check spec'), outputs: shape(CheckOutputsSchema, 'check outputs') };

  check(address: Address, spec: JsonObject): Diagnostic[] {
    try {
      parseCheckSpec(address.slice('check.'.length), spec);
      return [];
    } catch (e) {
      return [
        {
          severity: 'error',
          code: 'invalid-value',
          file: 'plan',
          line: 1,
          column: 1,
          path: address,
          message: errorMessage(e),
          fix: 'run `groundwork validate` and fix the check in the stack file',
        },
      ];
    }
  }

  diff(old: JsonObject, next: JsonObject): DiffResult {
    // Another type is another check (its status and push token mean nothing for the new one).
    return diffByFields(old, next, ['type']);
  }

  async create(ctx: KindContext, address: Address, spec: JsonObject): Promise<CheckOutputs> {
    parseCheckSpec(address.slice('check.'.length), spec);
    if (spec.type !== 'push') return {};
    const token = newPushToken();
    ctx.progress(
      address,
      `push URL (shown once): GET or POST ${pushPath(token)} on the daemon's address; \`groundwork checks --new-push-url ${address.slice('check.'.length)}\` makes a new one`,
    );
    return { token_hash: pushTokenHash(token) };
  }

  async read(
    _ctx: KindContext,
    _a: Address,
    spec: JsonObject,
    outputs: CheckOutputs,
  ): Promise<ReadResult<JsonObject, CheckOutputs>> {
    return { exists: true, spec, outputs, drift: [] };
  }

  async update(_ctx: KindContext, address: Address, _old: JsonObject, next: JsonObject, outputs: CheckOutputs) {
    parseCheckSpec(address.slice('check.'.length), next);
    // The token and the last status stay: a changed interval is the same check.
    return { ...outputs };
  }

  async delete(): Promise<void> {
    /* nothing outside state */
  }
}
