/**
 * The boundary between the engine (JSON, as plans and state hold it) and a typed kind. Specs and
 * recorded outputs are checked against the kind's shapes before the kind sees them; the outputs
 * it returns (also a PartialFailure's) are checked before the engine records them. A mismatch is
 * a ShapeError naming the resource and the field; nothing is recorded from a value that failed.
 */
import type { Diagnostic } from '../config/diagnostic.js';
import type { Address, JsonObject } from '../model/resource.js';
import {
  PartialFailure,
  type DiffResult,
  type KindContext,
  type KindContextBase,
  type ReadResult,
  type ResourceKind,
  type RunSetup,
  type RunShares,
} from './resource-kind.js';
import { jsonObjectShape, ShapeError, type Shape } from './shape.js';

const JSON_SPEC = jsonObjectShape('spec');
const JSON_OUTPUTS = jsonObjectShape('outputs');

export class CheckedKind<Spec extends JsonObject, Outputs extends JsonObject> implements ResourceKind {
  readonly kind: ResourceKind['kind'];
  readonly shapes = { spec: JSON_SPEC, outputs: JSON_OUTPUTS };
  private readonly spec: Shape<Spec>;
  private readonly outputs: Shape<Outputs>;

  constructor(readonly inner: ResourceKind<Spec, Outputs>) {
    this.kind = inner.kind;
    this.spec = inner.shapes.spec;
    this.outputs = inner.shapes.outputs;
  }

  check(address: Address, raw: JsonObject): Diagnostic[] {
    let spec: Spec;
    try {
      spec = this.spec.read(raw, address);
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      return [
        {
          severity: 'error',
          code: 'invalid-value',
          file: 'plan',
          line: 1,
          column: 1,
          path: e.field ? `${address}${e.field.replace(/\//g, '.')}` : address,
          message: e.message,
          fix: 'run `groundwork validate` and fix the resource in the stack file',
        },
      ];
    }
    return this.inner.check(address, spec);
  }

  /** Diff is not told the address: a ShapeError names the kind, and the planner puts the address in (ShapeError.at). */
  diff(old: JsonObject, next: JsonObject, oldOutputs: JsonObject): DiffResult {
    const where = `a ${this.kind}`;
    return this.inner.diff(
      this.spec.read(old, where),
      this.spec.read(next, where),
      this.outputs.read(oldOutputs, where),
    );
  }

  create(ctx: KindContext, address: Address, spec: JsonObject): Promise<JsonObject> {
    return this.recorded(address, () => this.inner.create(ctx, address, this.spec.read(spec, address)));
  }

  async read(ctx: KindContext, address: Address, spec: JsonObject, outputs: JsonObject): Promise<ReadResult> {
    const r = await this.inner.read(ctx, address, this.spec.read(spec, address), this.outputs.read(outputs, address));
    return {
      exists: r.exists,
      spec: this.spec.read(r.spec, address, 'write'),
      outputs: this.outputs.read(r.outputs, address, 'write'),
      drift: r.drift,
    };
  }

  update(ctx: KindContext, address: Address, old: JsonObject, next: JsonObject, outputs: JsonObject) {
    return this.recorded(address, () =>
      this.inner.update(
        ctx,
        address,
        this.spec.read(old, address),
        this.spec.read(next, address),
        this.outputs.read(outputs, address),
      ),
    );
  }

  delete(ctx: KindContext, address: Address, spec: JsonObject, outputs: JsonObject): Promise<void> {
    return this.inner.delete(ctx, address, this.spec.read(spec, address), this.outputs.read(outputs, address));
  }

  prepare(ctx: KindContextBase, setup: RunSetup): Promise<RunShares> {
    return this.inner.prepare ? this.inner.prepare(ctx, setup) : Promise.resolve({});
  }

  /** Outputs of a create or update, checked before the engine records them (a PartialFailure's too). */
  private async recorded(address: Address, step: () => Promise<Outputs>): Promise<JsonObject> {
    let out: Outputs;
    try {
      out = await step();
    } catch (e) {
      if (e instanceof PartialFailure)
        throw new PartialFailure(e.message, this.outputs.read(e.outputs, address, 'write'));
      throw e;
    }
    return this.outputs.read(out, address, 'write');
  }
}

/** The JSON-facing form of a typed kind, as the registry hands it to the engine. */
export function checked<Spec extends JsonObject, Outputs extends JsonObject>(
  kind: ResourceKind<Spec, Outputs>,
): CheckedKind<Spec, Outputs> {
  return new CheckedKind(kind);
}
