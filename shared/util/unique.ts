/**
 * Names unique across processes without a random draw per name: a random prefix drawn once
 * per process, then a counter. Temp files, lock tokens and state versions need uniqueness,
 * not unpredictability, and `randomBytes` per name cost a synchronous trip into OpenSSL on
 * every state write (several per reconcile at fleet size).
 */
import { randomBytes } from 'node:crypto';

const PROCESS_PREFIX = randomBytes(6).toString('hex');
let counter = 0;

/** A string no other call in any process returns: 12 hex digits of this process, then a base-36 counter. */
export function uniqueId(): string {
  counter++;
  return `${PROCESS_PREFIX}${counter.toString(36)}`;
}
