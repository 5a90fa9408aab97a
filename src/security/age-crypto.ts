/** Encryption of one secret value with age (the `age-encryption` package), armored so it sits in YAML. */
import { Decrypter, Encrypter, armor } from 'age-encryption';

/** Recipients are X25519 public keys (`age1…`) or hybrid post-quantum ones (`age1pq1…`). */
export const RECIPIENT_PATTERN = /^age1[0-9a-z]+$/;

export async function encryptValue(value: string, recipients: readonly string[]): Promise<string> {
  if (recipients.length === 0) throw new Error('no recipients to encrypt to');
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return armor.encode(await e.encrypt(value));
}

/** Throws when the identity is not one of the value's recipients (age: "no identity matched"). */
export async function decryptValue(armored: string, identity: string): Promise<string> {
  return decrypterFor(identity)(armored);
}

/** One decrypter for many values: the identity is parsed once (about a third of the cost of each value). */
export function decrypterFor(identity: string): (armored: string) => Promise<string> {
  const d = new Decrypter();
  d.addIdentity(identity);
  return (armored) => d.decrypt(armor.decode(armored), 'text');
}
